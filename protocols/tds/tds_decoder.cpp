#include "protocols/tds/tds_decoder.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace vigil::tds {

namespace {

// A bounds-checked little-endian reader; a short read sets `short_` and returns zeros.
struct Reader {
  std::string_view b;
  std::size_t pos = 0;
  bool short_ = false;

  bool has(std::size_t n) {
    if (short_ || b.size() - pos < n) {
      short_ = true;
      return false;
    }
    return true;
  }
  std::uint8_t u8() { return has(1) ? static_cast<std::uint8_t>(b[pos++]) : 0; }
  std::uint16_t u16() {
    if (!has(2)) return 0;
    const auto v = static_cast<std::uint16_t>(static_cast<std::uint8_t>(b[pos]) | (static_cast<std::uint8_t>(b[pos + 1]) << 8));
    pos += 2;
    return v;
  }
  std::uint32_t u32() {
    const std::uint32_t lo = u16();
    return lo | (static_cast<std::uint32_t>(u16()) << 16);
  }
  std::uint64_t u64() {
    const std::uint64_t lo = u32();
    return lo | (static_cast<std::uint64_t>(u32()) << 32);
  }
  std::string_view bytes(std::size_t n) {
    if (!has(n)) return {};
    auto v = b.substr(pos, n);
    pos += n;
    return v;
  }
  std::string bvarchar() { return utf16ToUtf8(bytes(static_cast<std::size_t>(u8()) * 2)); }
  std::string usvarchar() { return utf16ToUtf8(bytes(static_cast<std::size_t>(u16()) * 2)); }
  bool done() const { return pos >= b.size(); }
};

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string hex(std::string_view s, std::size_t max = 64) {
  static const char* d = "0123456789ABCDEF";
  std::string out = "0x";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    out += d[static_cast<std::uint8_t>(s[i]) >> 4];
    out += d[static_cast<std::uint8_t>(s[i]) & 15];
  }
  if (s.size() > max) out += "...";
  return out;
}

bool isUnicode(std::uint8_t t) { return t == 0xE7 || t == 0xEF || t == 0x63 || t == 0xF1; }
bool isChar(std::uint8_t t) { return t == 0xA7 || t == 0xAF || t == 0x23; }

// Reads TYPE_INFO. False (with `why`) for a type Vigil cannot skip.
bool readTypeInfo(Reader& r, TypeInfo& t, bool in_colmetadata, std::string& why) {
  t = TypeInfo{};
  t.type = r.u8();
  switch (t.type) {
    case 0x1F: t.fixed = 0; return true;
    case 0x30: case 0x32: t.fixed = 1; return true;
    case 0x34: t.fixed = 2; return true;
    case 0x38: case 0x3A: case 0x3B: case 0x7A: t.fixed = 4; return true;
    case 0x3C: case 0x3D: case 0x3E: case 0x7F: t.fixed = 8; return true;
    case 0x24: case 0x26: case 0x68: case 0x6D: case 0x6E: case 0x6F:
      t.len = TypeInfo::Len::Byte;
      t.max_len = r.u8();
      return true;
    case 0x37: case 0x3F: case 0x6A: case 0x6C:
      t.len = TypeInfo::Len::Byte;
      t.max_len = r.u8();
      r.u8();  // precision
      r.u8();  // scale
      return true;
    case 0x28:
      t.len = TypeInfo::Len::Byte;
      return true;
    case 0x29: case 0x2A: case 0x2B:
      t.len = TypeInfo::Len::Byte;
      r.u8();  // scale
      return true;
    case 0xA5: case 0xAD: case 0xA7: case 0xAF: case 0xE7: case 0xEF:
      t.max_len = r.u16();
      t.len = t.max_len == 0xFFFF ? TypeInfo::Len::Plp : TypeInfo::Len::UShort;
      if (t.type != 0xA5 && t.type != 0xAD) r.bytes(5);  // collation
      return true;
    case 0x23: case 0x63: case 0x22: {
      t.len = TypeInfo::Len::Long;
      t.max_len = r.u32();
      if (t.type != 0x22) r.bytes(5);
      if (in_colmetadata) {
        const int parts = r.u8();
        for (int i = 0; i < parts && !r.short_; ++i) r.usvarchar();
      }
      return true;
    }
    case 0x62:
      t.len = TypeInfo::Len::Variant;
      t.max_len = r.u32();
      return true;
    case 0xF1:
      t.len = TypeInfo::Len::Plp;
      if (r.u8() != 0) {
        r.bvarchar();
        r.bvarchar();
        r.usvarchar();
      }
      return true;
    case 0xF0:
      t.len = TypeInfo::Len::Plp;
      t.max_len = r.u16();
      r.bvarchar();
      r.bvarchar();
      r.bvarchar();
      r.usvarchar();
      return true;
    default:
      why = "unsupported data type " + hex(std::string_view(reinterpret_cast<const char*>(&t.type), 1));
      return false;
  }
}

