// The TDS wire format and decoder on byte fixtures built from MS-TDS: framing, PRELOGIN, LOGIN7
// parse/rewrite with the password obfuscation, SQLBatch, RPC (sp_executesql), ATTENTION, DONE
// row counts and ERROR tokens; input split at every offset, two messages in one buffer,
// malformed, truncated and oversized input.
#include <catch2/catch.hpp>

#include "protocols/tds/tds_decoder.hpp"
#include "protocols/tds/tds_wire.hpp"
#include "tds_fixtures.hpp"

using namespace tds_test;
namespace tds = vigil::tds;

namespace {
std::string nvarcharParam(const std::string& name, const std::string& value) {
  std::string n = u16(name);
  return std::string(1, static_cast<char>(name.size())) + n + std::string(1, '\0') + "\xE7" + le16(8000) +
         std::string("\x09\x04\xD0\x00\x34", 5) + le16(static_cast<unsigned>(value.size() * 2)) + u16(value);
}
std::string intParam(const std::string& name, unsigned v) {
  return std::string(1, static_cast<char>(name.size())) + u16(name) + std::string(1, '\0') + "\x26\x04\x04" + le32(v);
}
std::string executeSql(const std::string& sql, const std::string& defs, unsigned value) {
  return packet(0x03, allHeaders() + le16(0xFFFF) + le16(10) + le16(0) + nvarcharParam("", sql) + nvarcharParam("", defs) +
                          intParam("@p1", value));
}
std::string response(const std::string& tokens) { return packet(0x04, tokens); }
}  // namespace

TEST_CASE("A packet header gives the big-endian length and an impossible length is refused", "[tds][wire]") {
  std::string why;
  auto h = tds::readHeader(packet(0x01, "abcd"), why);
  REQUIRE(h);
  CHECK(h->type == 0x01);
  CHECK(h->length == 12);
  CHECK(h->eom());
  CHECK_FALSE(tds::readHeader(std::string("\x01\x01\x00\x04\x00\x00\x01\x00", 8), why));
  CHECK(why.find("shorter than its header") != std::string::npos);
  CHECK_FALSE(tds::readHeader(std::string("\x01\x01\xFF\xFF\x00\x00\x01\x00", 8), why));
  CHECK(why.find("exceeds") != std::string::npos);
  CHECK_FALSE(tds::readHeader("\x01\x01", why));
}

TEST_CASE("buildPackets splits a long payload with EOM only on the last packet", "[tds][wire]") {
  const std::string payload(10000, 'x');
  const std::string all = tds::buildPackets(0x01, payload, 4096);
  tds::PacketFramer f;
  f.push(all);
  std::string joined;
  int n = 0, eoms = 0;
  while (auto p = f.next()) {
    ++n;
    eoms += (*p)[1] & 1;
    joined += p->substr(8);
  }
  CHECK(n == 3);
  CHECK(eoms == 1);
  CHECK(joined == payload);
}

TEST_CASE("The MS-TDS password obfuscation swaps nibbles and XORs 0xA5, and reverses", "[tds][login]") {
  // 'a' (0x61 0x00 in UTF-16LE) -> 0x16 ^ 0xA5 = 0xB3, 0x00 -> 0xA5.
  CHECK(tds::obfuscatePassword(u16("a")) == std::string("\xB3\xA5", 2));
  const std::string pw = u16("Sup3r-s3cret!");
  CHECK(tds::deobfuscatePassword(tds::obfuscatePassword(pw)) == pw);
}

TEST_CASE("PRELOGIN options parse, and a truncated or out-of-range table is refused", "[tds][prelogin]") {
  const std::string p = tds::buildPrelogin({{tds::kPreVersion, std::string(6, '\1')}, {tds::kPreEncryption, "\x01"}});
  std::string why;
  auto o = tds::parsePrelogin(p, why);
  REQUIRE(o);
  CHECK(o->size() == 2);
  CHECK(tds::preloginEncryption(*o) == 1);
  CHECK_FALSE(tds::parsePrelogin(p.substr(0, 4), why));
  std::string bad = p;
  bad[2] = '\x7F';  // the VERSION offset points far behind the message
  CHECK_FALSE(tds::parsePrelogin(bad, why));
  CHECK(why.find("outside") != std::string::npos);
  CHECK_FALSE(tds::parsePrelogin("", why));
}

TEST_CASE("LOGIN7 parses the user and the deobfuscated password", "[tds][login]") {
  const std::string l = login7("ws1", "alice_login", tds::obfuscatePassword(u16("tok-123")), "app", "srv", "master", true);
  std::string why;
  auto p = tds::parseLogin7(l, why);
  REQUIRE(p);
  CHECK(p->user_name == "alice_login");
  CHECK(std::string(p->password.data(), p->password.size()) == "tok-123");
  CHECK(p->database == "master");
  CHECK(p->tds_version == 0x74000004);
  CHECK_FALSE(p->integrated_security);
}

