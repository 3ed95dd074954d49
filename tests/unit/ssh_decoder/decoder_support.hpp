#pragma once
// Shared by the SFTP and scp decoder tests: a callbacks object that writes down what it hears,
// SFTP packet builders, and the ways a conversation can be cut into pieces.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/ssh/scp_decoder.hpp"
#include "protocols/ssh/sftp_decoder.hpp"

namespace dec_test {

/// Everything a decoder reported, one line each: "upload /a 5 ok", "rename /a /b fail",
/// "malformed: why".
struct Heard : vigil::ssh::SftpDecoder::Callbacks {
  std::vector<std::string> lines;
  void onFileOperation(const vigil::proto::FileOperation& op) override {
    std::string s = op.operation + " " + op.path;
    if (!op.path2.empty()) s += " " + op.path2;
    if (op.operation == "upload" || op.operation == "download") s += " " + std::to_string(op.bytes);
    s += op.ok ? " ok" : " fail";
    lines.push_back(s);
  }
  void onMalformed(std::string_view why) override { lines.push_back("malformed: " + std::string(why)); }
};

/// One read from one side of the channel, in the order the proxy would see them.
struct Chunk {
  bool client = true;  // client -> server
  std::string bytes;
};
using Conversation = std::vector<Chunk>;

inline Chunk C(std::string b) { return {true, std::move(b)}; }
inline Chunk S(std::string b) { return {false, std::move(b)}; }

template <class Decoder>
void feed(Decoder& d, const Conversation& conv) {
  for (const auto& c : conv) {
    if (c.client) d.clientBytes(c.bytes);
    else d.serverBytes(c.bytes);
  }
}

/// Every way of cutting `conv` the tests try: as is; adjacent reads from the same side joined;
/// one byte at a time; and (unless `every_offset` is false) each read split in two at every offset.
inline std::vector<std::pair<std::string, Conversation>> cuttings(const Conversation& conv, bool every_offset = true) {
  std::vector<std::pair<std::string, Conversation>> out;
  out.emplace_back("as captured", conv);
  Conversation joined;
  for (const auto& c : conv) {
    if (!joined.empty() && joined.back().client == c.client) joined.back().bytes += c.bytes;
    else joined.push_back(c);
  }
  out.emplace_back("same-side reads joined", joined);
  Conversation bytewise;
  for (const auto& c : conv)
    for (char b : c.bytes) bytewise.push_back({c.client, std::string(1, b)});
  out.emplace_back("one byte at a time", bytewise);
  for (std::size_t i = 0; every_offset && i < joined.size(); ++i) {
    for (std::size_t k = 1; k < joined[i].bytes.size(); ++k) {
      Conversation cut(joined.begin(), joined.begin() + static_cast<std::ptrdiff_t>(i));
      cut.push_back({joined[i].client, joined[i].bytes.substr(0, k)});
      cut.push_back({joined[i].client, joined[i].bytes.substr(k)});
      cut.insert(cut.end(), joined.begin() + static_cast<std::ptrdiff_t>(i) + 1, joined.end());
      out.emplace_back("read " + std::to_string(i) + " split at " + std::to_string(k), std::move(cut));
    }
  }
  return out;
}

/// The same conversation re-cut into reads of random sizes (1..max) per side.
inline Conversation randomCut(const Conversation& conv, std::mt19937& rng, std::size_t max) {
  Conversation out;
  for (const auto& c : conv) {
    std::size_t at = 0;
    while (at < c.bytes.size()) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, max)(rng);
      out.push_back({c.client, c.bytes.substr(at, n)});
      at += n;
    }
  }
  return out;
}

inline std::vector<std::string> runSftp(const Conversation& conv) {
  Heard h;
  vigil::ssh::SftpDecoder d(h);
  feed(d, conv);
  d.finish();
  return h.lines;
}

inline std::vector<std::string> runScp(std::string_view command, const Conversation& conv) {
  Heard h;
  vigil::ssh::ScpDecoder d(h, command);
  feed(d, conv);
  d.finish();
  return h.lines;
}

// ---- SFTP v3 packets ----
namespace sftp {
inline std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
inline std::string u64(std::uint64_t v) { return u32(static_cast<std::uint32_t>(v >> 32)) + u32(static_cast<std::uint32_t>(v)); }
inline std::string str(std::string_view s) { return u32(static_cast<std::uint32_t>(s.size())) + std::string(s); }
inline std::string packet(std::uint8_t type, const std::string& body) {
  return u32(static_cast<std::uint32_t>(body.size() + 1)) + static_cast<char>(type) + body;
}
inline std::string req(std::uint8_t type, std::uint32_t id, const std::string& body = {}) { return packet(type, u32(id) + body); }
const std::string kNoAttrs = u32(0);

inline std::string init() { return packet(1, u32(3)); }
inline std::string version(std::uint32_t v = 3) { return packet(2, u32(v) + str("posix-rename@openssh.com") + str("1")); }
constexpr std::uint32_t kRead = 1, kWrite = 2, kCreat = 8, kTrunc = 0x10;
inline std::string open(std::uint32_t id, std::string_view path, std::uint32_t pflags) { return req(3, id, str(path) + u32(pflags) + kNoAttrs); }
inline std::string close(std::uint32_t id, std::string_view h) { return req(4, id, str(h)); }
inline std::string read(std::uint32_t id, std::string_view h, std::uint64_t off, std::uint32_t len) { return req(5, id, str(h) + u64(off) + u32(len)); }
inline std::string write(std::uint32_t id, std::string_view h, std::uint64_t off, std::string_view data) { return req(6, id, str(h) + u64(off) + str(data)); }
inline std::string pathReq(std::uint8_t type, std::uint32_t id, std::string_view path) { return req(type, id, str(path)); }
inline std::string setstat(std::uint32_t id, std::string_view path) { return req(9, id, str(path) + kNoAttrs); }
inline std::string fsetstat(std::uint32_t id, std::string_view h) { return req(10, id, str(h) + kNoAttrs); }
inline std::string mkdir(std::uint32_t id, std::string_view path) { return req(14, id, str(path) + kNoAttrs); }
inline std::string rename(std::uint32_t id, std::string_view a, std::string_view b) { return req(18, id, str(a) + str(b)); }
/// OpenSSH order: the link's target, then the link.
inline std::string symlink(std::uint32_t id, std::string_view target, std::string_view link) { return req(20, id, str(target) + str(link)); }
inline std::string extended(std::uint32_t id, std::string_view name, const std::string& args) { return req(200, id, str(name) + args); }

inline std::string status(std::uint32_t id, std::uint32_t code) { return req(101, id, u32(code) + str(code ? "Failure" : "Success") + str("")); }
inline std::string handle(std::uint32_t id, std::string_view h) { return req(102, id, str(h)); }
inline std::string data(std::uint32_t id, std::string_view d) { return req(103, id, str(d)); }
inline std::string name(std::uint32_t id, std::string_view n) { return req(104, id, u32(1) + str(n) + str(n) + kNoAttrs); }
inline std::string attrs(std::uint32_t id) { return req(105, id, kNoAttrs); }
constexpr std::uint32_t kOk = 0, kEof = 1, kNoSuchFile = 2, kPermissionDenied = 3;
}  // namespace sftp

}  // namespace dec_test