// Reads one value of type `t`. `null` is set for a NULL; `data` gets the raw value bytes
// (PLP chunks joined, capped at `keep` bytes).
void readValue(Reader& r, const TypeInfo& t, bool& null, std::string& data, std::size_t keep) {
  null = false;
  data.clear();
  switch (t.len) {
    case TypeInfo::Len::Fixed:
      data = r.bytes(t.fixed);
      null = t.type == 0x1F;
      return;
    case TypeInfo::Len::Byte: {
      const auto n = r.u8();
      null = n == 0 && t.type != 0x28;
      data = r.bytes(n);
      null = n == 0;
      return;
    }
    case TypeInfo::Len::UShort: {
      const auto n = r.u16();
      if (n == 0xFFFF) {
        null = true;
        return;
      }
      data = r.bytes(n);
      return;
    }
    case TypeInfo::Len::Variant: {
      const auto n = r.u32();
      data = r.bytes(n);
      null = n == 0;
      return;
    }
    case TypeInfo::Len::Long: {
      const auto ptr = r.u8();
      if (ptr == 0) {
        null = true;
        return;
      }
      r.bytes(ptr);
      r.bytes(8);  // timestamp
      data = r.bytes(r.u32());
      return;
    }
    case TypeInfo::Len::Plp: {
      const auto total = r.u64();
      if (total == 0xFFFFFFFFFFFFFFFFull) {
        null = true;
        return;
      }
      for (int chunks = 0; !r.short_; ++chunks) {
        const auto n = r.u32();
        if (n == 0) return;
        auto part = r.bytes(n);
        if (data.size() < keep) data.append(part.substr(0, keep - data.size()));
      }
      return;
    }
  }
}

std::string valueText(const TypeInfo& t, bool null, const std::string& v) {
  if (null) return "NULL";
  auto le = [&](std::size_t n) {
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < n && i < v.size(); ++i) x |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(v[i])) << (8 * i);
    return x;
  };
  if (isUnicode(t.type)) return utf16ToUtf8(v);
  if (isChar(t.type)) return v;
  switch (t.type) {
    case 0x30: return std::to_string(le(1));
    case 0x32: case 0x68: return le(1) ? "1" : "0";
    case 0x34: return std::to_string(static_cast<std::int16_t>(le(2)));
    case 0x38: return std::to_string(static_cast<std::int32_t>(le(4)));
    case 0x7F: return std::to_string(static_cast<std::int64_t>(le(8)));
    case 0x26:
      if (v.size() == 1) return std::to_string(le(1));
      if (v.size() == 2) return std::to_string(static_cast<std::int16_t>(le(2)));
      if (v.size() == 4) return std::to_string(static_cast<std::int32_t>(le(4)));
      return std::to_string(static_cast<std::int64_t>(le(8)));
    case 0x3E: case 0x3B: case 0x6D:
      if (v.size() == 8) {
        double d;
        std::uint64_t x = le(8);
        std::memcpy(&d, &x, 8);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        return buf;
      }
      if (v.size() == 4) {
        float f;
        std::uint32_t x = static_cast<std::uint32_t>(le(4));
        std::memcpy(&f, &x, 4);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(f));
        return buf;
      }
      return hex(v);
    default:
      return hex(v);
  }
}

