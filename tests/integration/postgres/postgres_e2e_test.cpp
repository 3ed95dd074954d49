// PostgreSQL through Vigil end to end: real psql and pgbench clients, a real PostgreSQL target
// (TLS + SCRAM-SHA-256 for the vault account), launch tokens, the statement transcript, a block
// rule, bad input at the listener.
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "pg_env.hpp"

using namespace pg_test;

namespace {

/// Raw bytes to the listener; returns what it answered before closing (up to 4 KiB, 5 s).
std::string rawExchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while (out.size() < 4096 && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::string sessionIdFromOutput(World& w) { return w.newestSession()["id"]; }

}  // namespace

TEST_CASE("psql with a launch token reaches the target as the vault account over TLS on both legs", "[postgres][e2e]") {
  auto& w = world();
  auto l = w.launch();
  REQUIRE(l.contains("postgres"));
  const std::string cmd = l["postgres"]["command"];
  INFO(cmd);
  CHECK(contains(cmd, "psql \"host=127.0.0.1 port=" + S(w.vigil_port) + " user=dba dbname="));
  CHECK(contains(cmd, "sslmode=require"));
  auto r = w.psql(l["token"], "-c \"SELECT current_user, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                              "WHERE pid = pg_backend_pid()\" -c \"SELECT count(*) FROM items\" -c \"SHOW ssl\"");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "dba|t\n5\non"));
  // The client's leg: psql's own view of its connection.
  auto c = w.psql(w.token(), "-c '\\conninfo'");
  INFO(c.output);
  REQUIRE(c.exit_code == 0);
  CHECK(contains(c.output, "SSL connection (protocol: TLSv1."));
  const std::string id = sessionIdFromOutput(w);
  auto s = w.endedSession(id);
  CHECK(s["protocol"] == "postgres");
  CHECK(s["via"] == "postgres");
  CHECK(s["end_reason"] == "client_closed");
}

TEST_CASE("the transcript holds every statement with its row count, tag and errors", "[postgres][e2e][transcript]") {
  auto& w = world();
  auto r = w.psql(w.token(), "-c \"CREATE TABLE IF NOT EXISTS t_log (id int)\" -c \"INSERT INTO t_log VALUES (1), (2), (3)\" "
                             "-c \"SELECT * FROM items WHERE id <= 2\" -c \"SELECT * FROM no_such_table\"");
  INFO(r.output);
  CHECK(contains(r.output, "relation \"no_such_table\" does not exist"));
  const std::string id = sessionIdFromOutput(w);
  auto ev = w.sqlEvents(id, 4);
  REQUIRE(ev.size() >= 4);
  auto find = [&](const std::string& text) -> json {
    for (auto& e : ev)
      if (e["text"] == text) return e;
    return json();
  };
  auto ins = find("INSERT INTO t_log VALUES (1), (2), (3)");
  REQUIRE(ins.is_object());
  CHECK(ins["details"]["rows"] == 3);
  CHECK(ins["details"]["command_tag"] == "INSERT 0 3");
  CHECK(ins["details"]["kind"] == "query");
  CHECK(ins["details"]["blocked"] == false);
  CHECK(ins["details"]["duration_ms"].is_number());
  auto sel = find("SELECT * FROM items WHERE id <= 2");
  REQUIRE(sel.is_object());
  CHECK(sel["details"]["rows"] == 2);
  auto bad = find("SELECT * FROM no_such_table");
  REQUIRE(bad.is_object());
  CHECK(contains(bad["details"]["error"].get<std::string>(), "42P01"));
  // Search finds statements across sessions.
  auto found = w.env().admin().get("/api/v1/search?text=" + api_test::urlEncode("t_log"));
  INFO(found.body.substr(0, 500));
  CHECK(found.status == 200);
  CHECK(contains(found.body, id));
}

