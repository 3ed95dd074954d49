#pragma once
// One in-process Vigil for the session-core tests: the embedded PostgreSQL (started through
// vigil::Runtime in a temporary data directory, migrations applied), the vault, the
// SessionGatekeeper the SSH proxy calls, and the REST API on a real HTTPS listener — so a test
// can issue a launch token through the API and redeem it as the proxy would, in one process.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "server/crypto/tls_cert.hpp"
#include "server/runtime.hpp"
#include "server/services/auth_service.hpp"
#include "server/services/gatekeeper.hpp"
#include "support/https_client.hpp"
#include "support/vigil_server.hpp"
#include "web/api/api.hpp"
#include "web/https_server.hpp"

namespace sessions_test {

using json = nlohmann::json;
using vigil::test::HttpsClient;

inline std::string uniq(const std::string& prefix) {
  static std::atomic<int> n{0};
  static const std::string run = std::to_string(std::random_device{}() % 100000);
  return prefix + "-" + std::to_string(++n) + "-" + run;
}

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct User {
  vigil::store::User u;
  std::string password;
  std::shared_ptr<HttpsClient> http;
};

class Env {
 public:
  static constexpr int kTokenTtl = 2;  // seconds: short, so the expiry test does not wait long

  Env() : dir_(vigil::test::makeTempDir("vigil-sessions")) {
    cfg_ = vigil::parseConfig("data_dir: " + dir_ + "/data\n"
                              "listen: {address: 127.0.0.1, port: 0}\n"
                              "log: {file: \"-\"}\n"
                              "auth: {argon2_t_cost: 1, argon2_m_cost_kib: 8192, lockout_threshold: 5}\n"
                              "sessions: {launch_token_ttl_seconds: " + std::to_string(kTokenTtl) + "}\n"
                              "recordings: {flush_interval_ms: 100}\n"
                              "ssh: {port: 2299, public_host: vigil.example.test}\n"
                              "node: {name: test-node}\n");
    rt_ = std::make_unique<vigil::Runtime>(cfg_);
    rt_->openDatabase(nullptr, true);
    rt_->openVault(true);
    auto& cfg = rt_->cfg;
    vigil::ensureSelfSignedCertificate(cfg.certPath(), cfg.keyPath(), {"localhost"});
    auth_ = std::make_unique<vigil::services::AuthService>(cfg, *rt_->store, *rt_->vault);
    gk_ = std::make_unique<vigil::services::SessionGatekeeper>(cfg, *rt_->store, *rt_->vault, *auth_);
    vigil::web::ApiDeps deps{cfg, *rt_->store, *rt_->vault, *auth_};
    deps.gatekeeper = gk_.get();
    api_ = std::make_unique<vigil::web::Api>(deps);
    vigil::web::HttpsServerOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.cert_file = cfg.certPath().string();
    o.key_file = cfg.keyPath().string();
    server_ = std::make_unique<vigil::web::HttpsServer>(o, [this](const vigil::web::HttpRequest& r) { return api_->handle(r); });
    server_->start();
    admin_ = makeUser({"superuser"});
  }
  ~Env() {
    server_->stop();
    server_.reset();
    api_.reset();
    gk_.reset();
    auth_.reset();
    rt_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  vigil::Config& cfg() { return rt_->cfg; }
  vigil::store::Store& store() { return *rt_->store; }
  vigil::services::Vault& vault() { return *rt_->vault; }
  vigil::services::AuthService& auth() { return *auth_; }
  vigil::services::SessionGatekeeper& gk() { return *gk_; }
  int port() const { return server_->port(); }
  const std::string& dir() const { return dir_; }
  User& admin() { return admin_; }

  /// A local user with a password (no one-time password), logged in to the API.
  User makeUser(const std::vector<std::string>& roles, bool login = true) {
    User x;
    x.password = "Pw-" + uniq("secret");
    vigil::store::User u;
    u.username = uniq("user");
    u.roles = roles;
    u.password_hash = auth_->hashPassword(x.password);
    x.u = store().createUser(u);
    if (login) {
      x.http = std::make_shared<HttpsClient>(port());
      auto r = x.http->login(x.u.username, x.password);
      INFO(r.body);
      REQUIRE(r.status == 200);
    }
    return x;
  }

  vigil::store::Safe makeSafe(bool record = true) {
    vigil::store::Safe s;
    s.name = uniq("safe");
    s.policy.record_sessions = record;
    return store().createSafe(s);
  }

  vigil::store::Target makeTarget(const std::string& protocol = "ssh") {
    vigil::store::Target t;
    t.name = uniq("web");
    t.protocol = protocol;
    t.address = "127.0.0.1";
    t.port = 22;
    return store().createTarget(t);
  }

  vigil::store::Account makeAccount(const vigil::store::Safe& s, const vigil::store::Target& t,
                                    const std::string& username = "root", const std::string& secret = "target-pw") {
    vigil::store::Account a;
    a.safe_id = s.id;
    a.target_id = t.id;
    a.username = username;
    a.secret_kind = "password";
    auto& v = vault();
    return store().createAccount(a, [&](std::int64_t id) { return v.seal(secret, "account:" + std::to_string(id)); });
  }

  /// An account in a new safe on a new target, with `members` given these permissions.
  struct Fixture {
    vigil::store::Safe safe;
    vigil::store::Target target;
    vigil::store::Account account;
  };
  Fixture fixture(bool record = true, const std::string& protocol = "ssh") {
    Fixture f;
    f.safe = makeSafe(record);
    f.target = makeTarget(protocol);
    f.account = makeAccount(f.safe, f.target);
    return f;
  }

  /// Audit rows of one action, newest last.
  std::vector<vigil::store::AuditEntry> audit(const std::string& action) {
    vigil::store::Page p;
    p.limit = 500;
    std::vector<vigil::store::AuditEntry> out;
    for (;;) {
      auto rows = store().listAudit(p, {std::nullopt, action});
      for (auto& r : rows) out.push_back(r);
      if (rows.size() < 500) break;
      p.after = rows.back().id;
    }
    return out;
  }

  /// The last audit row of `action` whose details mention `needle`.
  std::optional<json> lastAudit(const std::string& action, const std::string& needle = "") {
    auto rows = audit(action);
    for (auto it = rows.rbegin(); it != rows.rend(); ++it)
      if (needle.empty() || contains(it->details_json, needle) || it->object_id == needle || it->actor == needle) {
        json j = json::parse(it->details_json);
        j["_actor"] = it->actor;
        j["_outcome"] = it->outcome;
        j["_object_id"] = it->object_id;
        j["_source_addr"] = it->source_addr;
        return j;
      }
    return std::nullopt;
  }

  /// One SQL statement through psql as the postgres OS user (unaligned, tuples only).
  std::string psql(const std::string& sql) {
    std::string pw = vigil::test::runCommand("cat " + cfg().data_dir.string() + "/pg/password").output;
    while (!pw.empty() && (pw.back() == '\n')) pw.pop_back();
    auto r = vigil::test::runCommand("PGPASSWORD='" + pw + "' runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -q -At -h " +
                                     cfg().data_dir.string() + "/pg/run -p 5432 -U vigil -d vigil -c \"" + sql + "\"");
    INFO(sql << " -> " << r.output);
    REQUIRE(r.exit_code == 0);
    std::string s = r.output;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  std::string dir_;
  vigil::Config cfg_;
  std::unique_ptr<vigil::Runtime> rt_;
  std::unique_ptr<vigil::services::AuthService> auth_;
  std::unique_ptr<vigil::services::SessionGatekeeper> gk_;
  std::unique_ptr<vigil::web::Api> api_;
  std::unique_ptr<vigil::web::HttpsServer> server_;
  User admin_;
};

/// The one environment of this test binary, started on first use, stopped at exit.
inline Env& env() {
  static Env e;
  return e;
}

inline vigil::proto::ClientInfo sshClient(const std::string& addr = "198.51.100.7:50022") {
  return vigil::proto::ClientInfo{"ssh", addr, "ssh"};
}

}  // namespace sessions_test
