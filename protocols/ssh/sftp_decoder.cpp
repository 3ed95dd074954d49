// SFTP v3 stream decoder. Packet layout (draft-ietf-secsh-filexfer-02): uint32 length, byte type,
// then for every type but INIT/VERSION a uint32 request id and the type's fields.
#include "protocols/ssh/sftp_decoder.hpp"

#include <algorithm>
#include <vector>

namespace vigil::ssh {
namespace {

enum : std::uint8_t {
  kInit = 1, kVersion = 2, kOpen = 3, kClose = 4, kRead = 5, kWrite = 6, kLstat = 7, kFstat = 8,
  kSetstat = 9, kFsetstat = 10, kOpendir = 11, kReaddir = 12, kRemove = 13, kMkdir = 14,
  kRmdir = 15, kRealpath = 16, kStat = 17, kRename = 18, kReadlink = 19, kSymlink = 20,
  kStatus = 101, kHandle = 102, kData = 103, kName = 104, kAttrs = 105,
  kExtended = 200, kExtendedReply = 201,
};
constexpr std::uint32_t kFxOk = 0;
constexpr std::uint32_t kFxEof = 1;
// READ (0x01) alone means a download.
constexpr std::uint32_t kPflagWrite = 0x02, kPflagCreat = 0x08, kPflagTrunc = 0x10;
// The draft: handle strings MUST NOT be longer than 256 bytes.
constexpr std::size_t kMaxHandle = 256;
constexpr std::uint32_t kNoStatus = 0xffffffff;

/// Big-endian field reader over one packet; every read fails once the packet is short.
class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  bool u8(std::uint8_t& v) {
    if (p_.empty()) return false;
    v = static_cast<std::uint8_t>(p_[0]);
    p_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (p_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p_[i]);
    p_.remove_prefix(4);
    return true;
  }
  bool u64(std::uint64_t& v) {
    std::uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = (std::uint64_t{hi} << 32) | lo;
    return true;
  }
  bool str(std::string_view& s) {
    std::uint32_t n = 0;
    if (!u32(n) || n > p_.size()) return false;
    s = p_.substr(0, n);
    p_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view p_;
};

std::uint32_t be32(std::string_view b) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
  return v;
}

proto::FileOperation fileOp(std::string_view operation, std::string_view path, std::string_view path2 = {}) {
  proto::FileOperation op;
  op.operation = std::string(operation);
  op.path = std::string(path);
  op.path2 = std::string(path2);
  return op;
}

}  // namespace

SftpDecoder::SftpDecoder(Callbacks& cb) : cb_(cb) {}

void SftpDecoder::clientBytes(std::string_view bytes) { feed(client_buf_, bytes, true); }
void SftpDecoder::serverBytes(std::string_view bytes) { feed(server_buf_, bytes, false); }

// Whole packets are decoded straight from the caller's bytes; only a partial packet is copied,
// so feeding one byte at a time stays linear.
void SftpDecoder::feed(std::string& buf, std::string_view in, bool from_client) {
  auto packet = [&](std::string_view body) {
    if (from_client) clientPacket(body);
    else serverPacket(body);
  };
  auto lengthOk = [&](std::uint32_t len) {
    if (len == 0) malformed("sftp: empty packet");
    else if (len > kMaxPacketLength) malformed("sftp: packet longer than 256 KiB");
    return !inert_;
  };
  while (!inert_ && !in.empty()) {
    if (buf.empty()) {
      while (!inert_ && in.size() >= 4) {
        const std::uint32_t len = be32(in);
        if (!lengthOk(len)) return;
        if (in.size() - 4 < len) break;
        packet(in.substr(4, len));
        in.remove_prefix(4 + std::size_t{len});
      }
      if (!inert_) buf.assign(in);
      return;
    }
    if (buf.size() < 4) {
      const std::size_t take = std::min(4 - buf.size(), in.size());
      buf.append(in.substr(0, take));
      in.remove_prefix(take);
      if (buf.size() < 4 || !lengthOk(be32(buf))) continue;
    }
    const std::size_t total = 4 + std::size_t{be32(buf)};
    const std::size_t take = std::min(total - buf.size(), in.size());
    buf.append(in.substr(0, take));
    in.remove_prefix(take);
    if (buf.size() == total) {
      std::string body;
      body.swap(buf);
      packet(std::string_view(body).substr(4));
    }
  }
}

