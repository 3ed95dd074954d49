// Launch tokens: issued through the API to a user with `connect`, redeemed once by the proxy
// through the gatekeeper, refused when used, expired or unknown — every refusal audited.
#include <thread>

#include "server/services/ids.hpp"
#include "sessions_env.hpp"

using namespace sessions_test;
using Status = vigil::proto::Grant::Status;

TEST_CASE("a launch token issued through the API is redeemed once, then refused as already used",
          "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto alice = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, alice.u.id, {"connect"});

  auto r = alice.http->post("/api/v1/accounts/" + std::to_string(f.account.id) + "/launch", json::object());
  INFO(r.body);
  REQUIRE(r.status == 201);
  auto j = r.json();
  const std::string token = j["token"];
  CHECK(vigil::services::looksLikeLaunchToken(token));
  CHECK(j["protocol"] == "ssh");
  CHECK(j["account_id"] == f.account.id);
  CHECK(j["ssh"]["host"] == "vigil.example.test");
  CHECK(j["ssh"]["port"] == 2299);
  CHECK(j["ssh"]["user"] == token);
  CHECK(j["ssh"]["command"] == "ssh -p 2299 " + token + "@vigil.example.test");
  CHECK(r.headers["cache-control"] == "no-store");

  // Only the hash is stored, and the audit row does not carry the token.
  CHECK(e.psql("SELECT count(*) FROM launch_tokens WHERE token_hash = sha256('" + token + "'::bytea)") == "1");
  auto issued = e.lastAudit("launch_token_issue", std::to_string(f.account.id));
  REQUIRE(issued);
  CHECK((*issued)["_outcome"] == "ok");
  CHECK_FALSE(contains(issued->dump(), token));

  auto g = e.gk().redeemLaunchToken(token, sshClient());
  INFO(g.message);
  REQUIRE(g.status == Status::Ok);
  CHECK(g.user_id == alice.u.id);
  CHECK(g.username == alice.u.username);
  CHECK(g.account_id == f.account.id);
  CHECK(g.account_user == "root");
  CHECK(g.safe_id == f.safe.id);
  CHECK(g.target.name == f.target.name);
  CHECK(g.target.address == "127.0.0.1");
  CHECK(g.target.port == 22);
  CHECK(g.policy.record);
  CHECK(g.policy.allow_file_transfer);
  CHECK_FALSE(g.policy.allow_port_forwarding);
  CHECK(e.psql("SELECT used_from FROM launch_tokens WHERE token_hash = sha256('" + token + "'::bytea)") ==
        "198.51.100.7:50022");

  auto again = e.gk().redeemLaunchToken(token, sshClient("203.0.113.9:1"));
  CHECK(again.status == Status::Denied);
  CHECK(again.message == "launch token already used");
  auto a = e.lastAudit("session_refused", "token_used");
  REQUIRE(a);
  CHECK((*a)["reason"] == "token_used");
  CHECK((*a)["_outcome"] == "denied");
  CHECK((*a)["_actor"] == alice.u.username);
  CHECK((*a)["account_id"] == f.account.id);
  CHECK((*a)["client_addr"] == "203.0.113.9:1");
  CHECK((*a)["protocol"] == "ssh");
  CHECK((*a)["via"] == "ssh");
}

TEST_CASE("concurrent redeems of one launch token let exactly one through", "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto r = u.http->post("/api/v1/accounts/" + std::to_string(f.account.id) + "/launch", json::object());
  REQUIRE(r.status == 201);
  const std::string token = r.json()["token"];
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      if (e.gk().redeemLaunchToken(token, sshClient()).status == Status::Ok) ++ok;
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 1);
}

TEST_CASE("an expired launch token is refused as expired", "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto r = u.http->post("/api/v1/accounts/" + std::to_string(f.account.id) + "/launch", json::object());
  REQUIRE(r.status == 201);
  const std::string token = r.json()["token"];
  std::this_thread::sleep_for(std::chrono::milliseconds(Env::kTokenTtl * 1000 + 600));
  auto g = e.gk().redeemLaunchToken(token, sshClient());
  CHECK(g.status == Status::Denied);
  CHECK(g.message == "launch token expired");
  auto a = e.lastAudit("session_refused", "token_expired");
  REQUIRE(a);
  CHECK((*a)["_actor"] == u.u.username);
}

