#include "protocols/tds/tds_wire.hpp"

#include <algorithm>
#include <array>

#include "protocols/utf8.hpp"

namespace vigil::tds {

namespace {
std::uint16_t le16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(b[at]) | (static_cast<std::uint8_t>(b[at + 1]) << 8));
}
std::uint32_t le32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(le16(b, at)) | (static_cast<std::uint32_t>(le16(b, at + 2)) << 16);
}
std::uint16_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(b[at]) << 8) | static_cast<std::uint8_t>(b[at + 1]));
}
template <class S>
void putLe16(S& s, std::size_t at, std::uint16_t v) {
  s[at] = static_cast<char>(v & 0xff);
  s[at + 1] = static_cast<char>(v >> 8);
}
template <class S>
void putLe32(S& s, std::size_t at, std::uint32_t v) {
  putLe16(s, at, static_cast<std::uint16_t>(v & 0xffff));
  putLe16(s, at + 2, static_cast<std::uint16_t>(v >> 16));
}
void appendLe16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
void appendLe32(std::string& s, std::uint32_t v) {
  appendLe16(s, static_cast<std::uint16_t>(v & 0xffff));
  appendLe16(s, static_cast<std::uint16_t>(v >> 16));
}
void appendBe16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
}  // namespace

std::optional<PacketHeader> readHeader(std::string_view bytes, std::string& why) {
  if (bytes.size() < kHeaderSize) {
    why = "packet header truncated";
    return std::nullopt;
  }
  PacketHeader h;
  h.type = static_cast<std::uint8_t>(bytes[0]);
  h.status = static_cast<std::uint8_t>(bytes[1]);
  h.length = be16(bytes, 2);
  h.spid = be16(bytes, 4);
  h.packet_id = static_cast<std::uint8_t>(bytes[6]);
  h.window = static_cast<std::uint8_t>(bytes[7]);
  if (h.length < kHeaderSize) {
    why = "packet length " + std::to_string(h.length) + " is shorter than its header";
    return std::nullopt;
  }
  if (h.length > kMaxPacketSize) {
    why = "packet length " + std::to_string(h.length) + " exceeds the TDS maximum";
    return std::nullopt;
  }
  return h;
}

std::string buildPackets(std::uint8_t type, std::string_view payload, std::size_t packet_size) {
  packet_size = std::clamp<std::size_t>(packet_size, 512, kMaxPacketSize);
  const std::size_t chunk = packet_size - kHeaderSize;
  std::string out;
  std::uint8_t id = 1;
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min(chunk, payload.size() - pos);
    const bool last = pos + n == payload.size();
    out += static_cast<char>(type);
    out += static_cast<char>(last ? kStatusEom : 0);
    appendBe16(out, static_cast<std::uint16_t>(n + kHeaderSize));
    appendBe16(out, 0);
    out += static_cast<char>(id++);
    out += '\0';
    out.append(payload.substr(pos, n));
    pos += n;
  } while (pos < payload.size());
  return out;
}

void PacketFramer::push(std::string_view bytes) {
  if (failed()) return;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

std::optional<std::string> PacketFramer::next() {
  if (failed() || buf_.size() - pos_ < kHeaderSize) return std::nullopt;
  std::string_view rest(buf_);
  rest.remove_prefix(pos_);
  auto h = readHeader(rest, error_);
  if (!h) {
    buf_.clear();
    pos_ = 0;
    return std::nullopt;
  }
  if (rest.size() < h->length) return std::nullopt;
  std::string packet(rest.substr(0, h->length));
  pos_ += h->length;
  return packet;
}

// ---------------------------------------------------------------- text

std::string utf16ToUtf8(std::string_view s) { return proto::utf16leToUtf8(s); }

std::string utf8ToUtf16(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    std::uint32_t cp = 0xFFFD;
    std::size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6 && i + 1 < s.size()) {
      cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
      n = 2;
    } else if ((c >> 4) == 14 && i + 2 < s.size()) {
      cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      n = 3;
    } else if ((c >> 3) == 30 && i + 3 < s.size()) {
      cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
      n = 4;
    }
    i += n;
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      cp -= 0x10000;
      appendLe16(out, static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
      appendLe16(out, static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      appendLe16(out, static_cast<std::uint16_t>(cp > 0xFFFF ? 0xFFFD : cp));
    }
  }
  return out;
}

// ---------------------------------------------------------------- PRELOGIN

std::optional<std::vector<PreloginOption>> parsePrelogin(std::string_view p, std::string& why) {
  std::vector<PreloginOption> out;
  std::size_t at = 0;
  while (true) {
    if (at >= p.size()) {
      why = "PRELOGIN option table not terminated";
      return std::nullopt;
    }
    const auto token = static_cast<std::uint8_t>(p[at]);
    if (token == 0xFF) break;
    if (at + 5 > p.size()) {
      why = "PRELOGIN option table truncated";
      return std::nullopt;
    }
    const std::size_t off = be16(p, at + 1), len = be16(p, at + 3);
    if (off + len > p.size()) {
      why = "PRELOGIN option " + std::to_string(token) + " points outside the message";
      return std::nullopt;
    }
    if (out.size() >= 32) {
      why = "too many PRELOGIN options";
      return std::nullopt;
    }
    out.push_back({token, std::string(p.substr(off, len))});
    at += 5;
  }
  return out;
}

