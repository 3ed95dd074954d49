#pragma once
// A real PostgreSQL target (a private cluster: TLS on, the `dba` role with a SCRAM-SHA-256
// password, TCP only over TLS) and one real `vigil serve` with its PostgreSQL listener, a safe,
// a postgres target and the `dba` account in the vault, plus helpers to run psql / pgbench
// through Vigil with a fresh launch token.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"

namespace pg_test {

using api_test::contains;
using api_test::Env;
using api_test::json;
using api_test::Principal;
using api_test::uniq;
using vigil::test::runCommand;

inline std::string S(std::int64_t v) { return std::to_string(v); }
inline const std::string kBin = "/usr/lib/postgresql/15/bin";

inline int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string shq(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

/// The private target cluster; stopped (pg_ctl, by its data directory) when destroyed.
class PgTarget {
 public:
  PgTarget() : dir_(vigil::test::makeTempDir("vigil-pgtarget")), port_(freePort()) {
    password_ = "Dba-" + api_test::randomHex(10);
    const std::string data = dir_ + "/data";
    run("chown postgres " + dir_);
    run("runuser -u postgres -- " + kBin + "/initdb -D " + data +
        " -A trust --no-sync -E UTF8 --locale=C.UTF-8 -U postgres >/dev/null");
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + data + "/server.key -out " + data +
        "/server.crt -days 2 -subj /CN=pgtarget >/dev/null 2>&1 && chown postgres " + data + "/server.key " + data +
        "/server.crt && chmod 600 " + data + "/server.key");
    {
      std::ofstream c(data + "/postgresql.conf", std::ios::app);
      c << "ssl = on\npassword_encryption = 'scram-sha-256'\nlisten_addresses = '127.0.0.1'\nport = " << port_
        << "\nunix_socket_directories = '" << dir_ << "'\nfsync = off\nmax_connections = 50\n";
    }
    {
      // TCP only over TLS and only with a SCRAM password: Vigil must do both to get in.
      std::ofstream h(data + "/pg_hba.conf", std::ios::trunc);
      h << "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n";
    }
    run("runuser -u postgres -- " + kBin + "/pg_ctl -w -D " + data + " -l " + dir_ + "/log start >/dev/null");
    started_ = true;
    sql("postgres", "CREATE ROLE dba LOGIN PASSWORD '" + password_ + "'");  // hex: no quoting needed
    sql("postgres", "CREATE DATABASE shop OWNER dba");
    sql("shop", "SET ROLE dba; CREATE TABLE items (id int PRIMARY KEY, name text); "
                "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g;");
  }
  ~PgTarget() {
    if (started_) runCommand("runuser -u postgres -- " + kBin + "/pg_ctl -D " + dir_ + "/data -m immediate stop >/dev/null");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int port() const { return port_; }
  /// The server certificate's SHA-256 as "AB:CD:…", computed here with openssl.
  std::string certFingerprint() const {
    auto r = vigil::test::runCommand("openssl x509 -in " + dir_ + "/data/server.crt -noout -fingerprint -sha256");
    const auto eq = r.output.find('=');
    std::string fp = eq == std::string::npos ? "" : r.output.substr(eq + 1);
    while (!fp.empty() && (fp.back() == '\n' || fp.back() == '\r')) fp.pop_back();
    return fp;
  }
  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_; }

  /// SQL as the superuser over the unix socket (unaligned, tuples only).
  std::string sql(const std::string& db, const std::string& q) {
    auto r = runCommand("runuser -u postgres -- psql -X -q -At -h " + dir_ + " -p " + S(port_) + " -U postgres -d " + db +
                        " -c " + shq(q));
    INFO(q << " -> " << r.output);
    REQUIRE(r.exit_code == 0);
    std::string s = r.output;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  static void run(const std::string& cmd) {
    auto r = runCommand(cmd);
    if (r.exit_code != 0) throw std::runtime_error("pg target: " + cmd + ": " + r.output);
  }
  std::string dir_;
  int port_;
  std::string password_;
  bool started_ = false;
};

inline std::string rulesYaml() {
  return R"(rules:
  - id: block-drop-table
    description: DROP TABLE is not allowed through Vigil
    match: sql
    pattern: '(?i)\bdrop\s+table\b'
    severity: high
    score: 50
    actions: [alert, score, block]
  - id: alert-truncate
    description: TRUNCATE of a table
    match: sql
    pattern: '(?i)^\s*truncate\b'
    severity: medium
    score: 10
    actions: [alert, score]
)";
}

class World {
 public:
  World() : rules_(prepareRules()), env_("postgres_proxy: {enabled: true, port: 0}\nsessions: {launch_token_ttl_seconds: 3}\n"
                                          "risk: {rules_file: " + rules_ + ", poll_interval_ms: 200}\n") {
    std::smatch m;
    const std::string out = env_.server().output();
    static const std::regex re(R"(PostgreSQL: 127\.0\.0\.1:(\d+))");
    if (!std::regex_search(out, m, re)) throw std::runtime_error("no PostgreSQL listener in the output:\n" + out);
    vigil_port = std::stoi(m[1]);
    alice = env_.makeUser({});
    soc = env_.makeUser({"soc"});
    safe = post("/api/v1/safes", {{"name", uniq("pg-safe")}});
    target_name = uniq("pg");
    auto t = post("/api/v1/targets", {{"name", target_name}, {"protocol", "postgres"}, {"address", "127.0.0.1"},
                                      {"port", target.port()}});
    account = post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t}, {"username", "dba"},
                                        {"secret_kind", "password"}, {"secret", target.password()}});
    auto r = env_.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(alice.id),
                              {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(r.status == 200);
  }

  Env& env() { return env_; }

  json launch() {
    auto l = alice.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO("launch: " << l.status << " " << l.body);
    REQUIRE(l.status == 201);
    return l.json();
  }
  std::string token() { return launch()["token"]; }
  /// alice's identity login for the account (user%account%target, her Vigil password).
  std::string identity() const { return alice.username + "%dba%" + target_name; }

  /// psql through Vigil with `password`; `extra` are more psql arguments.
  vigil::test::CommandResult psql(const std::string& password, const std::string& extra, const std::string& sslmode = "require") {
    return runCommand("PGPASSWORD=" + shq(password) + " PGCONNECT_TIMEOUT=10 psql -X -At \"host=127.0.0.1 port=" +
                      S(vigil_port) + " user=dba dbname=shop sslmode=" + sslmode + "\" " + extra);
  }

  /// The newest session of the account.
  json newestSession() {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account));
    REQUIRE(r.status == 200);
    const json body = r.json();
    REQUIRE_FALSE(body["items"].empty());
    return body["items"][0];
  }
  /// The session's `sql` events, waiting until at least `n` are written.
  std::vector<json> sqlEvents(const std::string& session_id, std::size_t n) {
    std::vector<json> out;
    for (int i = 0; i < 100; ++i) {
      auto r = env_.admin().get("/api/v1/sessions/" + session_id + "/events?kind=sql&limit=500");
      REQUIRE(r.status == 200);
      const json body = r.json();
      out.clear();
      for (auto& e : body["items"]) out.push_back(e);
      if (out.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }
  /// Waits until the session has ended; returns it.
  json endedSession(const std::string& id) {
    json s;
    for (int i = 0; i < 100; ++i) {
      auto r = env_.admin().get("/api/v1/sessions/" + id);
      REQUIRE(r.status == 200);
      s = r.json();
      if (!s["ended_at"].is_null()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return s;
  }

  /// Another target on the same server with an account alice may use: in a safe that trusts on
  /// first use (`tofu`), pinned to `pinned` (may be ''). Returns {target id, account id}.
  std::pair<std::int64_t, std::int64_t> makeTarget(bool tofu, const std::string& pinned) {
    const auto s = post("/api/v1/safes", {{"name", uniq("pg-safe")}, {"policy", {{"trust_on_first_use", tofu}}}});
    json t{{"name", uniq("pg")}, {"protocol", "postgres"}, {"address", "127.0.0.1"}, {"port", target.port()}};
    if (!pinned.empty()) t["certificate_fingerprint"] = pinned;
    const auto tid = post("/api/v1/targets", t);
    const auto a = post("/api/v1/accounts", {{"safe_id", s}, {"target_id", tid}, {"username", "dba"},
                                             {"secret_kind", "password"}, {"secret", target.password()}});
    auto r = env_.admin().put("/api/v1/safes/" + S(s) + "/members/" + S(alice.id),
                              {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(r.status == 200);
    return {tid, a};
  }
  std::string tokenFor(std::int64_t account_id) {
    auto l = alice.http().post("/api/v1/accounts/" + S(account_id) + "/launch", json::object());
    REQUIRE(l.status == 201);
    return l.json()["token"];
  }
  json getJson(const std::string& path) {
    auto r = env_.admin().get(path);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 200);
    return r.json();
  }

  PgTarget target;
  int vigil_port = 0;
  Principal alice, soc;
  std::int64_t safe = 0, account = 0;
  std::string target_name;

 private:
  std::string prepareRules() {
    const std::string dir = vigil::test::makeTempDir("vigil-pgrules");
    const std::string path = dir + "/rules.yaml";
    std::ofstream f(path);
    f << rulesYaml();
    return path;
  }
  std::int64_t post(const std::string& path, const json& body) {
    auto r = env_.admin().post(path, body);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  std::string rules_;
  Env env_;
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace pg_test
