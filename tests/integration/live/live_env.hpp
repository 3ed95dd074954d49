#pragma once
// Two real `vigil serve` nodes ("node-a", "node-b"; B holds a moderated session 3 s without a
// moderator, A the default 300 s) on one external PostgreSQL, one real private
// sshd as the target, users with the roles and safe permissions the SOC tests need, a TLS
// WebSocket client (portal cookie + Origin) and helpers that drive the real `ssh` client.
#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "support/api_env.hpp"
#include "support/ws_client.hpp"
#include "support/pty_process.hpp"
#include "support/sshd_fixture.hpp"

namespace live_test {

using namespace api_test;
using vigil::test::PtyProcess;
using vigil::test::runCommand;
using vigil::test::Sshd;
using vigil::test::VigilServer;
using vigil::test::WsClient;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

inline std::string S(std::int64_t v) { return std::to_string(v); }

/// A throwaway PostgreSQL both nodes share (as in a multi-node deployment).
struct SharedCluster {
  std::string dir = vigil::test::makeTempDir("vigil-live-pg");
  int port = 0;
  SharedCluster() {
    const std::string bin = "/usr/lib/postgresql/15/bin/";
    const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    if (geteuid() == 0) runCommand("chown postgres " + dir);
    if (runCommand(as + bin + "initdb -A trust --no-sync -E UTF8 --locale=C.UTF-8 -D " + dir + "/data").exit_code != 0)
      throw std::runtime_error("initdb failed");
    port = std::stoi(runCommand("python3 -c 'import socket;s=socket.socket();s.bind((\"127.0.0.1\",0));"
                                "print(s.getsockname()[1])'").output);
    if (runCommand(as + bin + "pg_ctl -w -D " + dir + "/data -l " + dir + "/log -o \"-k " + dir + " -h 127.0.0.1 -p " +
                   S(port) + " -c fsync=off\" start").exit_code != 0)
      throw std::runtime_error("pg_ctl start failed");
    if (runCommand(as + bin + "createdb -h 127.0.0.1 -p " + S(port) + " -U postgres vigil_live").exit_code != 0)
      throw std::runtime_error("createdb failed");
  }
  ~SharedCluster() {
    const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    runCommand(as + "/usr/lib/postgresql/15/bin/pg_ctl -w -D " + dir + "/data -m fast stop");
    std::filesystem::remove_all(dir);
  }
  std::string url() const { return "postgresql://postgres@127.0.0.1:" + S(port) + "/vigil_live"; }
  std::string psql(const std::string& sql) const {
    auto r = runCommand("psql -X -At -h 127.0.0.1 -p " + S(port) + " -U postgres vigil_live -c \"" + sql + "\"");
    std::string s = r.output;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
};

class World {
 public:
  World()
      : a_("database: {url: \"" + pg_.url() + "\", pool_size: 4}\nnode: {name: node-a}\n"),
        sshd_(Sshd::instance()) {
    if (!sshd_.ok()) throw std::runtime_error("sshd fixture: " + sshd_.error());
    tmp_ = vigil::test::makeTempDir("vigil-live");
    // Node B: the same database and the same master key (so it opens the same vault).
    b_ = std::make_unique<VigilServer>("database: {url: \"" + pg_.url() + "\", pool_size: 4}\nnode: {name: node-b}\n" +
                                       "master_key_file: " + a_.server().dataDir() + "/master.key\n" +
                                       "sessions: {moderation_wait_seconds: 3}\n");
    if (b_->port() == 0) throw std::runtime_error("node B did not start: " + b_->output());
    b_admin_ = std::make_shared<HttpsClient>(b_->port());
    auto l = b_admin_->login("admin", a_.su().password);
    if (l.status != 200) throw std::runtime_error("admin login on node B: " + l.body);

    alice = a_.makeUser({});
    soc = a_.makeUser({"soc"});
    monitor = a_.makeUser({});
    outsider = a_.makeUser({"auditor"});
    auto s = a_.admin().post("/api/v1/safes", {{"name", uniq("live-safe")}});
    REQUIRE(s.status == 201);
    safe = s.json()["id"];
    member(alice.id, {"connect"});
    member(monitor.id, {"monitor_live"});
    auto t = a_.admin().post("/api/v1/targets", {{"name", uniq("live-web")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                                 {"port", sshd_.port()}, {"host_key_fingerprint", sshd_.hostKeyFingerprint()}});
    INFO(t.body);
    REQUIRE(t.status == 201);
    auto acc = a_.admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t.json()["id"]},
                                                    {"username", sshd_.user()}, {"secret_kind", "password"},
                                                    {"secret", sshd_.password()}});
    INFO(acc.body);
    REQUIRE(acc.status == 201);
    account = acc.json()["id"];
  }

  Env& a() { return a_; }
  VigilServer& b() { return *b_; }
  HttpsClient& bAdmin() { return *b_admin_; }
  SharedCluster& pg() { return pg_; }
  Sshd& sshd() { return sshd_; }
  const std::string& tmp() const { return tmp_; }

  /// A launch token for alice from node A or B (the token is redeemed on the node's SSH port).
  std::string token(bool on_b = false) {
    auto client = on_b ? std::make_shared<HttpsClient>(b_->port()) : alice.client;
    if (on_b) REQUIRE(client->login(alice.username, alice.password).status == 200);
    auto r = client->post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["token"];
  }
  std::vector<std::string> sshArgs(const std::string& token, bool on_b = false) {
    return {"ssh", "-tt", "-p", S(on_b ? b_->sshPort() : a_.server().sshPort()), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", token + "@127.0.0.1"};
  }
  /// The active session of alice's account started after `known` (ids), waited for.
  std::string newActiveSession(const std::set<std::string>& known = {}) {
    for (int i = 0; i < 100; ++i) {
      auto r = a_.admin().get("/api/v1/sessions?account_id=" + S(account) + "&status=active&limit=100");
      REQUIRE(r.status == 200);
      const json body = r.json();
      for (auto& s : body["items"])
        if (!known.count(s["id"].get<std::string>())) return s["id"];
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no new active session");
    return {};
  }
  std::set<std::string> activeSessions() {
    std::set<std::string> out;
    auto r = a_.admin().get("/api/v1/sessions?account_id=" + S(account) + "&status=active&limit=100");
    const json body = r.json();
    for (auto& s : body["items"]) out.insert(s["id"].get<std::string>());
    return out;
  }
  json session(const std::string& id) {
    auto r = a_.admin().get("/api/v1/sessions/" + id);
    REQUIRE(r.status == 200);
    return r.json();
  }
  std::vector<json> lifecycle(const std::string& id) {
    auto r = a_.admin().get("/api/v1/sessions/" + id + "/events?kind=lifecycle&limit=500");
    REQUIRE(r.status == 200);
    const json body = r.json();
    std::vector<json> out;
    for (auto& e : body["items"]) out.push_back(e);
    return out;
  }

  Principal alice, soc, monitor, outsider;
  std::int64_t safe = 0, account = 0;

 private:
  void member(std::int64_t user, std::vector<std::string> perms) {
    auto r = a_.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(user), {{"permissions", perms}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  SharedCluster pg_;
  Env a_;
  Sshd& sshd_;
  std::string tmp_;
  std::unique_ptr<VigilServer> b_;
  std::shared_ptr<HttpsClient> b_admin_;
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace live_test
