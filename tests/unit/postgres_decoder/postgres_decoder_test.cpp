// PgDecoder, the PostgreSQL framing and Vigil's SCRAM/md5 client on byte fixtures: simple and
// extended queries with parameters, errors, COPY, input cut at every offset, malformed,
// truncated and oversized messages (one clear report, then inert, never a crash).
#include <catch2/catch.hpp>

#include "pg_fixtures.hpp"
#include "protocols/postgres/pg_auth.hpp"
#include "protocols/postgres/pg_decoder.hpp"

using namespace pgfix;
using vigil::pg::PgDecoder;

namespace {

struct Heard : PgDecoder::Callbacks {
  std::vector<vigil::proto::SqlStatement> stmts;
  std::vector<std::string> malformed;
  std::vector<std::string> startups;
  std::vector<std::pair<std::int32_t, std::int32_t>> cancels, keys;
  int ssl = 0;
  std::vector<char> ready;
  std::vector<std::int32_t> auth;
  void onStatement(const vigil::proto::SqlStatement& s) override { stmts.push_back(s); }
  void onMalformed(std::string_view why) override { malformed.emplace_back(why); }
  void onStartup(const vigil::pg::Startup& s) override { startups.push_back(s.get("user") + "@" + s.get("database")); }
  void onCancelRequest(std::int32_t p, std::int32_t k) override { cancels.emplace_back(p, k); }
  void onBackendKey(std::int32_t p, std::int32_t k) override { keys.emplace_back(p, k); }
  void onSslRequest() override { ++ssl; }
  void onReady(char s) override { ready.push_back(s); }
  void onAuthRequest(std::int32_t c) override { auth.push_back(c); }
};

struct Read {
  bool client;
  std::string bytes;
};

PgDecoder::Options opts(bool after_login) {
  PgDecoder::Options o;
  o.after_login = after_login;
  o.now_ms = [] { return std::int64_t{1000}; };
  return o;
}

/// Feeds the reads with each read cut in pieces of `step` bytes (0: whole).
void feed(PgDecoder& d, const std::vector<Read>& reads, std::size_t step = 0) {
  for (const auto& r : reads) {
    const std::size_t s = step ? step : std::max<std::size_t>(r.bytes.size(), 1);
    for (std::size_t i = 0; i < r.bytes.size(); i += s) {
      auto part = std::string_view(r.bytes).substr(i, s);
      if (r.client) d.clientBytes(part);
      else d.serverBytes(part);
    }
  }
}

std::vector<Read> login() {
  return {{true, startup("alice", "shop")},
          {false, authCleartext()},
          {true, password("token-never-reported")},
          {false, authOk() + paramStatus("server_version", "15.4") + backendKey(4242, 777) + ready()}};
}

std::string describe(const vigil::proto::SqlStatement& s) {
  return s.kind + "|" + s.text + "|" + s.parameters + "|" + std::to_string(s.rows) + "|" + s.command_tag + "|" + s.error;
}

std::vector<std::string> run(const std::vector<Read>& reads, std::size_t step = 0, bool after_login = false) {
  Heard h;
  PgDecoder d(h, opts(after_login));
  feed(d, reads, step);
  d.finish();
  std::vector<std::string> out;
  for (auto& s : h.stmts) out.push_back(describe(s));
  for (auto& m : h.malformed) out.push_back("malformed " + m);
  return out;
}

std::vector<Read> session() {
  auto r = login();
  r.push_back({true, query("SELECT 1")});
  r.push_back({false, rowDesc1() + dataRow("1") + complete("SELECT 1") + ready()});
  r.push_back({true, parse("", "SELECT * FROM t WHERE id = $1 AND name = $2") + bind("", "", {"42", "\x01NULL"}) +
                         describePortal("") + execute("") + pgfix::sync()});
  r.push_back({false, parseComplete() + bindComplete() + rowDesc1() + dataRow("42") + complete("SELECT 1") + ready()});
  r.push_back({true, query("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2), (3)")});
  r.push_back({false, complete("INSERT 0 1") + complete("INSERT 0 2") + ready()});
  r.push_back({true, query("COPY t FROM STDIN")});
  r.push_back({false, copyIn()});
  r.push_back({true, copyData("4\n5\n") + copyDone()});
  r.push_back({false, complete("COPY 2") + ready()});
  r.push_back({true, terminate()});
  return r;
}

}  // namespace