TEST_CASE("extended-protocol statements are recorded with their parameters (pgbench -M extended)", "[postgres][e2e][extended]") {
  auto& w = world();
  const std::string script = vigil::test::makeTempDir("vigil-pgb") + "/q.sql";
  {
    std::ofstream f(script);
    f << "\\set wanted 3\nSELECT name FROM items WHERE id = :wanted;\n";
  }
  // pgbench opens a probe connection before its clients: an identity login, not a one-time token.
  auto r = runCommand("PGPASSWORD=" + shq(w.alice.password) + " PGSSLMODE=require pgbench -n -M extended -t 2 -f " + script +
                      " -h 127.0.0.1 -p " + S(w.vigil_port) + " -U " + shq(w.identity()) + " shop");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string id = sessionIdFromOutput(w);
  auto ev = w.sqlEvents(id, 2);
  int matched = 0;
  for (auto& e : ev) {
    if (e["text"] != "SELECT name FROM items WHERE id = $1;" && e["text"] != "SELECT name FROM items WHERE id = $1") continue;
    ++matched;
    CHECK(e["details"]["kind"] == "extended");
    CHECK(e["details"]["parameters"] == json::array({"3"}));
    CHECK(e["details"]["rows"] == 1);
  }
  CHECK(matched == 2);
}

TEST_CASE("a block rule stops DROP TABLE: the client gets an error, the table stays, the session goes on", "[postgres][e2e][block]") {
  auto& w = world();
  auto r = w.psql(w.token(), "-v ON_ERROR_STOP=0 -c \"DROP TABLE items\" -c \"SELECT count(*) FROM items\"");
  INFO(r.output);
  CHECK(contains(r.output, "Vigil blocked this statement"));
  CHECK(contains(r.output, "block-drop-table"));
  CHECK(contains(r.output, "\n5"));  // the next statement in the same session ran
  CHECK(w.target.sql("shop", "SELECT count(*) FROM items") == "5");
  const std::string id = sessionIdFromOutput(w);
  auto ev = w.sqlEvents(id, 2);
  bool blocked = false;
  for (auto& e : ev)
    if (e["text"] == "DROP TABLE items") blocked = e["details"]["blocked"] == true;
  CHECK(blocked);
  // The target never saw it: its log of statements is the proof pg_stat_statements would give;
  // here the table's existence and the refused-statement row are.
  // Extended protocol too: the Parse is refused, the batch is swallowed up to its Sync.
  const std::string script = vigil::test::makeTempDir("vigil-pgb") + "/drop.sql";
  {
    std::ofstream f(script);
    f << "DROP TABLE items;\n";
  }
  auto b = runCommand("PGPASSWORD=" + shq(w.alice.password) + " PGSSLMODE=require pgbench -n -M extended -t 1 -f " + script +
                      " -h 127.0.0.1 -p " + S(w.vigil_port) + " -U " + shq(w.identity()) + " shop");
  INFO(b.output);
  CHECK(contains(b.output, "Vigil blocked this statement"));
  CHECK(w.target.sql("shop", "SELECT count(*) FROM items") == "5");
}

TEST_CASE("the target's certificate is pinned on first use; a different pinned one is refused before the login",
          "[postgres][e2e][pin]") {
  auto& w = world();
  const std::string expected = w.target.certFingerprint();
  REQUIRE(expected.size() == 95);  // 32 hex bytes with colons
  {
    auto [tid, account] = w.makeTarget(true, "");
    auto r = w.psql(w.tokenFor(account), "-c 'SELECT 1'");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(w.getJson("/api/v1/targets/" + S(tid))["certificate_fingerprint"] == expected);
  }
  {
    // Pinned to another certificate: refused, and the vault password never left Vigil.
    std::string other = expected;
    other[0] = other[0] == 'A' ? 'B' : 'A';
    auto [tid, account] = w.makeTarget(false, other);
    auto r = w.psql(w.tokenFor(account), "-c 'SELECT 1'");
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(contains(r.output, "does not match the pinned fingerprint"));
    const json items = w.getJson("/api/v1/sessions?account_id=" + S(account))["items"];
    REQUIRE(items.size() == 1);
    json s = items[0];
    for (int i = 0; i < 300 && s["end_reason"] == ""; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      s = w.getJson("/api/v1/sessions/" + s["id"].get<std::string>());
    }
    CHECK(s["end_reason"] == "host_key_mismatch");
    CHECK(w.getJson("/api/v1/targets/" + S(tid))["certificate_fingerprint"] == other);
  }
}

