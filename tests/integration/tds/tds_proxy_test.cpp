// SQL Server sessions through Vigil's TDS proxy with real clients (FreeTDS tsql, Node's tedious)
// against the TDS test server: login with a launch token, the vault credential reaching the
// target, encryption modes, the statement transcript, a block rule, refusals, bad input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tds_env.hpp"

using namespace tds_e2e;

namespace {
bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
/// Reads until the peer closes (or 10 s); returns what arrived.
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}
}  // namespace

TEST_CASE("tsql logs in through Vigil with a launch token and the target sees the vault account", "[tds][e2e][tsql]") {
  auto& w = world();
  for (const std::string mode : {"request", "require", "off"}) {
    INFO("FreeTDS encryption = " << mode);
    const auto account = w.makeAccount();
    const auto before = w.server().seen().logins.size();
    auto r = w.tsql("sa_vault", w.token(account), mode, "select name from t\ngo\nupdate t set x = 1\ngo\nselect boom\ngo");
    INFO(r.output);
    CHECK(has(r.output, "(3 rows affected)"));
    CHECK(has(r.output, "boom from the test server"));
    const auto seen = w.server().seen();
    REQUIRE(seen.logins.size() == before + 1);
    CHECK(seen.logins.back() == "sa_vault:ok");  // the vault password, not the token, reached the target
    // FreeTDS: request -> login-only encryption (0), require -> full (1), off -> none (2); Vigil
    // asks the target for full encryption when the client does, login-only otherwise.
    CHECK(seen.encryption.back() == (mode == "require" ? 1 : 0));

    const auto events = w.sqlEvents(account, 3);
    REQUIRE(events.size() >= 3);
    const json* sel = World::find(events, "select name from t");
    const json* upd = World::find(events, "update t set x = 1");
    const json* boom = World::find(events, "select boom");
    REQUIRE(sel);
    REQUIRE(upd);
    REQUIRE(boom);
    CHECK((*sel)["details"]["rows"] == 3);
    CHECK((*sel)["details"]["kind"] == "batch");
    CHECK((*upd)["details"]["rows"] == 2);
    CHECK((*boom)["details"]["error"] == "boom from the test server");
    CHECK((*sel)["details"]["duration_ms"].get<std::int64_t>() >= 0);
    const auto sessions = w.sessions(account);
    REQUIRE_FALSE(sessions.empty());
    CHECK(sessions.front()["protocol"] == "tds");
    CHECK(sessions.front()["via"] == "tds");
  }
}

TEST_CASE("tedious runs batches and sp_executesql RPCs through Vigil with and without encryption", "[tds][e2e][tedious]") {
  auto& w = world();
  for (bool encrypt : {true, false}) {
    INFO("encrypt " << encrypt);
    const auto account = w.makeAccount();
    json steps = json::array({{{"batch", "select 1"}},
                              {{"rpc", "select v from t where id = @p1"},
                               {"params", json::array({{{"name", "p1"}, {"type", "Int"}, {"value", 42}}})}},
                              {{"batch", "boom"}}});
    auto r = w.tedious("sa_vault", w.token(account), encrypt, steps);
    INFO(r.output);
    CHECK(has(r.output, "\"connected\":true"));
    CHECK(has(r.output, R"({"sql":"select 1","kind":"batch","rows":3,"error":null)"));
    CHECK(has(r.output, R"("kind":"rpc","rows":3,"error":null)"));
    CHECK(has(r.output, "boom from the test server"));
    CHECK(w.server().seen().logins.back() == "sa_vault:ok");

    const auto events = w.sqlEvents(account, 4);  // tedious' own SET batch after login, then ours
    const json* rpc = World::find(events, "select v from t where id = @p1");
    REQUIRE(rpc);
    CHECK((*rpc)["details"]["kind"] == "rpc");
    CHECK((*rpc)["details"]["parameters"] == json::array({"42"}));
    CHECK((*rpc)["details"]["rows"] == 3);
    REQUIRE(World::find(events, "set ansi_nulls on"));
  }
}

TEST_CASE("A cancel (ATTENTION) passes through Vigil and the statement is recorded as cancelled", "[tds][e2e][attention]") {
  auto& w = world();
  const auto account = w.makeAccount();
  const int before = w.server().seen().attentions;
  json steps = json::array({{{"batch", "waitfor delay '00:00:30'"}, {"cancel_after_ms", 500}}, {{"batch", "select 2"}}});
  auto r = w.tedious("sa_vault", w.token(account), true, steps);
  INFO(r.output);
  CHECK(has(r.output, "Canceled"));
  CHECK(has(r.output, R"({"sql":"select 2","kind":"batch","rows":3,"error":null)"));  // the session goes on
  CHECK(w.server().seen().attentions == before + 1);
  const auto events = w.sqlEvents(account, 3);
  const json* waited = World::find(events, "waitfor delay");
  REQUIRE(waited);
  CHECK((*waited)["details"]["error"] == "cancelled");
}

TEST_CASE("A block rule refuses xp_cmdshell: the client gets an error and the target never receives it",
          "[tds][e2e][block]") {
  auto& w = world();
  const auto account = w.makeAccount();
  const std::string marker = "vigilmarker" + randomHex(4);
  auto r = w.tsql("sa_vault", w.token(account), "request",
                  "EXEC xp_cmdshell 'whoami " + marker + "'\ngo\nselect after_block\ngo");
  INFO(r.output);
  CHECK(has(r.output, "Vigil blocked this statement"));
  CHECK(has(r.output, "(3 rows affected)"));  // the session goes on
  CHECK_FALSE(w.server().received(marker));
  CHECK(w.server().received("select after_block"));
  const auto events = w.sqlEvents(account, 2);
  const json* blocked = World::find(events, marker);
  REQUIRE(blocked);
  CHECK((*blocked)["details"]["blocked"] == true);
}