void SftpDecoder::clientPacket(std::string_view p) {
  Reader r(p);
  std::uint8_t type = 0;
  r.u8(type);
  if (!client_started_) {
    std::uint32_t version = 0;
    if (type != kInit || !r.u32(version)) return malformed("sftp: the client did not start with INIT");
    client_started_ = true;
    return;
  }
  std::uint32_t id = 0;
  if (type < kOpen || (type > kSymlink && type != kExtended))
    return malformed("sftp: unknown client packet type " + std::to_string(type));
  if (!r.u32(id)) return malformed("sftp: truncated request");

  std::string_view a, b;
  std::uint32_t u = 0;
  std::uint64_t off = 0;
  auto simple = [&](std::string_view operation, std::string_view path, std::string_view path2 = {}) {
    Pending pend;
    pend.kind = Kind::Simple;
    pend.op = fileOp(operation, path, path2);
    track(id, std::move(pend));
  };
  auto onHandle = [&](Kind kind, std::string_view handle, std::uint64_t length) {
    auto h = handles_.find(std::string(handle));
    if (h == handles_.end()) return;  // a directory handle or one opened before we looked
    Pending pend;
    pend.kind = kind;
    pend.transfer = h->second;
    pend.length = length;
    if (kind == Kind::Close) {
      // The handle may be reused by the server as soon as it is closed: forget it now.
      tracked_bytes_ -= h->first.size();
      handles_.erase(h);
    }
    track(id, std::move(pend));
  };
  switch (type) {
    case kOpen: {
      if (!r.str(a) || !r.u32(u)) return malformed("sftp: truncated OPEN");
      Pending pend;
      pend.kind = Kind::Open;
      const bool upload = (u & (kPflagWrite | kPflagCreat | kPflagTrunc)) != 0;
      pend.op = fileOp(upload ? "upload" : "download", a);
      return track(id, std::move(pend));
    }
    case kClose:
      if (!r.str(a)) return malformed("sftp: truncated CLOSE");
      return onHandle(Kind::Close, a, 0);
    case kRead:
      if (!r.str(a) || !r.u64(off) || !r.u32(u)) return malformed("sftp: truncated READ");
      return onHandle(Kind::Read, a, 0);
    case kWrite:
      if (!r.str(a) || !r.u64(off) || !r.str(b)) return malformed("sftp: truncated WRITE");
      return onHandle(Kind::Write, a, b.size());
    case kFsetstat: {
      if (!r.str(a)) return malformed("sftp: truncated FSETSTAT");
      auto h = handles_.find(std::string(a));
      if (h == handles_.end()) return;
      auto t = transfers_.find(h->second);
      if (t != transfers_.end()) simple("setstat", t->second.op.path);
      return;
    }
    case kRename:
      if (!r.str(a) || !r.str(b)) return malformed("sftp: truncated RENAME");
      return simple("rename", a, b);
    case kSymlink:
      // OpenSSH sends the link's target first and the new link second (reversed from the draft).
      if (!r.str(a) || !r.str(b)) return malformed("sftp: truncated SYMLINK");
      return simple("symlink", b, a);
    case kExtended: {
      if (!r.str(a)) return malformed("sftp: truncated EXTENDED");
      if (a == "posix-rename@openssh.com" || a == "hardlink@openssh.com") {
        std::string_view from, to;
        if (!r.str(from) || !r.str(to)) return malformed("sftp: truncated " + std::string(a));
        return simple(a == "hardlink@openssh.com" ? "hardlink" : "rename", from, to);
      }
      if (a == "lsetstat@openssh.com") {
        if (!r.str(b)) return malformed("sftp: truncated lsetstat@openssh.com");
        return simple("setstat", b);
      }
      return;  // statvfs, fsync, limits, expand-path...: nothing changes on disk we can name
    }
    default:
      // Every other request carries one path or handle first: REMOVE, MKDIR, RMDIR, SETSTAT
      // are reported; the stat/list/resolve family is read-only and ignored.
      if (!r.str(a)) return malformed("sftp: truncated request");
      if (type == kRemove) return simple("remove", a);
      if (type == kMkdir) return simple("mkdir", a);
      if (type == kRmdir) return simple("rmdir", a);
      if (type == kSetstat) return simple("setstat", a);
      return;
  }
}

void SftpDecoder::serverPacket(std::string_view p) {
  Reader r(p);
  std::uint8_t type = 0;
  r.u8(type);
  if (!server_started_) {
    std::uint32_t version = 0;
    if (type != kVersion || !r.u32(version)) return malformed("sftp: the server did not start with VERSION");
    if (version > 3) return malformed("sftp: protocol version " + std::to_string(version) + " is not decoded");
    server_started_ = true;
    return;
  }
  std::uint32_t id = 0;
  if (type < kStatus || (type > kAttrs && type != kExtendedReply))
    return malformed("sftp: unknown server packet type " + std::to_string(type));
  if (!r.u32(id)) return malformed("sftp: truncated reply");
  std::uint32_t status = kNoStatus;
  std::string_view s;
  switch (type) {
    case kStatus:
      if (!r.u32(status)) return malformed("sftp: truncated STATUS");
      break;
    case kHandle:
      if (!r.str(s)) return malformed("sftp: truncated HANDLE");
      if (s.size() > kMaxHandle) return malformed("sftp: handle longer than 256 bytes");
      break;
    case kData:
      if (!r.str(s)) return malformed("sftp: truncated DATA");
      break;
    default:
      break;  // NAME, ATTRS, EXTENDED_REPLY answer requests we do not track
  }
  reply(id, type, status, s.size(), s);
}

