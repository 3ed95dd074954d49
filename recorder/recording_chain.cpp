#include "recorder/recording_chain.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include <openssl/evp.h>

namespace vigil::recorder {
namespace {

std::error_code lastError() { return {errno, std::generic_category()}; }

std::error_code writeAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? lastError() : std::make_error_code(std::errc::io_error);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

bool parseU64(std::string_view s, std::uint64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

ChainHash chainNext(const ChainHash& prev, std::string_view chunk) {
  ChainHash out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, prev.data(), prev.size());
  EVP_DigestUpdate(ctx, chunk.data(), chunk.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

std::string chainHex(const ChainHash& h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (auto b : h) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string formatChunkEntry(const ChunkEntry& e) {
  return std::to_string(e.index) + " " + std::to_string(e.offset) + " " + std::to_string(e.length) + " " + e.hash +
         "\n";
}

std::vector<ChunkEntry> parseChunkIndex(std::string_view text, std::error_code& ec) {
  ec.clear();
  std::vector<ChunkEntry> out;
  std::size_t start = 0, nl;
  while ((nl = text.find('\n', start)) != std::string_view::npos) {
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    std::string_view f[4];
    std::size_t n = 0, p = 0;
    while (n < 4) {
      const std::size_t sp = line.find(' ', p);
      f[n++] = line.substr(p, sp == std::string_view::npos ? std::string_view::npos : sp - p);
      if (sp == std::string_view::npos) break;
      p = sp + 1;
    }
    ChunkEntry e;
    if (n != 4 || !parseU64(f[0], e.index) || !parseU64(f[1], e.offset) || !parseU64(f[2], e.length) ||
        f[3].size() != 64 || f[3].find_first_not_of("0123456789abcdef") != std::string_view::npos ||
        e.index != out.size()) {
      ec = std::make_error_code(std::errc::illegal_byte_sequence);
      return out;
    }
    e.hash = std::string(f[3]);
    out.push_back(std::move(e));
  }
  return out;  // anything after the last newline is a torn write: ignored
}

std::vector<ChunkEntry> readChunkIndex(const std::string& path, std::error_code& ec) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec = lastError();
    return {};
  }
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = lastError();
      ::close(fd);
      return {};
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parseChunkIndex(text, ec);
}

std::unique_ptr<ChunkChain> ChunkChain::create(const std::string& recording, std::error_code& ec) {
  ec.clear();
  const int fd = ::open(chunkIndexPath(recording).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    ec = lastError();
    return nullptr;
  }
  return std::unique_ptr<ChunkChain>(new ChunkChain(fd));
}

ChunkChain::~ChunkChain() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code ChunkChain::add(std::uint64_t offset, std::string_view bytes) {
  std::lock_guard lock(mu_);
  ChunkEntry e;
  e.index = entries_.size();
  e.offset = offset;
  e.length = bytes.size();
  last_ = chainNext(last_, bytes);
  e.hash = chainHex(last_);
  size_ = offset + bytes.size();
  auto ec = writeAll(fd_, formatChunkEntry(e));
  entries_.push_back(std::move(e));
  return ec;
}

std::error_code ChunkChain::sync() {
  std::lock_guard lock(mu_);
  return ::fdatasync(fd_) == 0 ? std::error_code() : lastError();
}

std::uint64_t ChunkChain::count() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}
std::uint64_t ChunkChain::fileSize() const {
  std::lock_guard lock(mu_);
  return size_;
}
ChainHash ChunkChain::last() const {
  std::lock_guard lock(mu_);
  return last_;
}
std::vector<ChunkEntry> ChunkChain::entries() const {
  std::lock_guard lock(mu_);
  return entries_;
}

ChainCheck checkChain(const std::string& recording, const std::vector<ChunkEntry>& entries, std::error_code& ec) {
  ec.clear();
  ChainCheck c;
  const int fd = ::open(recording.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec = lastError();
    return c;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ec = lastError();
    ::close(fd);
    return c;
  }
  c.file_size = static_cast<std::uint64_t>(st.st_size);
  ChainHash h = chainStart();
  std::uint64_t expect_offset = 0;
  std::string buf;
  for (const auto& e : entries) {
    auto bad = [&](ChainCheck::Status s, std::string why) {
      c.status = s;
      c.bad_chunk = e.index;
      c.bad_offset = e.offset;
      c.detail = std::move(why);
    };
    if (e.offset != expect_offset) {
      bad(ChainCheck::Status::Modified, "the chunk index is inconsistent at chunk " + std::to_string(e.index));
      break;
    }
    if (e.offset + e.length > c.file_size) {
      bad(ChainCheck::Status::Truncated, "the file ends at byte " + std::to_string(c.file_size) + ", inside or before chunk " +
                                            std::to_string(e.index));
      break;
    }
    buf.resize(e.length);
    std::size_t got = 0;
    while (got < e.length) {
      const ssize_t n = ::pread(fd, buf.data() + got, e.length - got, static_cast<off_t>(e.offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got != e.length) {
      bad(ChainCheck::Status::Truncated, "chunk " + std::to_string(e.index) + " cannot be read whole");
      break;
    }
    const ChainHash next = chainNext(h, buf);
    if (chainHex(next) != e.hash) {
      bad(ChainCheck::Status::Modified, "chunk " + std::to_string(e.index) + " does not match its hash");
      break;
    }
    h = next;
    ++c.chunks_ok;
    expect_offset = e.offset + e.length;
  }
  ::close(fd);
  c.final_hash = h;
  if (!c.bad_chunk && c.file_size > expect_offset) c.extra_bytes = c.file_size - expect_offset;
  return c;
}

}  // namespace vigil::recorder