TEST_CASE("a psql-like session reports each statement with its tag, rows and parameters", "[postgres][decoder]") {
  Heard h;
  PgDecoder d(h, opts(false));
  feed(d, session());
  d.finish();
  REQUIRE(h.malformed.empty());
  REQUIRE(h.startups == std::vector<std::string>{"alice@shop"});
  REQUIRE(h.keys.size() == 1);
  CHECK(h.keys[0] == std::make_pair(4242, 777));
  CHECK(h.auth == std::vector<std::int32_t>{3, 0});
  REQUIRE(h.stmts.size() == 4);
  CHECK(describe(h.stmts[0]) == "query|SELECT 1||1|SELECT 1|");
  CHECK(describe(h.stmts[1]) == "extended|SELECT * FROM t WHERE id = $1 AND name = $2|[\"42\",null]|1|SELECT 1|");
  CHECK(describe(h.stmts[2]) == "query|INSERT INTO t VALUES (1); INSERT INTO t VALUES (2), (3)||3|INSERT 0 2|");
  CHECK(describe(h.stmts[3]) == "copy|COPY t FROM STDIN||2|COPY 2|");
  for (auto& s : h.stmts) CHECK(s.text.find("token-never-reported") == std::string::npos);
}

TEST_CASE("the report does not depend on where the input was cut", "[postgres][decoder]") {
  const auto whole = run(session());
  REQUIRE(whole.size() == 4);
  for (std::size_t step : {1, 2, 3, 5, 7, 64}) CHECK(run(session(), step) == whole);
  // Both directions as one stream each, split in two at every offset.
  std::string client, server;
  for (auto& r : session()) (r.client ? client : server) += r.bytes;
  (void)server;
  for (std::size_t cut = 0; cut <= client.size(); ++cut) {
    // Replays client bytes in two parts at `cut`, server answers after each whole request as before.
    std::vector<Read> reads;
    std::size_t consumed = 0;
    for (auto& r : session()) {
      if (!r.client) {
        reads.push_back(r);
        continue;
      }
      const std::size_t start = consumed, end = consumed + r.bytes.size();
      consumed = end;
      if (cut > start && cut < end) {
        reads.push_back({true, r.bytes.substr(0, cut - start)});
        reads.push_back({true, r.bytes.substr(cut - start)});
      } else {
        reads.push_back(r);
      }
    }
    INFO("cut at " << cut);
    CHECK(run(reads) == whole);
  }
}

TEST_CASE("an error in an extended batch fails that Execute and skips the rest up to Sync", "[postgres][decoder]") {
  std::vector<Read> r{{true, parse("s1", "INSERT INTO t VALUES ($1)") + bind("", "s1", {"x"}) + execute("") +
                                 bind("", "s1", {"2"}) + execute("") + pgfix::sync()},
                      {false, parseComplete() + bindComplete() +
                                  error("22P02", "invalid input syntax for type integer: \"x\"") + ready()},
                      {true, bind("", "s1", {"3"}) + execute("") + pgfix::sync()},
                      {false, bindComplete() + complete("INSERT 0 1") + ready()}};
  auto out = run(r, 0, true);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == "extended|INSERT INTO t VALUES ($1)|[\"x\"]|-1||22P02: invalid input syntax for type integer: \"x\"");
  CHECK(out[1] == "extended|INSERT INTO t VALUES ($1)|[\"3\"]|1|INSERT 0 1|");
}

TEST_CASE("a simple query that fails reports the error and no rows", "[postgres][decoder]") {
  auto out = run({{true, query("DROP TABLE nope")}, {false, error("42P01", "table \"nope\" does not exist") + ready('I')}},
                 0, true);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == "query|DROP TABLE nope||-1||42P01: table \"nope\" does not exist");
}