std::string procName(std::uint16_t id) {
  static const char* names[] = {"",           "sp_cursor",       "sp_cursoropen",  "sp_cursorprepare",
                                "sp_cursorexecute", "sp_cursorprepexec", "sp_cursorunprepare", "sp_cursorfetch",
                                "sp_cursoroption",  "sp_cursorclose",    "sp_executesql",  "sp_prepare",
                                "sp_execute",       "sp_prepexec",       "sp_prepexecrpc", "sp_unprepare"};
  if (id >= 1 && id <= 15) return names[id];
  return "proc#" + std::to_string(id);
}

bool skipAllHeaders(Reader& r, std::uint32_t version) {
  if (version < 0x72000000) return true;
  const std::size_t start = r.pos;
  const auto total = r.u32();
  if (r.short_ || total < 4 || total > r.b.size() - start) return false;
  r.pos = start + total;
  return true;
}

constexpr std::size_t kKeepValue = 64 * 1024;  // parameter text kept per value
constexpr std::size_t kMaxParams = 2100;       // SQL Server's own limit

}  // namespace

Request parseRequest(std::uint8_t type, std::string_view payload, std::uint32_t version) {
  Request q;
  q.type = type;
  Reader r{payload};
  if (type == kSqlBatch) {
    q.kind = "batch";
    if (!skipAllHeaders(r, version)) {
      q.decoded = false;
      q.text = "(SQLBatch with malformed ALL_HEADERS)";
      return q;
    }
    q.text = utf16ToUtf8(payload.substr(r.pos));
    return q;
  }
  if (type != kRpc) {
    q.kind = type == kBulkLoad ? "bulk" : type == kTransactionManager ? "transaction" : "other";
    return q;
  }
  q.kind = "rpc";
  if (!skipAllHeaders(r, version)) {
    q.decoded = false;
    q.text = "(RPC with malformed ALL_HEADERS)";
    return q;
  }
  std::string texts;
  std::vector<std::string> values;
  std::string why;
  while (!r.done()) {
    std::string name;
    const auto n = r.u16();
    if (n == 0xFFFF) name = procName(r.u16());
    else name = utf16ToUtf8(r.bytes(static_cast<std::size_t>(n) * 2));
    r.u16();  // option flags
    std::vector<std::pair<std::string, std::string>> params;  // name, value text
    while (!r.short_ && !r.done()) {
      const auto next = static_cast<std::uint8_t>(r.b[r.pos]);
      if (next == 0x80 || next == 0xFF) {  // batch separator / no-exec flag: the next RPC follows
        r.pos++;
        break;
      }
      const std::string pname = r.bvarchar();
      r.u8();  // status flags
      TypeInfo t;
      if (!readTypeInfo(r, t, false, why)) break;
      bool null = false;
      std::string v;
      readValue(r, t, null, v, kKeepValue);
      if (r.short_) break;
      params.emplace_back(pname, valueText(t, null, v));
      if (params.size() > kMaxParams) {
        why = "too many parameters";
        break;
      }
    }
    if (r.short_ && why.empty()) why = "RPC truncated";
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string text;
    std::size_t first_value = 0;
    if ((lower == "sp_executesql") && !params.empty()) {
      text = params[0].second;
      first_value = 2;
    } else if ((lower == "sp_prepexec" || lower == "sp_prepare" || lower == "sp_cursorprepexec") && params.size() >= 3) {
      text = params[2].second;
      first_value = 3;
    } else {
      text = "EXEC " + name;
      for (std::size_t i = 0; i < params.size(); ++i)
        text += (i ? ", " : " ") + (params[i].first.empty() ? "" : params[i].first + "=") + params[i].second;
    }
    for (std::size_t i = first_value; i < params.size(); ++i) values.push_back(params[i].second);
    if (!texts.empty()) texts += "\n";
    texts += text;
    if (!why.empty()) break;
  }
  q.text = texts;
  if (!why.empty()) {
    q.decoded = false;
    q.text += (q.text.empty() ? "" : " ") + std::string("(") + why + ")";
  }
  if (!values.empty()) {
    q.parameters = "[";
    for (std::size_t i = 0; i < values.size(); ++i) q.parameters += (i ? "," : "") + jsonString(values[i]);
    q.parameters += "]";
  }
  return q;
}