TEST_CASE("LOGIN7 rewrite puts the vault credential in and keeps every other field and the FeatureExt block",
          "[tds][login]") {
  for (bool ext : {false, true}) {
    const std::string l = login7("ws1", "alice_login", tds::obfuscatePassword(u16("tok")), "myapp", "srv", "salesdb", ext);
    std::string why;
    auto r = tds::rewriteLogin7(l, "sa_vault", "A-much-longer-vault-password-0123456789", why);
    REQUIRE(r);
    const std::string s(r->data(), r->size());
    auto p = tds::parseLogin7(s, why);
    REQUIRE(p);
    CHECK(p->user_name == "sa_vault");
    CHECK(std::string(p->password.data(), p->password.size()) == "A-much-longer-vault-password-0123456789");
    CHECK(p->host_name == "ws1");
    CHECK(p->app_name == "myapp");
    CHECK(p->database == "salesdb");
    CHECK(p->library_name == "vigil-test");
    if (ext) {
      // The extension pointer still leads to the UTF8_SUPPORT feature and its terminator.
      const unsigned ib = static_cast<unsigned char>(s[56]) | (static_cast<unsigned char>(s[57]) << 8);
      const unsigned fe = static_cast<unsigned char>(s[ib]) | (static_cast<unsigned char>(s[ib + 1]) << 8);
      REQUIRE(fe + 7 <= s.size());
      CHECK(s[fe] == '\x0A');
      CHECK(s[fe + 6] == '\xFF');
    }
    // A shorter credential too.
    auto r2 = tds::rewriteLogin7(l, "u", "", why);
    REQUIRE(r2);
    auto p2 = tds::parseLogin7(std::string(r2->data(), r2->size()), why);
    REQUIRE(p2);
    CHECK(p2->user_name == "u");
    CHECK(p2->password.empty());
    CHECK(p2->database == "salesdb");
  }
}

TEST_CASE("A LOGIN7 that is truncated or points outside itself is refused with a reason", "[tds][login]") {
  const std::string l = login7("ws1", "bob", tds::obfuscatePassword(u16("x")), "a", "s", "d", false);
  std::string why;
  CHECK_FALSE(tds::parseLogin7(l.substr(0, 50), why));
  CHECK_FALSE(why.empty());
  std::string bad = l;
  bad[42] = '\x7F';  // user name length far beyond the message
  CHECK_FALSE(tds::parseLogin7(bad, why));
  CHECK_FALSE(tds::rewriteLogin7(bad, "u", "p", why));
  std::string badlen = l;
  badlen[0] = static_cast<char>(badlen[0] + 1);
  CHECK_FALSE(tds::parseLogin7(badlen, why));
  CHECK(why.find("length") != std::string::npos);
}

TEST_CASE("A SQLBatch is reported as UTF-8 text after its ALL_HEADERS, whatever the split", "[tds][decoder]") {
  const std::vector<std::pair<bool, std::string>> script = {
      {true, batch("SELECT name FROM sys.tables -- é")},
      {false, response(rows(3) + doneTok(0xFD, 0x10, 3))},
      {true, batch("UPDATE t SET x = 1")},
      {false, response(doneTok(0xFD, 0x10, 7))},
      {true, batch("SELECT boom")},
      {false, response(errorTok(208, "Invalid object name 'boom'.") + doneTok(0xFD, 0x02, 0))},
  };
  const auto whole = decode(script);
  REQUIRE(whole.size() == 6);
  CHECK(whole[0] == "request batch [SELECT name FROM sys.tables -- \xC3\xA9] ");
  CHECK(whole[1] == "response rows=3 error=[]");
  CHECK(whole[3] == "response rows=7 error=[]");
  CHECK(whole[5] == "response rows=-1 error=[Invalid object name 'boom'.]");
  for (std::size_t step = 1; step <= 64; ++step) {
    INFO("split every " << step << " bytes");
    CHECK(decode(script, step) == whole);
  }
}

TEST_CASE("Two messages in one buffer are both reported", "[tds][decoder]") {
  const auto lines = decode({{true, batch("SELECT 1") + batch("SELECT 2")},
                             {false, response(doneTok(0xFD, 0x10, 1)) + response(doneTok(0xFD, 0x10, 1))}});
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "request batch [SELECT 1] ");
  CHECK(lines[1] == "request batch [SELECT 2] ");
  CHECK(lines[3] == "response rows=1 error=[]");
}

TEST_CASE("An sp_executesql RPC gives its statement and parameter values; DONEINPROC carries the rows",
          "[tds][decoder][rpc]") {
  const std::vector<std::pair<bool, std::string>> script = {
      {true, executeSql("SELECT * FROM t WHERE id = @p1", "@p1 int", 42)},
      {false, response(rows(1) + doneTok(0xFF, 0x11, 1) + "\x79" + le32(0) + doneTok(0xFE, 0, 0))},
  };
  const auto lines = decode(script);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "request rpc [SELECT * FROM t WHERE id = @p1] [\"42\"]");
  CHECK(lines[1] == "response rows=1 error=[]");
  for (std::size_t step = 1; step <= 32; ++step) CHECK(decode(script, step) == lines);
}

