#include "protocols/postgres/pg_wire.hpp"

#include <cstring>

namespace vigil::pg {
namespace {
std::uint32_t be32(const char* p) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(p[1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(p[2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(p[3]));
}
}  // namespace

bool Framer::next(Message& out) {
  if (!error_.empty()) return false;
  // Compact now and then so a long stream does not grow the buffer without bound.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 65536)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const std::size_t head = startup_ ? 4 : 5;
  if (buf_.size() - pos_ < head) return false;
  const char* p = buf_.data() + pos_;
  const char type = startup_ ? 0 : p[0];
  const std::uint32_t len = be32(p + (startup_ ? 0 : 1));
  if (startup_ && (len < 8 || len > 10000)) {
    error_ = "invalid startup packet length " + std::to_string(len);
    return false;
  }
  if (!startup_ && len < 4) {
    error_ = "invalid message length " + std::to_string(len) + " for message type '" + std::string(1, type) + "'";
    return false;
  }
  if (len > max_) {
    error_ = "message of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(max_);
    return false;
  }
  const std::size_t total = len + (startup_ ? 0 : 1);
  if (buf_.size() - pos_ < total) return false;
  out.type = type;
  out.raw = std::string_view(p, total);
  out.body = std::string_view(p + head, total - head);
  pos_ += total;
  return true;
}

void Framer::wipe() {
  for (auto& c : buf_) c = '\0';
  buf_.clear();
  pos_ = 0;
}

std::string Framer::takeRest() {
  std::string r = buf_.substr(pos_);
  buf_.clear();
  pos_ = 0;
  return r;
}

std::int32_t Reader::i32() {
  if (!ok_ || b_.size() - p_ < 4) return ok_ = false, 0;
  auto v = static_cast<std::int32_t>(be32(b_.data() + p_));
  p_ += 4;
  return v;
}
std::int16_t Reader::i16() {
  if (!ok_ || b_.size() - p_ < 2) return ok_ = false, 0;
  auto v = static_cast<std::int16_t>((static_cast<unsigned char>(b_[p_]) << 8) | static_cast<unsigned char>(b_[p_ + 1]));
  p_ += 2;
  return v;
}
std::uint8_t Reader::u8() {
  if (!ok_ || b_.size() - p_ < 1) return ok_ = false, 0;
  return static_cast<std::uint8_t>(b_[p_++]);
}
std::string_view Reader::cstr() {
  if (!ok_) return {};
  auto z = b_.find('\0', p_);
  if (z == std::string_view::npos) return ok_ = false, std::string_view();
  auto s = b_.substr(p_, z - p_);
  p_ = z + 1;
  return s;
}
std::string_view Reader::bytes(std::size_t n) {
  if (!ok_ || b_.size() - p_ < n) return ok_ = false, std::string_view();
  auto s = b_.substr(p_, n);
  p_ += n;
  return s;
}

std::string Startup::get(std::string_view key) const {
  for (const auto& [k, v] : params)
    if (k == key) return v;
  return {};
}

bool parseStartup(std::string_view body, Startup& out) {
  Reader r(body);
  out.version = static_cast<std::uint32_t>(r.i32());
  if (!r.ok() || out.version != kProtocol3) return false;
  while (r.ok() && r.left() > 0) {
    auto k = r.cstr();
    if (!r.ok()) return false;
    if (k.empty()) return r.left() == 0;  // the terminating NUL
    auto v = r.cstr();
    if (!r.ok()) return false;
    out.params.emplace_back(std::string(k), std::string(v));
  }
  return false;  // no terminator
}

void putI32(std::string& out, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  out += static_cast<char>(u >> 24);
  out += static_cast<char>(u >> 16);
  out += static_cast<char>(u >> 8);
  out += static_cast<char>(u);
}
void putI16(std::string& out, std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  out += static_cast<char>(u >> 8);
  out += static_cast<char>(u);
}

std::string message(char type, std::string_view body) {
  std::string m(1, type);
  putI32(m, static_cast<std::int32_t>(body.size() + 4));
  m.append(body);
  return m;
}

std::string startupMessage(const Startup& s) {
  std::string body;
  putI32(body, static_cast<std::int32_t>(kProtocol3));
  for (const auto& [k, v] : s.params) {
    body.append(k).push_back('\0');
    body.append(v).push_back('\0');
  }
  body.push_back('\0');
  std::string m;
  putI32(m, static_cast<std::int32_t>(body.size() + 4));
  return m + body;
}

std::string sslRequest() {
  std::string m;
  putI32(m, 8);
  putI32(m, static_cast<std::int32_t>(kSslRequestCode));
  return m;
}

std::string authRequest(std::int32_t code, std::string_view extra) {
  std::string body;
  putI32(body, code);
  body.append(extra);
  return message('R', body);
}

namespace {
std::string responseFields(std::string_view severity, std::string_view sqlstate, std::string_view msg) {
  std::string body;
  body.push_back('S');
  body.append(severity).push_back('\0');
  body.push_back('V');
  body.append(severity).push_back('\0');
  body.push_back('C');
  body.append(sqlstate).push_back('\0');
  body.push_back('M');
  // A NUL would end the field early on the client's side.
  for (char c : msg) body.push_back(c == '\0' ? ' ' : c);
  body.push_back('\0');
  body.push_back('\0');
  return body;
}
}  // namespace

std::string errorResponse(std::string_view severity, std::string_view sqlstate, std::string_view msg) {
  return message('E', responseFields(severity, sqlstate, msg));
}

std::string noticeResponse(std::string_view severity, std::string_view sqlstate, std::string_view msg) {
  return message('N', responseFields(severity, sqlstate, msg));
}

std::string readyForQuery(char status) { return message('Z', std::string_view(&status, 1)); }

ErrorFields parseError(std::string_view body) {
  ErrorFields f;
  Reader r(body);
  while (r.ok() && r.left() > 0) {
    const char code = static_cast<char>(r.u8());
    if (code == '\0') break;
    auto v = r.cstr();
    if (!r.ok()) break;
    if (code == 'M') f.message = std::string(v);
    else if (code == 'C') f.code = std::string(v);
    else if (code == 'V' || (code == 'S' && f.severity.empty())) f.severity = std::string(v);
  }
  return f;
}

}  // namespace vigil::pg