TEST_CASE("COPY TO STDOUT, an empty query and a suspended portal are reported", "[postgres][decoder]") {
  auto out = run({{true, query("COPY t TO STDOUT")},
                  {false, copyOut() + copyData("1\n") + copyData("2\n") + msg('c', "") + complete("COPY 2") + ready()},
                  {true, query("")},
                  {false, emptyQuery() + ready()},
                  {true, parse("", "SELECT g FROM generate_series(1,10) g") + bind("p", "", {}) + execute("p", 3) + pgfix::sync()},
                  {false, parseComplete() + bindComplete() + dataRow("1") + dataRow("2") + dataRow("3") +
                              portalSuspended() + ready('T')}},
                 0, true);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "copy|COPY t TO STDOUT||2|COPY 2|");
  CHECK(out[1] == "query|||-1||");
  CHECK(out[2] == "extended|SELECT g FROM generate_series(1,10) g||3||");
}

TEST_CASE("statements unanswered when the connection closes are reported as such", "[postgres][decoder]") {
  auto out = run({{true, query("SELECT pg_sleep(100)")}}, 0, true);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == "query|SELECT pg_sleep(100)||-1||connection closed before the server answered");
}

TEST_CASE("parameters are JSON: quotes escaped, binary values as hex", "[postgres][decoder]") {
  std::string b = z("") + z("") + i16(1) + i16(1) + i16(1) + i32(3) + std::string("\x00\x01\xff", 3) + i16(0);
  auto out = run({{true, parse("", "SELECT $1") + msg('B', b) + execute("") + pgfix::sync()},
                  {false, parseComplete() + bindComplete() + complete("SELECT 1") + ready()},
                  {true, parse("", "SELECT $1") + bind("", "", {"a\"b\\c\n"}) + execute("") + pgfix::sync()},
                  {false, parseComplete() + bindComplete() + complete("SELECT 1") + ready()}},
                 0, true);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == "extended|SELECT $1|[\"\\\\x0001ff\"]|1|SELECT 1|");
  CHECK(out[1] == "extended|SELECT $1|[\"a\\\"b\\\\c\\u000a\"]|1|SELECT 1|");
}

TEST_CASE("SSLRequest, its one-byte answer and a CancelRequest are understood", "[postgres][decoder]") {
  Heard h;
  PgDecoder d(h, opts(false));
  d.clientBytes(sslRequest());
  d.serverBytes("N");
  d.clientBytes(startup("bob", "db"));
  d.serverBytes(authOk() + ready());
  CHECK(h.ssl == 1);
  CHECK(h.startups == std::vector<std::string>{"bob@db"});
  CHECK(h.malformed.empty());
  Heard c;
  PgDecoder dc(c, opts(false));
  dc.clientBytes(cancel(99, -5));
  REQUIRE(c.cancels.size() == 1);
  CHECK(c.cancels[0] == std::make_pair(99, -5));
}

TEST_CASE("malformed input is reported once with a reason and the decoder goes inert", "[postgres][decoder][malformed]") {
  struct Case {
    const char* name;
    std::vector<Read> reads;
    bool after_login;
    std::string expect;
  };
  const std::vector<Case> cases{
      {"unknown client message type", {{true, msg('!', "xx")}}, true, "unknown message type 0x21"},
      {"unknown server message type", {{false, msg('~', "")}}, true, "server: unknown message type 0x7e"},
      {"length below 4", {{true, std::string("Q") + i32(2)}}, true, "invalid message length 2"},
      {"oversized message", {{true, std::string("Q") + i32(0x7fffffff)}}, true, "exceeds the limit"},
      {"startup length too large", {{true, i32(1 << 20) + i32(196608)}}, false, "invalid startup packet length"},
      {"garbage instead of a startup packet", {{true, "GET / HTTP/1.1\r\n\r\n"}}, false, "invalid startup packet length"},
      {"unsupported protocol version", {{true, i32(8) + i32(131072)}}, false, "invalid StartupMessage"},
      {"query without NUL", {{true, msg('Q', "SELECT 1")}}, true, "Query without its terminating NUL"},
      {"truncated Bind parameters", {{true, msg('B', z("") + z("") + i16(0) + i16(1) + i32(100) + "abc")}}, true,
       "malformed Bind parameters"},
      {"negative parameter length", {{true, msg('B', z("") + z("") + i16(0) + i16(1) + i32(-7))}}, true,
       "malformed Bind parameters"},
      {"truncated Parse", {{true, msg('P', z("s") + "SELECT")}}, true, "malformed Parse"},
      {"bad Close kind", {{true, msg('C', "Q" + z("x"))}}, true, "malformed Close"},
      {"bad answer to SSLRequest", {{true, sslRequest()}, {false, "X"}}, false, "unexpected answer"},
      {"server data before startup", {{false, ready()}}, false, "data before the client's startup"},
      {"short ReadyForQuery", {{false, msg('Z', "")}}, true, "malformed ReadyForQuery"},
  };
  for (const auto& c : cases) {
    for (std::size_t step : {0, 1}) {
      INFO(c.name << " step " << step);
      Heard h;
      PgDecoder d(h, opts(c.after_login));
      feed(d, c.reads, step);
      // Anything after the failure is ignored, including a valid query.
      d.clientBytes(query("SELECT 1"));
      d.serverBytes(complete("SELECT 1") + ready());
      d.finish();
      REQUIRE(h.malformed.size() == 1);
      CHECK(h.malformed[0].find(c.expect) != std::string::npos);
      CHECK(d.inert());
      CHECK(h.stmts.empty());
    }
  }
}