TEST_CASE("An RPC by name is reported as EXEC with its arguments", "[tds][decoder][rpc]") {
  const std::string p = packet(0x03, allHeaders() + le16(9) + u16("sp_who2_x") + le16(0) + intParam("@n", 5));
  const auto lines = decode({{true, p}});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "request rpc [EXEC sp_who2_x @n=5] [\"5\"]");
}

TEST_CASE("A truncated RPC is reported as undecoded with what was read", "[tds][decoder][rpc]") {
  std::string full = executeSql("SELECT 1", "@p1 int", 1);
  std::string payload = full.substr(8, full.size() - 8 - 3);
  const auto lines = decode({{true, packet(0x03, payload)}});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("undecoded") != std::string::npos);
  CHECK(lines[0].find("truncated") != std::string::npos);
}

TEST_CASE("ATTENTION is reported and the DONE_ATTN acknowledgment is flagged", "[tds][decoder]") {
  const auto lines = decode({{true, batch("WAITFOR DELAY '00:01'")},
                             {true, packet(0x06, "")},
                             {false, response(doneTok(0xFD, 0x20, 0))}});
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "attention");
  CHECK(lines[2] == "response rows=-1 error=[] attn");
}

TEST_CASE("A request spread over several packets is one request", "[tds][decoder]") {
  const std::string sql(5000, 'x');
  const std::string payload = allHeaders() + u16(sql);
  const std::string packets = tds::buildPackets(0x01, payload, 4096);
  const auto lines = decode({{true, packets}});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "request batch [" + sql + "] ");
}

TEST_CASE("A malformed ALL_HEADERS, an unknown token and a broken packet length are reported, not fatal",
          "[tds][decoder][malformed]") {
  const auto lines = decode({{true, packet(0x01, le32(9999) + u16("x"))},
                             {false, response(std::string("\x42\x00\x01", 3) + doneTok(0xFD, 0x10, 1))},
                             {true, batch("SELECT 2")},
                             {false, response(doneTok(0xFD, 0x10, 2))},
                             {true, std::string("\x01\x01\x00\x02\x00\x00\x01\x00", 8) + batch("SELECT 3")}});
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].find("undecoded") != std::string::npos);
  CHECK(lines[1].find("malformed unknown server token 0x42") == 0);
  CHECK(lines[2] == "response rows=-1 error=[] incomplete");
  CHECK(lines[3] == "request batch [SELECT 2] ");
  CHECK(lines[4] == "response rows=2 error=[]");
  // Reported once; after a framing error the client direction stays quiet.
  CHECK(lines[5] == "malformed client stream: packet length 2 is shorter than its header");
}

TEST_CASE("A response that ends inside a token is incomplete", "[tds][decoder][malformed]") {
  const std::string tokens = doneTok(0xFD, 0x10, 5);
  const auto lines = decode({{false, response(tokens.substr(0, 6))}});
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "malformed response ends inside a token");
  CHECK(lines[1] == "response rows=-1 error=[] incomplete");
}

TEST_CASE("An oversized request is reported undecoded without being buffered", "[tds][decoder][oversized]") {
  Heard h;
  tds::TdsDecoder d(h);
  const std::string chunk(30000, 'a');
  const std::size_t packets = tds::TdsDecoder::kMaxRequest / chunk.size() + 2;
  for (std::size_t i = 0; i < packets; ++i) d.clientBytes(packet(0x01, chunk, i + 1 == packets));
  REQUIRE(h.lines.size() == 1);
  CHECK(h.lines[0].find("larger than 16 MiB") != std::string::npos);
  d.clientBytes(batch("SELECT 1"));
  CHECK(h.lines.back() == "request batch [SELECT 1] ");
}

TEST_CASE("Vigil's error reply is a TABULAR RESULT with ERROR and DONE(error) a decoder reads back", "[tds][wire]") {
  const auto lines = decode({{false, tds::errorReply(18456, "Login failed for user 'x'.")}});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "response rows=-1 error=[Login failed for user 'x'.]");
}

TEST_CASE("An empty LOGIN7 field may carry any offset (found by the fuzzer)", "[tds][login]") {
  std::string l = login7("ws1", "bob", "", "a", "s", "d", false);
  l[44] = '\xF0';  // the empty password's offset, far behind the message
  l[45] = '\x7F';
  std::string why;
  auto p = tds::parseLogin7(l, why);
  REQUIRE(p);
  CHECK(p->password.empty());
  auto r = tds::rewriteLogin7(l, "u", "pw", why);
  REQUIRE(r);
  auto back = tds::parseLogin7(std::string(r->data(), r->size()), why);
  REQUIRE(back);
  CHECK(std::string(back->password.data(), back->password.size()) == "pw");
}