std::string buildPrelogin(const std::vector<PreloginOption>& options) {
  std::string table, data;
  const std::size_t base = options.size() * 5 + 1;
  for (const auto& o : options) {
    table += static_cast<char>(o.token);
    appendBe16(table, static_cast<std::uint16_t>(base + data.size()));
    appendBe16(table, static_cast<std::uint16_t>(o.data.size()));
    data += o.data;
  }
  table += static_cast<char>(0xFF);
  return table + data;
}

std::optional<std::uint8_t> preloginEncryption(const std::vector<PreloginOption>& options) {
  for (const auto& o : options)
    if (o.token == kPreEncryption && !o.data.empty()) return static_cast<std::uint8_t>(o.data[0]);
  return std::nullopt;
}

// ---------------------------------------------------------------- LOGIN7

std::string obfuscatePassword(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) {
    const auto b = static_cast<std::uint8_t>(ch);
    ch = static_cast<char>((((b << 4) | (b >> 4)) & 0xFF) ^ 0xA5);
  }
  return out;
}

std::string deobfuscatePassword(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) {
    const auto b = static_cast<std::uint8_t>(static_cast<std::uint8_t>(ch) ^ 0xA5);
    ch = static_cast<char>(((b << 4) | (b >> 4)) & 0xFF);
  }
  return out;
}

namespace {
constexpr std::size_t kLoginFixed = 94;
// Offset fields of the LOGIN7 fixed part, in order; the length after each is in characters
// (UTF-16 units) except for Extension and SSPI, which count bytes.
enum Field { HostName, UserName, Password, AppName, ServerName, Extension, CltIntName, Language, Database, Sspi,
             AtchDbFile, ChangePassword, kFields };
constexpr std::array<std::size_t, kFields> kFieldAt = {36, 40, 44, 48, 52, 56, 60, 64, 68, 78, 82, 86};
constexpr bool countsBytes(int f) { return f == Extension || f == Sspi; }
constexpr std::uint8_t kFExtension = 0x10;  // OptionFlags3

bool fieldSpan(std::string_view p, int f, std::size_t& off, std::size_t& bytes, std::string& why) {
  off = le16(p, kFieldAt[f]);
  bytes = le16(p, kFieldAt[f] + 2) * (countsBytes(f) ? 1u : 2u);
  if (bytes > 0 && (off < kLoginFixed || off + bytes > p.size())) {
    why = "LOGIN7 field " + std::to_string(f) + " points outside the message";
    return false;
  }
  return true;
}

bool checkLogin(std::string_view p, std::string& why) {
  if (p.size() < kLoginFixed) {
    why = "LOGIN7 shorter than its fixed part";
    return false;
  }
  if (le32(p, 0) != p.size()) {
    why = "LOGIN7 length field does not match the message";
    return false;
  }
  for (int f = 0; f < kFields; ++f) {
    std::size_t off, bytes;
    if (!fieldSpan(p, f, off, bytes, why)) return false;
  }
  return true;
}

std::string fieldText(std::string_view p, int f) {
  const std::size_t off = le16(p, kFieldAt[f]), bytes = le16(p, kFieldAt[f] + 2) * 2u;
  return bytes == 0 ? std::string() : utf16ToUtf8(p.substr(off, bytes));
}

// Replaces field `f`'s data with `data` (UTF-16LE); every offset at or behind the replaced span
// (and the FeatureExt pointer's target) moves by the size difference.
bool splice(crypto::SecureString& s, int f, std::string_view data, std::string& why) {
  std::size_t off = le16(s, kFieldAt[f]);
  const std::size_t old_bytes = le16(s, kFieldAt[f] + 2) * 2u;
  // An empty field's offset is not checked by the parser: put its data at the end then.
  if (old_bytes == 0 && (off < kLoginFixed || off > s.size())) off = s.size();
  const std::size_t threshold = old_bytes == 0 ? off : off + old_bytes;
  const long delta = static_cast<long>(data.size()) - static_cast<long>(old_bytes);
  if (s.size() + data.size() - old_bytes > 0xFFFF) {
    why = "rewritten LOGIN7 would be too long";
    return false;
  }
  const bool has_ext = (static_cast<std::uint8_t>(s[27]) & kFExtension) != 0;
  if (has_ext && le16(s, kFieldAt[Extension] + 2) >= 4) {
    const std::size_t ptr_at = le16(s, kFieldAt[Extension]);  // checked by the parser
    const std::uint32_t target = le32(s, ptr_at);
    if (target >= threshold) putLe32(s, ptr_at, static_cast<std::uint32_t>(target + delta));
  }
  for (int g = 0; g < kFields; ++g) {
    if (g == f) continue;
    const std::size_t o = le16(s, kFieldAt[g]);
    if (o >= threshold && o >= kLoginFixed) putLe16(s, kFieldAt[g], static_cast<std::uint16_t>(o + delta));
  }
  s.replace(off, old_bytes, data.data(), data.size());
  putLe16(s, kFieldAt[f], static_cast<std::uint16_t>(off));
  putLe16(s, kFieldAt[f] + 2, static_cast<std::uint16_t>(data.size() / 2));
  putLe32(s, 0, static_cast<std::uint32_t>(s.size()));
  return true;
}
}  // namespace