TEST_CASE("wrong, reused and expired tokens are refused with a FATAL 28P01", "[postgres][e2e][auth]") {
  auto& w = world();
  auto wrong = w.psql("not-a-token", "-c 'SELECT 1'");
  INFO(wrong.output);
  CHECK(wrong.exit_code != 0);
  CHECK(contains(wrong.output, "unknown or invalid launch token"));

  const std::string t = w.token();
  auto first = w.psql(t, "-c 'SELECT 1'");
  REQUIRE(first.exit_code == 0);
  auto again = w.psql(t, "-c 'SELECT 1'");
  INFO(again.output);
  CHECK(again.exit_code != 0);
  CHECK(contains(again.output, "launch token already used"));

  const std::string old = w.token();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto late = w.psql(old, "-c 'SELECT 1'");
  INFO(late.output);
  CHECK(late.exit_code != 0);
  CHECK(contains(late.output, "launch token expired"));
}

TEST_CASE("a token is refused without TLS (sslmode=disable)", "[postgres][e2e][auth]") {
  auto& w = world();
  auto r = w.psql(w.token(), "-c 'SELECT 1'", "disable");
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(contains(r.output, "Vigil requires TLS"));
}

TEST_CASE("garbage bytes to the listener get a clear error and the listener keeps serving", "[postgres][e2e][malformed]") {
  auto& w = world();
  auto http = rawExchange(w.vigil_port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(contains(http, "invalid startup packet"));
  CHECK(http.size() > 0);
  CHECK(http[0] == 'E');
  std::string huge = std::string("\x7f\xff\xff\xff", 4) + std::string(100, 'A');
  CHECK(contains(rawExchange(w.vigil_port, huge), "invalid startup packet length"));
  std::string badver("\x00\x00\x00\x08\x00\x02\x00\x00", 8);
  CHECK(contains(rawExchange(w.vigil_port, badver), "unsupported frontend protocol"));
  auto ok = w.psql(w.token(), "-c 'SELECT 42'");
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.output, "42"));
  api_test::checkAlive();
}