void TdsDecoder::clientBytes(std::string_view bytes) {
  client_.push(bytes);
  while (auto p = client_.next()) clientPacket(*p);
  if (client_.failed() && !client_framing_reported_) {
    client_framing_reported_ = true;
    cb_.onMalformed("client stream: " + client_.error());
  }
}

void TdsDecoder::serverBytes(std::string_view bytes) {
  server_.push(bytes);
  while (auto p = server_.next()) serverPacket(*p);
  if (server_.failed() && !server_framing_reported_) {
    server_framing_reported_ = true;
    cb_.onMalformed("server stream: " + server_.error());
  }
}

void TdsDecoder::clientPacket(const std::string& packet) {
  const auto type = static_cast<std::uint8_t>(packet[0]);
  const bool eom = (static_cast<std::uint8_t>(packet[1]) & kStatusEom) != 0;
  if (type == kAttention) {
    cb_.onAttention();
    return;
  }
  if (req_.empty() && !req_oversized_) req_type_ = type;
  if (!req_oversized_) {
    if (req_.size() + packet.size() - kHeaderSize > kMaxRequest) {
      req_oversized_ = true;
      req_.clear();
      req_.shrink_to_fit();
    } else {
      req_.append(packet, kHeaderSize, std::string::npos);
    }
  }
  if (!eom) return;
  if (req_oversized_) {
    Request q;
    q.type = req_type_;
    q.kind = req_type_ == kSqlBatch ? "batch" : req_type_ == kRpc ? "rpc" : "other";
    q.decoded = false;
    q.text = "(request larger than " + std::to_string(kMaxRequest / (1024 * 1024)) + " MiB, not decoded)";
    cb_.onRequest(q);
  } else {
    cb_.onRequest(parseRequest(req_type_, req_, version_));
  }
  // The answer to a PRELOGIN is a PRELOGIN payload in a TABULAR RESULT packet, not tokens.
  if (req_type_ == kPrelogin) prelogin_reply_ = true;
  req_.clear();
  req_oversized_ = false;
}

void TdsDecoder::serverPacket(const std::string& packet) {
  const bool eom = (static_cast<std::uint8_t>(packet[1]) & kStatusEom) != 0;
  if (prelogin_reply_) {
    if (eom) {
      prelogin_reply_ = false;
      cb_.onResponse(Response{});
    }
    return;
  }
  if (!resp_lost_) tokens_.append(packet, kHeaderSize, std::string::npos);
  parseTokens(eom);
  if (eom) {
    resp_.complete = !resp_lost_;
    cb_.onResponse(resp_);
    resp_ = Response{};
    resp_lost_ = false;
    tokens_.clear();
  }
}

void TdsDecoder::parseTokens(bool eom) {
  if (resp_lost_) return;
  std::size_t at = 0;
  while (at < tokens_.size()) {
    std::size_t used = 0;
    std::string why;
    std::string_view rest(tokens_);
    rest.remove_prefix(at);
    const int rc = parseToken(rest, used, why);
    if (rc == 1) {
      at += used;
      continue;
    }
    if (rc == 0 && !eom && tokens_.size() - at <= kMaxToken) break;
    if (rc == 0) why = eom ? "response ends inside a token" : "server token larger than the decoder's limit";
    resp_lost_ = true;
    cb_.onMalformed(why);
    tokens_.clear();
    return;
  }
  tokens_.erase(0, at);
}