std::optional<Login7> parseLogin7(std::string_view p, std::string& why) {
  if (!checkLogin(p, why)) return std::nullopt;
  Login7 l;
  l.tds_version = le32(p, 4);
  l.packet_size = le32(p, 8);
  l.integrated_security = (static_cast<std::uint8_t>(p[25]) & 0x80) != 0;
  l.host_name = fieldText(p, HostName);
  l.user_name = fieldText(p, UserName);
  l.app_name = fieldText(p, AppName);
  l.server_name = fieldText(p, ServerName);
  l.library_name = fieldText(p, CltIntName);
  l.database = fieldText(p, Database);
  const std::size_t off = le16(p, kFieldAt[Password]), bytes = le16(p, kFieldAt[Password] + 2) * 2u;
  // An empty field's offset is not checked (clients put anything there).
  std::string clear = bytes == 0 ? std::string() : deobfuscatePassword(p.substr(off, bytes));
  std::string utf8 = utf16ToUtf8(clear);
  l.password.assign(utf8.begin(), utf8.end());
  crypto::wipe(clear);
  crypto::wipe(utf8);
  return l;
}

std::optional<crypto::SecureString> rewriteLogin7(std::string_view p, std::string_view user, std::string_view password,
                                                  std::string& why) {
  if (!checkLogin(p, why)) return std::nullopt;
  crypto::SecureString s(p.begin(), p.end());
  std::string pw16 = utf8ToUtf16(password);
  std::string ob = obfuscatePassword(pw16);
  crypto::wipe(pw16);
  const std::string user16 = utf8ToUtf16(user);
  const bool ok = splice(s, UserName, user16, why) && splice(s, Password, ob, why);
  crypto::wipe(ob);
  if (!ok) return std::nullopt;
  // Overlapping fields (never sent by a real client) could make the splice damage another field:
  // the result must read back as exactly the credential.
  const std::string_view v(s.data(), s.size());
  if (!checkLogin(v, why) || fieldText(v, UserName) != utf16ToUtf8(user16)) {
    why = "LOGIN7 fields overlap";
    return std::nullopt;
  }
  {
    const std::size_t off = le16(v, kFieldAt[Password]), bytes = le16(v, kFieldAt[Password] + 2) * 2u;
    std::string clear = bytes == 0 ? std::string() : deobfuscatePassword(v.substr(off, bytes));
    std::string want = utf8ToUtf16(password);
    const bool same = clear == want;
    crypto::wipe(clear);
    crypto::wipe(want);
    if (!same) {
      why = "LOGIN7 fields overlap";
      return std::nullopt;
    }
  }
  return s;
}

// ---------------------------------------------------------------- tokens

std::string errorToken(std::int32_t number, std::uint8_t state, std::uint8_t severity, std::string_view message,
                       std::string_view server_name) {
  const std::string msg16 = utf8ToUtf16(message.substr(0, 2000));
  const std::string srv16 = utf8ToUtf16(server_name.substr(0, 120));
  std::string body;
  appendLe32(body, static_cast<std::uint32_t>(number));
  body += static_cast<char>(state);
  body += static_cast<char>(severity);
  appendLe16(body, static_cast<std::uint16_t>(msg16.size() / 2));
  body += msg16;
  body += static_cast<char>(srv16.size() / 2);
  body += srv16;
  body += '\0';  // procedure name
  appendLe32(body, 1);  // line number
  std::string t(1, static_cast<char>(kTokError));
  appendLe16(t, static_cast<std::uint16_t>(body.size()));
  return t + body;
}

std::string doneToken(std::uint8_t token, std::uint16_t status, std::uint64_t rows) {
  std::string t(1, static_cast<char>(token));
  appendLe16(t, status);
  appendLe16(t, 0);
  appendLe32(t, static_cast<std::uint32_t>(rows & 0xffffffffu));
  appendLe32(t, static_cast<std::uint32_t>(rows >> 32));
  return t;
}

std::string errorReply(std::int32_t number, std::string_view message, std::uint8_t severity) {
  return buildPackets(kTabularResult, errorToken(number, 1, severity, message, "vigil") + doneToken(kTokDone, kDoneError, 0));
}

}  // namespace vigil::tds