TEST_CASE("Wrong, reused and expired launch tokens get a login failure the client understands", "[tds][e2e][refusal]") {
  auto& w = world();
  const auto account = w.makeAccount();
  const auto logins_before = w.server().seen().logins.size();
  auto wrong = w.tsql("sa_vault", "not-a-token", "request", "select 1\ngo");
  INFO(wrong.output);
  CHECK(has(wrong.output, "18456"));
  CHECK(has(wrong.output, "Login failed"));
  CHECK_FALSE(has(wrong.output, "rows affected"));

  const std::string token = w.token(account);
  auto first = w.tsql("sa_vault", token, "request", "select 1\ngo");
  CHECK(has(first.output, "(3 rows affected)"));
  auto again = w.tsql("sa_vault", token, "request", "select 1\ngo");
  INFO(again.output);
  CHECK(has(again.output, "18456"));
  CHECK_FALSE(has(again.output, "rows affected"));

  const std::string expiring = w.token(account);
  std::this_thread::sleep_for(std::chrono::seconds(16));  // launch_token_ttl_seconds: 15
  auto late = w.tedious("sa_vault", expiring, true, json::array({{{"batch", "select 1"}}}));
  INFO(late.output);
  CHECK(has(late.output, "connect_error"));
  CHECK(has(late.output, "Login failed"));
  // Only the one good login reached the target.
  CHECK(w.server().seen().logins.size() == logins_before + 1);
}

TEST_CASE("A token presented with another login name is refused", "[tds][e2e][refusal]") {
  auto& w = world();
  const auto account = w.makeAccount();
  auto r = w.tsql("someone_else", w.token(account), "request", "select 1\ngo");
  INFO(r.output);
  CHECK(has(r.output, "18456"));
  CHECK(has(r.output, "launch token is for login 'sa_vault'"));
}

TEST_CASE("A target whose certificate differs from its pin is refused before the login is sent", "[tds][e2e][pin]") {
  auto& w = world();
  const auto before = w.server().seen().logins.size();
  std::string pin;  // a well-formed SHA-256 that is not the test server's
  for (int i = 0; i < 32; ++i) pin += std::string(i ? ":" : "") + "5A";
  const auto account = w.makeAccount("", 0, pin);
  auto r = w.tsql("sa_vault", w.token(account), "request", "select 1\ngo");
  INFO(r.output);
  CHECK(has(r.output, "does not match its pinned fingerprint"));
  CHECK(w.server().seen().logins.size() == before);  // the vault credential never reached it
  for (int i = 0; i < 300; ++i) {
    auto list = w.sessions(account);
    if (!list.empty() && list.front()["end_reason"].is_string() && list.front()["end_reason"] != "") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto list = w.sessions(account);
  REQUIRE(list.size() == 1);
  CHECK(list.front()["end_reason"] == "host_key_mismatch");
}

TEST_CASE("A wrong vault password fails the target login and the person is told", "[tds][e2e][refusal]") {
  auto& w = world();
  const auto account = w.makeAccount("not-the-password");
  auto r = w.tsql("sa_vault", w.token(account), "request", "select 1\ngo");
  INFO(r.output);
  CHECK(has(r.output, "Vigil could not log in to the target"));
  CHECK(w.server().seen().logins.back() == "sa_vault:bad-password");
  // The session ended as target_auth_failed.
  // The client is told before the session row is closed: wait for the end reason to be written.
  for (int i = 0; i < 300; ++i) {
    auto list = w.sessions(account);
    if (!list.empty() && list.front()["end_reason"].is_string() && list.front()["end_reason"] != "") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto list = w.sessions(account);
  REQUIRE(list.size() == 1);
  CHECK(list.front()["end_reason"] == "target_auth_failed");
}

TEST_CASE("Garbage and truncated PRELOGIN are refused and the listener keeps serving", "[tds][e2e][malformed]") {
  auto& w = world();
  {
    int fd = connectTo(w.port());
    const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, garbage.data(), garbage.size(), 0);
    CHECK(readAll(fd).empty());  // closed without an answer
    ::close(fd);
  }
  {
    int fd = connectTo(w.port());
    const std::string truncated("\x12\x01\x00\x40\x00\x00\x01\x00\x00\x00", 10);  // says 64 bytes, sends 10
    ::send(fd, truncated.data(), truncated.size(), 0);
    ::shutdown(fd, SHUT_WR);
    CHECK(readAll(fd).empty());
    ::close(fd);
  }
  {
    int fd = connectTo(w.port());
    // A whole PRELOGIN packet whose option table points outside the message.
    const std::string bad("\x12\x01\x00\x0E\x00\x00\x01\x00\x00\x7F\x00\x00\x06\xFF", 14);
    ::send(fd, bad.data(), bad.size(), 0);
    CHECK(readAll(fd).empty());
    ::close(fd);
  }
  // The refusal is logged by the connection's thread, which may still be writing it.
  auto log = w.env().server().output();
  for (int i = 0; i < 40 && !(has(log, "malformed PRELOGIN") && has(log, "the first message is not PRELOGIN")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = w.env().server().output();
  }
  CHECK(has(log, "malformed PRELOGIN"));
  CHECK(has(log, "the first message is not PRELOGIN"));
  const auto account = w.makeAccount();
  auto r = w.tsql("sa_vault", w.token(account), "request", "select 1\ngo");
  CHECK(has(r.output, "(3 rows affected)"));
}
