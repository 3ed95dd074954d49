#include "protocols/postgres/pg_decoder.hpp"

#include <chrono>

namespace vigil::pg {
namespace {

void appendJsonString(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));  // invalid UTF-8 is replaced by the event writer's dump
    }
  }
  out.push_back('"');
}

std::string capped(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

}  // namespace

std::int64_t rowsOfTag(std::string_view tag) {
  auto sp = tag.rfind(' ');
  if (sp == std::string_view::npos || sp + 1 >= tag.size()) return -1;
  std::int64_t v = 0;
  for (char c : tag.substr(sp + 1)) {
    if (c < '0' || c > '9') return -1;
    if (v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

PgDecoder::PgDecoder(Callbacks& cb, Options options)
    : cb_(cb),
      opt_(std::move(options)),
      client_(!opt_.after_login, opt_.max_message),
      server_(false, opt_.max_message),
      client_startup_(!opt_.after_login),
      server_typed_(opt_.after_login) {
  if (!opt_.now_ms)
    opt_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
}

std::int64_t PgDecoder::now() const { return opt_.now_ms(); }

void PgDecoder::malformed(std::string_view why) {
  if (inert_) return;
  inert_ = true;
  cb_.onMalformed(why);
}

void PgDecoder::clientBytes(std::string_view bytes) {
  if (inert_) return;
  client_.append(bytes);
  Message m;
  while (!inert_ && client_.next(m)) {
    if (client_startup_) clientStartup(m);
    else clientMessage(m);
  }
  if (!inert_ && !client_.error().empty()) malformed("client: " + client_.error());
}

void PgDecoder::serverBytes(std::string_view bytes) {
  if (inert_) return;
  while (server_ssl_bytes_ > 0 && !bytes.empty()) {
    // The one-byte answer to SSLRequest / GSSENCRequest is not a message.
    if (bytes[0] != 'S' && bytes[0] != 'N' && bytes[0] != 'G')
      return malformed("server: unexpected answer to an encryption request");
    --server_ssl_bytes_;
    bytes.remove_prefix(1);
  }
  if (bytes.empty()) return;
  if (!server_typed_ && client_startup_) return malformed("server: data before the client's startup message");
  server_.append(bytes);
  Message m;
  while (!inert_ && server_.next(m)) serverMessage(m);
  if (!inert_ && !server_.error().empty()) malformed("server: " + server_.error());
}

void PgDecoder::clientStartup(const Message& m) {
  Reader r(m.body);
  const auto code = static_cast<std::uint32_t>(r.i32());
  if (code == kSslRequestCode || code == kGssEncRequestCode) {
    if (m.body.size() != 4) return malformed("client: SSLRequest with a wrong length");
    ++server_ssl_bytes_;
    if (code == kSslRequestCode) cb_.onSslRequest();
    return;
  }
  if (code == kCancelRequestCode) {
    const auto pid = r.i32();
    const auto key = r.i32();
    if (!r.ok() || r.left() != 0) return malformed("client: CancelRequest with a wrong length");
    cb_.onCancelRequest(pid, key);
    inert_ = true;  // a cancel connection carries nothing else
    return;
  }
  Startup s;
  if (!parseStartup(m.body, s)) return malformed("client: invalid StartupMessage (protocol " + std::to_string(code) + ")");
  client_startup_ = false;
  client_.setStartup(false);
  server_typed_ = true;
  cb_.onStartup(s);
}

std::string PgDecoder::parameters(Reader& r) {
  const int nformats = r.i16();
  if (!r.ok() || nformats < 0) return {};
  std::vector<std::int16_t> formats;
  for (int i = 0; i < nformats && r.ok(); ++i) formats.push_back(r.i16());
  const int n = r.i16();
  if (!r.ok() || n < 0) return {};
  if (n == 0) return "";
  std::string out = "[";
  bool truncated = false;
  for (int i = 0; i < n && r.ok(); ++i) {
    const std::int32_t len = r.i32();
    std::string_view v;
    if (len >= 0) v = r.bytes(static_cast<std::size_t>(len));
    else if (len != -1) return r.bytes(SIZE_MAX), std::string();  // forces !ok
    if (!r.ok()) return {};
    if (truncated) continue;
    if (i) out.push_back(',');
    const std::int16_t fmt = formats.empty() ? 0 : formats.size() == 1 ? formats[0] : i < static_cast<int>(formats.size()) ? formats[static_cast<std::size_t>(i)] : 0;
    if (len == -1) {
      out += "null";
    } else if (fmt == 0) {
      appendJsonString(out, capped(v, 1024));
    } else {
      static const char* hex = "0123456789abcdef";
      std::string h = "\\x";
      for (unsigned char c : v.substr(0, 512)) {
        h.push_back(hex[c >> 4]);
        h.push_back(hex[c & 15]);
      }
      appendJsonString(out, h);
    }
    if (out.size() > kMaxParametersJson) {
      out += ",\"...\"";
      truncated = true;
    }
  }
  out.push_back(']');
  return out;
}

void PgDecoder::clientMessage(const Message& m) {
  Reader r(m.body);
  auto queue = [&](SyncPoint& sp, std::string text, std::string kind, std::string params) {
    if (++queued_ > kMaxQueued) return malformed("client: too many statements waiting for an answer");
    Pending p;
    p.stmt.text = std::move(text);
    p.stmt.kind = std::move(kind);
    p.stmt.parameters = std::move(params);
    p.start_ms = now();
    sp.stmts.push_back(std::move(p));
  };
  switch (m.type) {
    case 'Q': {
      auto text = r.cstr();
      if (!r.ok()) return malformed("client: Query without its terminating NUL");
      if (!open_.stmts.empty()) {  // extended messages without a Sync before a Query
        syncs_.push_back(std::move(open_));
        open_ = SyncPoint{};
      }
      SyncPoint sp;
      sp.simple = true;
      queue(sp, capped(text, kMaxStatementText), "query", "");
      syncs_.push_back(std::move(sp));
      return;
    }
    case 'P': {
      auto name = r.cstr();
      auto text = r.cstr();
      const int ntypes = r.i16();
      if (ntypes >= 0) r.bytes(static_cast<std::size_t>(ntypes) * 4);
      if (!r.ok() || ntypes < 0) return malformed("client: malformed Parse");
      auto& slot = prepared_[std::string(name)];
      named_bytes_ -= std::min(named_bytes_, slot.size());
      slot = capped(text, kMaxStatementText);
      named_bytes_ += slot.size();
      if (prepared_.size() > kMaxNamed || named_bytes_ > kMaxNamedBytes)
        return malformed("client: too many prepared statements");
      return;
    }
    case 'B': {
      auto portal = r.cstr();
      auto stmt = r.cstr();
      if (!r.ok()) return malformed("client: malformed Bind");
      Portal p;
      auto it = prepared_.find(std::string(stmt));
      p.text = it == prepared_.end() ? "(unknown prepared statement '" + capped(stmt, 64) + "')" : it->second;
      p.parameters = parameters(r);
      if (!r.ok()) return malformed("client: malformed Bind parameters");
      auto& slot = portals_[std::string(portal)];
      named_bytes_ -= std::min(named_bytes_, slot.text.size() + slot.parameters.size());
      slot = std::move(p);
      named_bytes_ += slot.text.size() + slot.parameters.size();
      if (portals_.size() > kMaxNamed || named_bytes_ > kMaxNamedBytes) return malformed("client: too many portals");
      return;
    }
    case 'E': {
      auto portal = r.cstr();
      r.i32();
      if (!r.ok()) return malformed("client: malformed Execute");
      auto it = portals_.find(std::string(portal));
      if (it == portals_.end()) return queue(open_, "(unknown portal '" + capped(portal, 64) + "')", "extended", "");
      return queue(open_, it->second.text, "extended", it->second.parameters);
    }
    case 'S':  // Sync
      syncs_.push_back(std::move(open_));
      open_ = SyncPoint{};
      return;
    case 'C': {  // Close
      const char what = static_cast<char>(r.u8());
      auto name = r.cstr();
      if (!r.ok() || (what != 'S' && what != 'P')) return malformed("client: malformed Close");
      if (what == 'S') {
        auto it = prepared_.find(std::string(name));
        if (it != prepared_.end()) {
          named_bytes_ -= std::min(named_bytes_, it->second.size());
          prepared_.erase(it);
        }
      } else {
        auto it = portals_.find(std::string(name));
        if (it != portals_.end()) {
          named_bytes_ -= std::min(named_bytes_, it->second.text.size() + it->second.parameters.size());
          portals_.erase(it);
        }
      }
      return;
    }
    case 'D': case 'H': case 'X': case 'd': case 'c': case 'f': case 'F': case 'p':
      return;  // Describe, Flush, Terminate, COPY data/done/fail, FunctionCall, password/SASL (never read)
    default:
      return malformed(std::string("client: unknown message type 0x") + "0123456789abcdef"[(m.type >> 4) & 15] +
                       "0123456789abcdef"[m.type & 15]);
  }
}

PgDecoder::Pending* PgDecoder::current() {
  SyncPoint* sp = !syncs_.empty() ? &syncs_.front() : &open_;
  if (sp->simple) return sp->stmts.empty() ? nullptr : &sp->stmts.front();
  if (sp->failed || sp->next >= sp->stmts.size()) return nullptr;
  return &sp->stmts[sp->next];
}

void PgDecoder::report(Pending& p, std::string_view error) {
  p.stmt.duration_ms = std::max<std::int64_t>(0, now() - p.start_ms);
  p.stmt.error = std::string(error);
  if (p.stmt.rows < 0 && !p.any_tag && p.data_rows > 0) p.stmt.rows = p.data_rows;
  if (queued_ > 0) --queued_;
  cb_.onStatement(p.stmt);
}

void PgDecoder::serverMessage(const Message& m) {
  Reader r(m.body);
  SyncPoint* sp = !syncs_.empty() ? &syncs_.front() : &open_;
  Pending* cur = current();
  auto advance = [&](std::string_view error) {
    if (!cur || sp->simple) return;
    report(*cur, error);
    ++sp->next;
  };
  switch (m.type) {
    case 'R': {
      const auto code = r.i32();
      if (!r.ok()) return malformed("server: malformed authentication message");
      cb_.onAuthRequest(code);
      return;
    }
    case 'K': {
      const auto pid = r.i32();
      const auto key = r.i32();
      if (!r.ok()) return malformed("server: malformed BackendKeyData");
      cb_.onBackendKey(pid, key);
      return;
    }
    case 'C': {
      auto tag = r.cstr();
      if (!r.ok()) return malformed("server: malformed CommandComplete");
      if (!cur) return;
      const auto rows = rowsOfTag(tag);
      if (sp->simple) {
        // Several statements in one Query: the last tag, the rows summed.
        cur->stmt.command_tag = std::string(tag);
        if (rows >= 0) cur->stmt.rows = (cur->any_tag && cur->stmt.rows > 0 ? cur->stmt.rows : 0) + rows;
        cur->any_tag = true;
        return;
      }
      cur->stmt.command_tag = std::string(tag);
      cur->stmt.rows = rows;
      cur->any_tag = true;
      return advance("");
    }
    case 'I':  // EmptyQueryResponse
      if (cur && !sp->simple) {
        cur->stmt.rows = 0;
        return advance("");
      }
      return;
    case 's':  // PortalSuspended: the Execute's row limit was reached
      if (cur) cur->stmt.rows = cur->data_rows;
      return advance("");
    case 'D':
      if (cur) ++cur->data_rows;
      return;
    case 'G': case 'H': case 'W':  // COPY in / out / both
      if (cur) cur->stmt.kind = "copy";
      return;
    case 'E': {
      auto f = parseError(m.body);
      std::string err = f.code.empty() ? f.message : f.code + ": " + f.message;
      if (err.empty()) err = "error";
      if (!cur) return;
      if (sp->simple) {
        if (cur->stmt.error.empty()) cur->stmt.error = err;
        return;
      }
      advance(err);
      // The server skips every message up to the Sync: those Executes never ran.
      if (queued_ >= sp->stmts.size() - sp->next) queued_ -= sp->stmts.size() - sp->next;
      sp->failed = true;
      return;
    }
    case 'Z': {
      const char status = static_cast<char>(r.u8());
      if (!r.ok()) return malformed("server: malformed ReadyForQuery");
      if (!syncs_.empty()) {
        SyncPoint& front = syncs_.front();
        if (front.simple && !front.stmts.empty()) {
          std::string err = front.stmts.front().stmt.error;
          report(front.stmts.front(), err);
        } else if (!front.failed) {
          // Executes the server never answered (cannot happen with a conforming server).
          for (std::size_t i = front.next; i < front.stmts.size(); ++i)
            if (queued_ > 0) --queued_;
        }
        syncs_.pop_front();
      }
      cb_.onReady(status);
      return;
    }
    case 'S': case 'N': case 'A': case 'T': case '1': case '2': case '3': case 'n': case 't': case 'd': case 'c':
    case 'V': case 'v':
      return;  // ParameterStatus, Notice, Notification, RowDescription, Parse/Bind/CloseComplete, NoData,
               // ParameterDescription, COPY data/done, FunctionCallResponse, NegotiateProtocolVersion
    default:
      return malformed(std::string("server: unknown message type 0x") + "0123456789abcdef"[(m.type >> 4) & 15] +
                       "0123456789abcdef"[m.type & 15]);
  }
}

void PgDecoder::finish() {
  if (inert_) return;
  inert_ = true;
  auto flush = [&](SyncPoint& sp) {
    if (sp.simple) {
      for (auto& p : sp.stmts) report(p, "connection closed before the server answered");
      return;
    }
    if (sp.failed) return;
    for (std::size_t i = sp.next; i < sp.stmts.size(); ++i) report(sp.stmts[i], "connection closed before the server answered");
  };
  for (auto& sp : syncs_) flush(sp);
  flush(open_);
  syncs_.clear();
  open_ = SyncPoint{};
}

}  // namespace vigil::pg