void SftpDecoder::reply(std::uint32_t id, std::uint8_t type, std::uint32_t status, std::uint64_t data_len,
                        std::string_view handle) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& pend = it->second;
  switch (pend.kind) {
    case Kind::Open:
      if (type == kHandle) {
        if (transfers_.size() >= kMaxTracked) return malformed("sftp: more than 4096 open files");
        const std::uint64_t t = pend.seq;
        // The path's weight moves from the request to the transfer.
        Transfer tr;
        tr.op = std::move(pend.op);
        pend.op = {};
        std::string key(handle);
        // A handle still mapped means its CLOSE was never seen: that transfer stays open.
        if (auto old = handles_.find(key); old != handles_.end()) {
          tracked_bytes_ -= old->first.size();
          handles_.erase(old);
        }
        tracked_bytes_ += key.size();
        handles_.emplace(std::move(key), t);
        transfers_.emplace(t, std::move(tr));
        pending_.erase(it);
      } else {
        pend.op.ok = false;
        cb_.onFileOperation(pend.op);
        dropPending(it);
      }
      return;
    case Kind::Read: {
      auto t = transfers_.find(pend.transfer);
      if (t != transfers_.end()) {
        if (type == kData) t->second.op.bytes += data_len;
        else if (type != kStatus || status != kFxEof) t->second.failed = true;
      }
      return dropPending(it);
    }
    case Kind::Write: {
      auto t = transfers_.find(pend.transfer);
      if (t != transfers_.end()) {
        if (type == kStatus && status == kFxOk) t->second.op.bytes += pend.length;
        else t->second.failed = true;
      }
      return dropPending(it);
    }
    case Kind::Close: {
      const std::uint64_t t = pend.transfer;
      dropPending(it);
      return endTransfer(t, type == kStatus && status == kFxOk);
    }
    case Kind::Simple:
      pend.op.ok = type == kStatus && status == kFxOk;
      cb_.onFileOperation(pend.op);
      return dropPending(it);
  }
}

void SftpDecoder::track(std::uint32_t id, Pending p) {
  if (auto old = pending_.find(id); old != pending_.end()) dropPending(old);  // id reused
  if (pending_.size() >= kMaxTracked) return malformed("sftp: more than 4096 outstanding requests");
  const std::size_t w = weight(p.op);
  if (tracked_bytes_ + w > kMaxTrackedBytes) return malformed("sftp: outstanding requests name too many bytes");
  tracked_bytes_ += w;
  p.seq = next_seq_++;
  pending_.emplace(id, std::move(p));
}

void SftpDecoder::dropPending(std::unordered_map<std::uint32_t, Pending>::iterator it) {
  tracked_bytes_ -= weight(it->second.op);
  pending_.erase(it);
}

void SftpDecoder::endTransfer(std::uint64_t transfer, bool ok) {
  auto t = transfers_.find(transfer);
  if (t == transfers_.end()) return;
  tracked_bytes_ -= weight(t->second.op);
  proto::FileOperation op = std::move(t->second.op);
  op.ok = ok && !t->second.failed;
  transfers_.erase(t);
  cb_.onFileOperation(op);
}

void SftpDecoder::finish() {
  if (finished_) return;
  finished_ = true;
  inert_ = true;
  // Everything still open, in request order: transfers never closed (or whose CLOSE got no
  // answer), OPENs never answered, and other requests never answered.
  std::map<std::uint64_t, proto::FileOperation> open;
  for (auto& [seq, tr] : transfers_) open.emplace(seq, std::move(tr.op));
  for (auto& [id, pend] : pending_)
    if (pend.kind == Kind::Open || pend.kind == Kind::Simple) open.emplace(pend.seq, std::move(pend.op));
  transfers_.clear();
  pending_.clear();
  handles_.clear();
  client_buf_.clear();
  server_buf_.clear();
  tracked_bytes_ = 0;
  for (auto& [seq, op] : open) {
    op.ok = false;
    cb_.onFileOperation(op);
  }
}

void SftpDecoder::malformed(std::string_view why) {
  if (inert_) return;
  inert_ = true;
  // Open transfers stay known so finish() still reports them (unfinished).
  client_buf_.clear();
  client_buf_.shrink_to_fit();
  server_buf_.clear();
  server_buf_.shrink_to_fit();
  cb_.onMalformed(why);
}

}  // namespace vigil::ssh
