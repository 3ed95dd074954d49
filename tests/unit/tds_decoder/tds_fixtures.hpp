#pragma once
// Byte fixtures for the TDS decoder tests, built field by field from MS-TDS (independently of the
// decoder's own writers), and a recorder of what the decoder reports.
#include <string>
#include <vector>

#include "protocols/tds/tds_decoder.hpp"

namespace tds_test {

inline std::string le16(unsigned v) { return {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)}; }
inline std::string le32(unsigned v) { return le16(v & 0xffff) + le16(v >> 16); }
inline std::string le64(unsigned long long v) { return le32(static_cast<unsigned>(v)) + le32(static_cast<unsigned>(v >> 32)); }
/// UTF-16LE of ASCII text with two-byte UTF-8 sequences (enough for the fixtures' "é").
inline std::string u16(const std::string& text) {
  std::string o;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned cp = static_cast<unsigned char>(text[i]);
    if ((cp >> 5) == 6 && i + 1 < text.size()) cp = ((cp & 0x1F) << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F);
    o += static_cast<char>(cp & 0xff);
    o += static_cast<char>(cp >> 8);
  }
  return o;
}
/// One packet with the 8-byte header (big-endian length).
inline std::string packet(unsigned char type, const std::string& payload, bool eom = true, unsigned char id = 1) {
  const unsigned len = static_cast<unsigned>(payload.size() + 8);
  std::string h{static_cast<char>(type), static_cast<char>(eom ? 1 : 0), static_cast<char>(len >> 8),
                static_cast<char>(len & 0xff), 0, 0, static_cast<char>(id), 0};
  return h + payload;
}
/// ALL_HEADERS with the transaction descriptor header (type 2), as drivers send it.
inline std::string allHeaders() {
  std::string txn = le32(18) + le16(2) + std::string(8, '\0') + le32(1);
  return le32(static_cast<unsigned>(4 + txn.size())) + txn;
}
inline std::string batch(const std::string& sql) { return packet(0x01, allHeaders() + u16(sql)); }

/// A LOGIN7 payload with the given fields (and a FeatureExt block at the end when `feature_ext`).
inline std::string login7(const std::string& host, const std::string& user, const std::string& password_obfuscated16,
                          const std::string& app, const std::string& server, const std::string& db,
                          bool feature_ext) {
  std::string data;
  const unsigned base = 94;
  auto field = [&](const std::string& bytes16) {
    const std::string ref = le16(base + static_cast<unsigned>(data.size())) + le16(static_cast<unsigned>(bytes16.size() / 2));
    data += bytes16;
    return ref;
  };
  std::string fixed;
  const std::string f_host = field(u16(host));
  const std::string f_user = field(u16(user));
  const std::string f_pass = field(password_obfuscated16);
  const std::string f_app = field(u16(app));
  const std::string f_server = field(u16(server));
  // Extension: a 4-byte pointer to the FeatureExt block (filled in below).
  const unsigned ext_at = base + static_cast<unsigned>(data.size());
  std::string f_ext = feature_ext ? le16(ext_at) + le16(4) : le16(0) + le16(0);
  if (feature_ext) data += std::string(4, '\0');
  const std::string f_lib = field(u16("vigil-test"));
  const std::string f_lang = field("");
  const std::string f_db = field(u16(db));
  const std::string f_sspi = le16(0) + le16(0);
  const std::string f_atch = field("");
  const std::string f_chpw = field("");
  fixed += le32(0);                        // length, set below
  fixed += std::string("\x04\x00\x00\x74", 4);  // TDS 7.4
  fixed += le32(4096) + le32(7) + le32(1234) + le32(0);
  fixed += std::string(1, '\xE0') + std::string(1, '\x03') + std::string(1, '\0') +
           std::string(1, feature_ext ? '\x10' : '\0');
  fixed += le32(0) + le32(0x409);
  fixed += f_host + f_user + f_pass + f_app + f_server + f_ext + f_lib + f_lang + f_db;
  fixed += std::string("\x00\x50\x56\x01\x02\x03", 6);  // client id
  fixed += f_sspi + f_atch + f_chpw + le32(0);
  std::string all = fixed + data;
  if (feature_ext) {
    const unsigned fe_at = static_cast<unsigned>(all.size());
    all += std::string("\x0A", 1) + le32(1) + std::string("\x01", 1) + std::string("\xFF", 1);  // UTF8_SUPPORT
    all.replace(ext_at, 4, le32(fe_at));
  }
  all.replace(0, 4, le32(static_cast<unsigned>(all.size())));
  return all;
}

inline std::string doneTok(unsigned char tok, unsigned status, unsigned long long rows) {
  return std::string(1, static_cast<char>(tok)) + le16(status) + le16(0) + le64(rows);
}
inline std::string errorTok(unsigned number, const std::string& msg) {
  std::string body = le32(number) + "\x01\x10" + le16(static_cast<unsigned>(msg.size())) + u16(msg) + "\x03" + u16("srv") +
                     std::string(1, '\0') + le32(1);
  return "\xAA" + le16(static_cast<unsigned>(body.size())) + body;
}
/// COLMETADATA with one INT (INTN 4) and one NVARCHAR(20) column, and `n` ROWs.
inline std::string rows(int n) {
  std::string t = "\x81" + le16(2);
  t += le32(0) + le16(1) + "\x26\x04" + std::string(1, '\x02') + u16("id");
  t += le32(0) + le16(1) + "\xE7" + le16(40) + std::string("\x09\x04\xD0\x00\x34", 5) + std::string(1, '\x04') + u16("name");
  for (int i = 0; i < n; ++i) t += "\xD1\x04" + le32(static_cast<unsigned>(i)) + le16(4) + u16("r" + std::to_string(i % 10));
  return t;
}

struct Heard : vigil::tds::TdsDecoder::Callbacks {
  std::vector<std::string> lines;
  void onRequest(const vigil::tds::Request& r) override {
    lines.push_back("request " + r.kind + " [" + r.text + "] " + r.parameters + (r.decoded ? "" : " undecoded"));
  }
  void onAttention() override { lines.push_back("attention"); }
  void onResponse(const vigil::tds::Response& r) override {
    lines.push_back("response rows=" + std::to_string(r.rows) + " error=[" + r.error + "]" + (r.attention_ack ? " attn" : "") +
                    (r.login_ack ? " loginack" : "") + (r.complete ? "" : " incomplete"));
  }
  void onMalformed(std::string_view why) override { lines.push_back("malformed " + std::string(why)); }
};

/// Decodes a script of (client?, bytes) reads with every read split at `step` bytes.
inline std::vector<std::string> decode(const std::vector<std::pair<bool, std::string>>& reads, std::size_t step = 0) {
  Heard h;
  vigil::tds::TdsDecoder d(h);
  for (const auto& [client, bytes] : reads) {
    const std::size_t s = step == 0 ? bytes.size() : step;
    for (std::size_t i = 0; i < bytes.size(); i += s) {
      if (client) d.clientBytes(std::string_view(bytes).substr(i, s));
      else d.serverBytes(std::string_view(bytes).substr(i, s));
    }
  }
  return h.lines;
}

}  // namespace tds_test