TEST_CASE("unknown and malformed launch tokens are refused without detail", "[integration][sessions][launch]") {
  auto& e = env();
  for (std::string t : {std::string(32, 'a'), std::string("abc"), std::string("root%web01"), std::string(""),
                        std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), std::string(5000, 'x')}) {
    auto g = e.gk().redeemLaunchToken(t, sshClient("192.0.2.44:7"));
    CHECK(g.status == Status::Denied);
    CHECK(g.message == "unknown or invalid launch token");
  }
  auto a = e.lastAudit("session_refused", "192.0.2.44:7");
  REQUIRE(a);
  CHECK((*a)["reason"] == "token_unknown");
}

TEST_CASE("a launch token is refused to a user without connect, and to a superuser who is not a member",
          "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto viewer = e.makeUser({"auditor"});
  e.store().setMember(f.safe.id, viewer.u.id, {"view_recordings"});
  const std::string path = "/api/v1/accounts/" + std::to_string(f.account.id) + "/launch";

  auto r = viewer.http->post(path, json::object());
  CHECK(r.status == 403);
  CHECK(r.errorCode() == "forbidden");
  CHECK(contains(r.body, "you do not have connect permission on safe " + f.safe.name));
  auto a = e.lastAudit("launch_token_issue", std::to_string(f.account.id));
  REQUIRE(a);
  CHECK((*a)["_outcome"] == "denied");
  CHECK((*a)["reason"] == "no_connect_permission");

  // A stranger does not learn that the account exists.
  auto stranger = e.makeUser({"admin"});
  auto s = stranger.http->post(path, json::object());
  CHECK(s.status == 404);

  // Roles do not replace membership: a superuser must be a member with connect.
  auto& admin = e.admin();
  auto su = admin.http->post(path, json::object());
  CHECK(su.status == 403);
  auto g = e.gk().authorizeUser(admin.u.id, f.account.id, sshClient());
  CHECK(g.status == Status::Denied);
  // Not a member: worded like a missing account, so a refusal does not reveal the safe's name.
  CHECK(g.message == "no account " + f.account.username + " on target " + f.account.target_name + " that you may use");
  e.store().setMember(f.safe.id, admin.u.id, {"connect"});
  CHECK(admin.http->post(path, json::object()).status == 201);

  // Permission withdrawn between issue and redeem: the redeem is refused.
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto ok = u.http->post(path, json::object());
  REQUIRE(ok.status == 201);
  e.store().setMember(f.safe.id, u.u.id, {"view_recordings"});
  auto late = e.gk().redeemLaunchToken(ok.json()["token"].get<std::string>(), sshClient());
  CHECK(late.status == Status::Denied);
  CHECK(late.message == "you do not have connect permission on safe " + f.safe.name);
  CHECK(e.lastAudit("session_refused", "no_connect_permission"));
}

TEST_CASE("the safe's protocol policy and the target's protocol are enforced", "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto rdp = vigil::proto::ClientInfo{"rdp", "198.51.100.7:3389", "ssh"};
  auto g = e.gk().authorizeUser(u.u.id, f.account.id, rdp);
  CHECK(g.status == Status::Denied);
  CHECK(contains(g.message, "is not an rdp account"));

  auto safe = f.safe;
  safe.policy.allowed_protocols = {"rdp"};
  e.store().updateSafe(safe);
  auto g2 = e.gk().authorizeUser(u.u.id, f.account.id, sshClient());
  CHECK(g2.status == Status::Denied);
  CHECK(g2.message == "safe " + f.safe.name + " does not allow ssh sessions");
  CHECK(e.lastAudit("session_refused", "protocol_not_allowed"));
  auto r = u.http->post("/api/v1/accounts/" + std::to_string(f.account.id) + "/launch", json::object());
  CHECK(r.status == 403);
}

TEST_CASE("the launch endpoint needs the CSRF header and rejects a body with unknown fields",
          "[integration][sessions][launch]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  const std::string path = "/api/v1/accounts/" + std::to_string(f.account.id) + "/launch";
  std::string csrf = u.http->csrf();
  u.http->csrf().clear();
  CHECK(u.http->post(path, json::object()).errorCode() == "csrf_failed");
  u.http->csrf() = csrf;
  auto bad = u.http->post(path, json{{"ttl", 999}});
  CHECK(bad.status == 400);
  CHECK(bad.errorCode() == "validation_failed");
  CHECK(u.http->post("/api/v1/accounts/999999999/launch", json::object()).status == 404);
  CHECK(u.http->post("/api/v1/accounts/abc/launch", json::object()).status == 404);
}
