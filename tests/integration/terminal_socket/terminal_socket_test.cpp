// The browser terminal's WebSocket (GET /api/v1/accounts/{id}/terminal) against a real
// `vigil serve`: who gets an upgrade, how refusals look, and how a session that cannot reach its
// target ends. The full echo-through-sshd path is tests/browser/terminal.e2e.mjs.
#include "support/api_env.hpp"
#include "support/ws_client.hpp"

using namespace api_test;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

/// The shared test client (tests/support/ws_client.hpp) with the calls this file makes.
class TerminalClient : public vigil::test::WsClient {
 public:
  using WsClient::WsClient;
  beast::error_code connect(const std::string& target, const std::string& cookie, const std::string& origin) {
    return connectFrom(target, cookie, origin);
  }
  /// Reads until the server closes; returns the JSON text messages seen on the way.
  std::vector<json> readUntilClosed() {
    WsClient::readUntilClosed(std::chrono::seconds(120));
    return texts;
  }
  beast::error_code lastError() const { return close_ec; }
};

std::string origin() { return "https://localhost:" + std::to_string(env().port()); }

/// A safe with an SSH account whose target listens nowhere (port 1 on loopback).
struct Fixture {
  std::int64_t safe_id = 0;
  std::int64_t account_id = 0;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    auto& a = env().admin();
    auto s = a.post("/api/v1/safes", {{"name", uniq("term-safe")}, {"policy", {{"allowed_protocols", {"ssh"}}}}});
    INFO(s.body);
    REQUIRE(s.status == 201);
    x.safe_id = s.json()["id"].get<std::int64_t>();
    auto t = a.post("/api/v1/targets", {{"name", uniq("term-target")}, {"protocol", "ssh"}, {"address", "127.0.0.1"}, {"port", 1}});
    INFO(t.body);
    REQUIRE(t.status == 201);
    auto acc = a.post("/api/v1/accounts", {{"safe_id", x.safe_id},
                                           {"target_id", t.json()["id"]},
                                           {"username", "root"},
                                           {"secret_kind", "password"},
                                           {"secret", "Term-" + randomHex(8)}});
    INFO(acc.body);
    REQUIRE(acc.status == 201);
    x.account_id = acc.json()["id"].get<std::int64_t>();
    return x;
  }();
  return f;
}

std::string terminalPath(std::int64_t account_id, const std::string& query = "?cols=100&rows=30") {
  return "/api/v1/accounts/" + std::to_string(account_id) + "/terminal" + query;
}

}  // namespace

TEST_CASE("A plain GET of the terminal endpoint says to upgrade, and asks for a session first",
          "[integration][terminal]") {
  auto& f = fixture();
  auto r = env().admin().get(terminalPath(f.account_id));
  CHECK(r.status == 426);
  CHECK(r.errorCode() == "upgrade_required");
  auto anon = env().newClient()->get(terminalPath(f.account_id));
  CHECK(anon.status == 401);
}

TEST_CASE("A terminal upgrade without a portal session is refused with 401 before any WebSocket exists",
          "[integration][terminal]") {
  TerminalClient c(env().port());
  auto ec = c.connect(terminalPath(fixture().account_id), "", origin());
  CHECK(ec == websocket::error::upgrade_declined);
  CHECK(c.response().result_int() == 401);
  checkAlive();
}

TEST_CASE("A terminal upgrade from another site's page is refused with 403 even with a valid cookie",
          "[integration][terminal]") {
  TerminalClient c(env().port());
  auto ec = c.connect(terminalPath(fixture().account_id), env().admin().cookie(), "https://evil.example");
  CHECK(ec == websocket::error::upgrade_declined);
  CHECK(c.response().result_int() == 403);
  checkAlive();
}

TEST_CASE("Bad terminal sizes are refused with 400 before the upgrade", "[integration][terminal]") {
  for (const std::string q : {"?cols=0&rows=24", "?cols=80&rows=100000", "?cols=abc"}) {
    DYNAMIC_SECTION(q) {
      TerminalClient c(env().port());
      auto ec = c.connect(terminalPath(fixture().account_id, q), env().admin().cookie(), origin());
      CHECK(ec == websocket::error::upgrade_declined);
      CHECK(c.response().result_int() == 400);
    }
  }
}

TEST_CASE("A user who must still change their one-time password cannot open a terminal",
          "[integration][terminal]") {
  auto p = env().makeUser({"admin"}, false);
  auto client = env().newClient();
  REQUIRE(client->login(p.username, p.password).status == 200);
  TerminalClient c(env().port());
  auto ec = c.connect(terminalPath(fixture().account_id), client->cookie(), origin());
  CHECK(ec == websocket::error::upgrade_declined);
  CHECK(c.response().result_int() == 403);
}

TEST_CASE("A user without connect permission gets the socket, then a 'closed' message and close code 1008",
          "[integration][terminal]") {
  auto p = env().makeUser({"admin"});
  TerminalClient c(env().port());
  REQUIRE_FALSE(c.connect(terminalPath(fixture().account_id), p.http().cookie(), origin()));
  auto texts = c.readUntilClosed();
  CHECK(c.lastError() == websocket::error::closed);
  REQUIRE(texts.size() >= 1);
  CHECK(texts.back()["type"] == "closed");
  const std::string message = texts.back()["message"].get<std::string>();
  CHECK_FALSE(message.empty());
  CHECK(c.reason().code == 1008);
  CHECK(std::string(c.reason().reason.c_str()) == message);
  for (auto& t : texts) CHECK(t["type"] != "session");  // no session was started
  checkAlive();
}

TEST_CASE("A permitted user whose target is unreachable is told why, after the session id",
          "[integration][terminal]") {
  auto& f = fixture();
  auto p = env().makeUser({"admin"});
  auto m = env().admin().put("/api/v1/safes/" + std::to_string(f.safe_id) + "/members/" + std::to_string(p.id),
                             {{"permissions", {"connect"}}});
  INFO(m.body);
  REQUIRE(m.status / 100 == 2);
  TerminalClient c(env().port());
  REQUIRE_FALSE(c.connect(terminalPath(f.account_id), p.http().cookie(), origin()));
  // Unknown types are ignored; the socket stays up until the bridge reports the end.
  REQUIRE_FALSE(c.write(R"({"type":"hello"})"));
  auto texts = c.readUntilClosed();
  CHECK(c.lastError() == websocket::error::closed);
  REQUIRE_FALSE(texts.empty());
  CHECK(texts.back()["type"] == "closed");
  CHECK_FALSE(texts.back()["message"].get<std::string>().empty());
  INFO(json(texts).dump());
  // Whether the session row was written before the refusal depends on where it failed (an
  // unpinned host key is refused before dialing); when it was, its id came first.
  if (texts.size() == 2) CHECK(texts.front()["type"] == "session");
  checkAlive();
}