int TdsDecoder::parseToken(std::string_view in, std::size_t& used, std::string& why) {
  Reader r{in};
  const auto tok = r.u8();
  auto finish = [&]() {
    if (r.short_) return 0;
    used = r.pos;
    return 1;
  };
  switch (tok) {
    case kTokDone: case kTokDoneProc: case kTokDoneInProc: {
      const auto status = r.u16();
      r.u16();
      const std::uint64_t rows = version_ >= 0x72000000 ? r.u64() : r.u32();
      if (r.short_) return 0;
      if (status & kDoneCount) {
        // Saturating: counts come from the network.
        constexpr std::uint64_t kMax = static_cast<std::uint64_t>(INT64_MAX);
        const std::uint64_t have = resp_.rows < 0 ? 0 : static_cast<std::uint64_t>(resp_.rows);
        resp_.rows = static_cast<std::int64_t>(rows >= kMax - have ? kMax : have + rows);
      }
      if (status & kDoneAttn) resp_.attention_ack = true;
      return finish();
    }
    case kTokError: case kTokInfo: {
      const auto len = r.u16();
      auto body = r.bytes(len);
      if (r.short_) return 0;
      if (tok == kTokError) {
        Reader b{body};
        const auto number = static_cast<std::int32_t>(b.u32());
        b.u8();
        b.u8();
        const std::string msg = b.usvarchar();
        if (b.short_) {
          why = "ERROR token shorter than its message";
          return -1;
        }
        if (resp_.error.empty()) resp_.error_number = number;
        if (resp_.error.size() < 4000) resp_.error += (resp_.error.empty() ? "" : "; ") + msg;
      }
      return finish();
    }
    case kTokLoginAck:
      resp_.login_ack = true;
      [[fallthrough]];
    case kTokEnvChange: case kTokOrder: case kTokColInfo: case kTokTabName: case kTokSspi: case kTokFedAuthInfo:
    case kTokAltMetadata: case kTokOffset: {
      r.bytes(r.u16());
      return finish();
    }
    case kTokSessionState: case kTokFeatureExtAck: {
      if (tok == kTokSessionState) {
        r.bytes(r.u32());
        return finish();
      }
      // FEATUREEXTACK: (FeatureId BYTE, FeatureAckDataLen DWORD, data)* then 0xFF.
      for (int i = 0; i < 256; ++i) {
        const auto id = r.u8();
        if (r.short_) return 0;
        if (id == 0xFF) return finish();
        r.bytes(r.u32());
      }
      why = "FEATUREEXTACK without terminator";
      return -1;
    }
    case kTokReturnStatus:
      r.u32();
      return finish();
    case kTokColMetadata: {
      const auto count = r.u16();
      std::vector<TypeInfo> cols;
      if (count != 0xFFFF) {
        for (std::uint32_t i = 0; i < count && !r.short_; ++i) {
          r.u32();  // user type
          r.u16();  // flags
          TypeInfo t;
          if (!readTypeInfo(r, t, true, why)) return r.short_ ? 0 : -1;
          r.bvarchar();  // column name
          cols.push_back(t);
        }
      }
      if (r.short_) return 0;
      columns_ = std::move(cols);
      return finish();
    }
    case kTokRow: case kTokNbcRow: {
      std::string bitmap;
      if (tok == kTokNbcRow) bitmap = r.bytes((columns_.size() + 7) / 8);
      bool null;
      std::string v;
      for (std::size_t i = 0; i < columns_.size() && !r.short_; ++i) {
        if (tok == kTokNbcRow && (static_cast<std::uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1) continue;
        readValue(r, columns_[i], null, v, 0);
      }
      return finish();
    }
    case kTokReturnValue: {
      r.u16();       // ordinal
      r.bvarchar();  // name
      r.u8();        // status
      r.u32();       // user type
      r.u16();       // flags
      TypeInfo t;
      if (!readTypeInfo(r, t, false, why)) return r.short_ ? 0 : -1;
      bool null;
      std::string v;
      readValue(r, t, null, v, 0);
      return finish();
    }
    default:
      why = "unknown server token " + hex(std::string_view(reinterpret_cast<const char*>(&tok), 1));
      return r.short_ ? 0 : -1;
  }
}

}  // namespace vigil::tds