namespace {
/// The ids of the live sessions the SOC sees now.
std::set<std::string> liveIds(World& w) {
  std::set<std::string> ids;
  auto r = w.soc.http().get("/api/v1/live/sessions");
  REQUIRE(r.status == 200);
  const json body = r.json();
  for (auto& s : body["items"]) ids.insert(s["id"].get<std::string>());
  return ids;
}
/// The PostgreSQL session that appears in the live list and was not in `before`.
std::string newLiveSession(World& w, const std::set<std::string>& before) {
  for (int i = 0; i < 100; ++i) {
    auto r = w.soc.http().get("/api/v1/live/sessions");
    if (r.status == 200) {
      const json body = r.json();
      for (auto& s : body["items"])
        if (s.value("protocol", "") == "postgres" && !before.count(s["id"].get<std::string>())) return s["id"];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}
/// A SOC control; listed from its start, a session is controllable once the target is up
/// (retried while "not_live").
auto control(World& w, const std::string& id, const std::string& action, const json& body) {
  auto t = w.soc.http().post("/api/v1/sessions/" + id + "/" + action, body);
  for (int i = 0; i < 50 && t.errorCode() == "not_live"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    t = w.soc.http().post("/api/v1/sessions/" + id + "/" + action, body);
  }
  return t;
}
}  // namespace

TEST_CASE("the SOC terminates a SQL session: both legs close and the end reason is terminated", "[postgres][e2e][live]") {
  auto& w = world();
  // A session that waits on the target; the SOC ends it. Sessions of earlier cases may still be
  // listed while they end: take the new one.
  const auto before = liveIds(w);
  vigil::test::CommandResult out;
  std::thread client([&] { out = w.psql(w.token(), "-c 'SELECT pg_sleep(30)'"); });
  const std::string id = newLiveSession(w, before);
  REQUIRE_FALSE(id.empty());
  auto t = control(w, id, "terminate", {{"reason", "test"}});
  INFO(t.body);
  CHECK((t.status == 200 || t.status == 202 || t.status == 204));
  client.join();
  INFO(out.output);
  CHECK(contains(out.output, "Vigil terminated this session"));
  auto s = w.endedSession(id);
  CHECK(s["end_reason"] == "terminated");
}

TEST_CASE("the SOC suspends a SQL session: the next statement waits, the client is told; resume runs it", "[postgres][e2e][live]") {
  auto& w = world();
  const auto before = liveIds(w);
  // The first statement keeps the target busy while the SOC suspends; the second is sent after it.
  vigil::test::CommandResult out;
  std::thread client([&] { out = w.psql(w.token(), "-c 'SELECT pg_sleep(2)' -c \"SELECT 'after-' || 6*7\""); });
  const std::string id = newLiveSession(w, before);
  REQUIRE_FALSE(id.empty());
  auto t = control(w, id, "suspend", {{"message", "DBA review"}});
  INFO(t.body);
  REQUIRE(t.status == 200);
  // pg_sleep ends at 2 s; the second statement then waits in Vigil, unread.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  auto held = w.sqlEvents(id, 1);
  for (auto& e : held) CHECK_FALSE(contains(e.value("text", ""), "after-"));
  auto r = w.soc.http().post("/api/v1/sessions/" + id + "/resume", json::object());
  INFO(r.body);
  CHECK(r.status == 200);
  client.join();
  INFO(out.output);
  CHECK(out.exit_code == 0);
  CHECK(contains(out.output, "after-42"));
  CHECK(contains(out.output, "Vigil suspended this session: DBA review"));
  auto events = w.sqlEvents(id, 2);
  bool ran = false;
  for (auto& e : events) ran = ran || contains(e.value("text", ""), "after-");
  CHECK(ran);
}

// Last: its thousands of statements keep the event writer busy for a while afterwards.
TEST_CASE("pgbench -c 4 -T 5 runs through Vigil with identity logins", "[postgres][e2e][pgbench]") {
  auto& w = world();
  const std::string user = w.identity();
  const std::string conn = "PGPASSWORD=" + shq(w.alice.password) + " PGSSLMODE=require";
  // pgbench -i drops its tables first: that goes to the target directly (the block rule would refuse it).
  auto init = runCommand("PGPASSWORD=" + shq(w.target.password()) + " PGSSLMODE=require pgbench -i -s 1 -q -h 127.0.0.1 -p " +
                         S(w.target.port()) + " -U dba shop");
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  auto r = runCommand(conn + " pgbench -n -c 4 -j 2 -T 5 -S -h 127.0.0.1 -p " + S(w.vigil_port) + " -U " + shq(user) + " shop");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "number of failed transactions: 0"));
  std::smatch m;
  static const std::regex tps(R"(tps = ([0-9.]+))");
  REQUIRE(std::regex_search(r.output, m, tps));
  CHECK(std::stod(m[1]) > 10.0);
}

TEST_CASE("an identity login of a user with TOTP is refused, telling them to use a launch token, and audited",
          "[postgres][e2e][identity]") {
  auto& w = world();
  Principal carol = w.env().makeUser({});
  auto m = w.env().admin().put("/api/v1/safes/" + S(w.safe) + "/members/" + S(carol.id), {{"permissions", {"connect"}}});
  REQUIRE(m.status == 200);
  auto en = carol.http().post("/api/v1/me/mfa/enroll", json::object());
  REQUIRE(en.status == 200);
  const auto key = api_test::base32Decode(en.json()["secret"].get<std::string>());
  REQUIRE(carol.http().post("/api/v1/me/mfa/confirm", {{"code", api_test::totpAt(key, api_test::nowStep())}}).status == 200);
  auto r = runCommand("PGPASSWORD=" + shq(carol.password) + " PGCONNECT_TIMEOUT=10 psql -X -At \"host=127.0.0.1 port=" +
                      S(w.vigil_port) + " user=" + carol.username + "%dba%" + w.target_name +
                      " dbname=shop sslmode=require\" -c 'SELECT 1'");
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(contains(r.output, "your Vigil user has TOTP: connect with a launch token from the portal"));
  bool audited = false;
  for (auto& row : w.env().audit(carol.username, "session_refused"))
    if (contains(row.dump(), "totp_missing")) audited = true;
  CHECK(audited);
}
