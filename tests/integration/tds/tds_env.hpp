#pragma once
// One `vigil serve` with the TDS proxy on, one TDS test server (tests/support/tds_test_server.hpp)
// as the target, a safe with a person who may connect, and helpers to run the real clients:
// FreeTDS `tsql` and Node's `tedious` (tedious_client.mjs).
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"
#include "support/tds_test_server.hpp"

namespace tds_e2e {

using namespace api_test;
using vigil::test::TdsTestServer;

inline std::string S(std::int64_t v) { return std::to_string(v); }

class World {
 public:
  World()
      : env_("tds_proxy: {enabled: true, port: 0}\nsessions: {launch_token_ttl_seconds: 15}\n"),
        tmp_(vigil::test::makeTempDir("vigil-tds")),
        vault_password_("Vault-" + randomHex(12)),
        server_("sa_vault", vault_password_, tmp_) {
    alice = env_.makeUser({"admin"});
    auto r = env_.admin().post("/api/v1/safes", {{"name", uniq("tds-safe")}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    safe = r.json()["id"];
    r = env_.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(alice.id),
                         {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(r.status == 200);
    for (const char* mode : {"off", "require", "request"}) {
      std::ofstream(tmp_ + "/freetds-" + mode + ".conf") << "[global]\n\ttds version = 7.4\n\tencryption = " << mode << "\n";
    }
  }
  ~World() {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }

  Env& env() { return env_; }
  TdsTestServer& server() { return server_; }
  int port() { return env_.server().tdsPort(); }
  const std::string& tmp() const { return tmp_; }

  /// A fresh target and vault account on the test server (one per test: its sessions are the
  /// test's own; an account is unique per target and login).
  std::int64_t makeAccount(const std::string& password = "", int port = 0, const std::string& pinned = "") {
    json target{{"name", uniq("sql")}, {"protocol", "tds"}, {"address", "127.0.0.1"}, {"port", port ? port : server_.port()}};
    if (!pinned.empty()) target["certificate_fingerprint"] = pinned;
    auto r = env_.admin().post("/api/v1/targets", target);
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::int64_t t = r.json()["id"];
    r = env_.admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t}, {"username", "sa_vault"},
                                               {"secret_kind", "password"},
                                               {"secret", password.empty() ? vault_password_ : password}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  json launch(std::int64_t account) {
    auto r = alice.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json();
  }
  std::string token(std::int64_t account) { return launch(account)["token"]; }

  /// Runs tsql through Vigil with `sql` (lines; "go" runs a batch) on stdin.
  vigil::test::CommandResult tsql(const std::string& user, const std::string& password, const std::string& encryption,
                                  const std::string& sql, int port = 0) {
    const std::string in = tmp_ + "/in-" + randomHex(4) + ".sql";
    std::ofstream(in) << sql << "\nexit\n";
    return vigil::test::runCommand("FREETDSCONF=" + tmp_ + "/freetds-" + encryption + ".conf timeout 30 tsql -H 127.0.0.1 -p " +
                                   S(port ? port : this->port()) + " -U '" + user + "' -P '" + password + "' < " + in);
  }
  /// Runs tedious_client.mjs through Vigil; one JSON line per statement in the output.
  vigil::test::CommandResult tedious(const std::string& user, const std::string& password, bool encrypt,
                                     const json& steps) {
    const std::string script = std::string(VIGIL_SOURCE_DIR) + "/tests/integration/tds/tedious_client.mjs";
    const std::string steps_file = tmp_ + "/steps-" + randomHex(4) + ".json";
    std::ofstream(steps_file) << steps.dump();
    return vigil::test::runCommand("timeout 30 node " + script + " 127.0.0.1 " + S(port()) + " '" + user + "' '" + password +
                                   "' " + (encrypt ? "true" : "false") + " \"$(cat " + steps_file + ")\"");
  }

  /// The sessions of `account` (newest first).
  std::vector<json> sessions(std::int64_t account) {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account));
    REQUIRE(r.status == 200);
    json j = r.json();
    return j["items"].get<std::vector<json>>();
  }
  /// The `sql` events of the account's only session once at least `n` are there (waits up to 15 s).
  std::vector<json> sqlEvents(std::int64_t account, std::size_t n) {
    std::vector<json> items;
    for (int i = 0; i < 150; ++i) {
      auto list = sessions(account);
      if (!list.empty()) {
        auto r = env_.admin().get("/api/v1/sessions/" + list.front()["id"].get<std::string>() + "/events?kind=sql");
        REQUIRE(r.status == 200);
        json j = r.json();
        items = j["items"].get<std::vector<json>>();
        if (items.size() >= n) return items;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return items;
  }
  static const json* find(const std::vector<json>& events, const std::string& text) {
    for (const auto& e : events)
      if (e["text"].get<std::string>().find(text) != std::string::npos) return &e;
    return nullptr;
  }

  Principal alice;
  std::int64_t safe = 0;

 private:
  Env env_;
  std::string tmp_;
  std::string vault_password_;
  TdsTestServer server_;
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace tds_e2e