TEST_CASE("an oversized message is refused from its header, before its body arrives", "[postgres][decoder][malformed]") {
  Heard h;
  auto o = opts(true);
  o.max_message = 1024;
  PgDecoder d(h, o);
  d.clientBytes(std::string("Q") + i32(4096));
  REQUIRE(h.malformed.size() == 1);
  CHECK(h.malformed[0] == "client: message of 4096 bytes exceeds the limit of 1024");
}

TEST_CASE("too many prepared statements stop the decoding instead of growing without bound", "[postgres][decoder][malformed]") {
  Heard h;
  PgDecoder d(h, opts(true));
  std::string batch;
  for (std::size_t i = 0; i <= PgDecoder::kMaxNamed; ++i) batch += parse("s" + std::to_string(i), "SELECT 1");
  d.clientBytes(batch);
  REQUIRE(h.malformed.size() == 1);
  CHECK(h.malformed[0] == "client: too many prepared statements");
}

TEST_CASE("a statement text is capped", "[postgres][decoder]") {
  const std::string big(PgDecoder::kMaxStatementText + 100, 'x');
  auto out = run({{true, query(big)}, {false, complete("SELECT 0") + ready()}}, 0, true);
  REQUIRE(out.size() == 1);
  CHECK(out[0].size() < big.size());
  CHECK(out[0].find("...|") != std::string::npos);
}

TEST_CASE("row counts come from the command tag", "[postgres][decoder]") {
  CHECK(vigil::pg::rowsOfTag("SELECT 5") == 5);
  CHECK(vigil::pg::rowsOfTag("INSERT 0 3") == 3);
  CHECK(vigil::pg::rowsOfTag("CREATE TABLE") == -1);
  CHECK(vigil::pg::rowsOfTag("") == -1);
  CHECK(vigil::pg::rowsOfTag("SELECT 99999999999999999999999") == -1);
}

TEST_CASE("the SCRAM-SHA-256 client matches RFC 7677's test vector", "[postgres][scram]") {
  vigil::pg::ScramClient c("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
  CHECK(c.first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const std::string server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  CHECK(c.final(server_first) ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(c.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  CHECK_FALSE(c.verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  CHECK_FALSE(c.verify("e=invalid-proof"));
}

TEST_CASE("the SCRAM client refuses a server nonce that does not extend its own", "[postgres][scram]") {
  vigil::pg::ScramClient c("pencil", "abc");
  c.first();
  CHECK(c.final("r=zzz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").empty());
  CHECK(c.error().find("nonce") != std::string::npos);
  vigil::pg::ScramClient d("pencil", "abc");
  d.first();
  CHECK(d.final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0").empty());
  CHECK(d.error().find("iteration") != std::string::npos);
}

TEST_CASE("the md5 password answer is md5(md5(password + user) + salt)", "[postgres][md5]") {
  CHECK(vigil::pg::md5Password("alice", "s3cret", std::string("\x01\x02\x03\x04", 4)) == "md5b79948bbeb35dee03ab8fe15a839030b");
}
