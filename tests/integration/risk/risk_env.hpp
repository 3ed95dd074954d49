#pragma once
// One real `vigil serve` whose risk rules come from a file this test rewrites, one real private
// sshd, a safe with an account on it, and helpers to drive a real `ssh` in a pty.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"
#include "support/pty_process.hpp"
#include "support/sshd_fixture.hpp"

namespace risk_test {

using api_test::contains;
using api_test::Env;
using api_test::json;
using api_test::Principal;
using api_test::uniq;
using vigil::test::PtyProcess;
using vigil::test::Sshd;

inline std::string S(std::int64_t v) { return std::to_string(v); }

/// The rules every case starts from; `extra` adds rules (YAML list items).
inline std::string rulesYaml(const std::string& extra = "") {
  return R"(rules:
  - id: block-vigil-x
    description: Deleting the protected test directory
    match: command
    pattern: '^rm (.* )?/tmp/vigil-x'
    severity: high
    score: 30
    actions: [alert, score, block]
  - id: alert-marker
    description: The alert marker was echoed
    match: command
    pattern: '^echo vigil-alert-marker'
    severity: medium
    score: 7
    actions: [alert, score]
  - id: terminate-marker
    description: The terminate marker was echoed
    match: command
    pattern: '^echo vigil-terminate-marker'
    severity: critical
    score: 50
    actions: [alert, terminate]
  - id: lock-marker
    description: The lock marker was echoed
    match: command
    pattern: '^echo vigil-lock-marker'
    severity: critical
    score: 90
    actions: [alert, lock_user]
)" + extra;
}

inline void writeFile(const std::string& path, const std::string& text) {
  // Written aside and renamed: the server's mtime poll never reads half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
  }
  std::filesystem::rename(tmp, path);
}

class World {
 public:
  World() : dir_(vigil::test::makeTempDir("vigil-risk")), rules_(prepare(dir_)),
            env_("risk: {rules_file: " + rules_ + ", poll_interval_ms: 200}\n"), sshd_(Sshd::instance()) {
    if (!sshd_.ok()) throw std::runtime_error("sshd fixture: " + sshd_.error());
    soc = env_.makeUser({"soc"});
    auditor = env_.makeUser({"auditor"});
    plain = env_.makeUser({});
    alice = env_.makeUser({});
    safe = post("/api/v1/safes", {{"name", uniq("risk-safe")}});
    auto t = post("/api/v1/targets", {{"name", uniq("risk-web")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                      {"port", sshd_.port()}, {"host_key_fingerprint", sshd_.hostKeyFingerprint()}});
    account = post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t}, {"username", sshd_.user()},
                                        {"secret_kind", "password"}, {"secret", sshd_.password()}});
    grant(alice);
  }

  Env& env() { return env_; }
  Sshd& sshd() { return sshd_; }
  const std::string& rulesFile() const { return rules_; }
  const std::string& dir() const { return dir_; }

  void grant(const Principal& p) {
    auto r = env_.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(p.id),
                              {{"permissions", {"connect", "view_recordings"}}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }

  /// A real `ssh -tt` through Vigil with a fresh launch token of `p`, at a shell prompt.
  std::unique_ptr<PtyProcess> shell(Principal& p) {
    auto l = p.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO("launch: " << l.status << " " << l.body);
    REQUIRE(l.status == 201);
    const std::string token = l.json()["token"];
    auto pty = std::make_unique<PtyProcess>(
        std::vector<std::string>{"ssh", "-tt", "-p", S(env_.server().sshPort()), "-o", "StrictHostKeyChecking=no", "-o",
                                 "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", token + "@127.0.0.1"},
        120, 30);
    REQUIRE(pty->waitFor("$ "));
    return pty;
  }

  /// The newest session of the account.
  json newestSession() {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account));
    INFO(r.body.substr(0, 400));
    REQUIRE(r.status == 200);
    const json body = r.json();
    REQUIRE_FALSE(body["items"].empty());
    return body["items"][0];
  }
  json session(const std::string& id) {
    auto r = env_.admin().get("/api/v1/sessions/" + id);
    REQUIRE(r.status == 200);
    return r.json();
  }

  /// Alerts of a session, waiting (up to ~5 s) until at least `n` are there.
  std::vector<json> alerts(const std::string& session_id, std::size_t n = 1) {
    std::vector<json> out;
    for (int i = 0; i < 50; ++i) {
      auto r = soc.http().get("/api/v1/alerts?session_id=" + session_id);
      INFO(r.body.substr(0, 300));
      REQUIRE(r.status == 200);
      const json body = r.json();
      out.clear();
      for (auto& a : body["items"]) out.push_back(a);
      if (out.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }
  std::vector<json> riskEvents(const std::string& session_id, std::size_t n = 1) {
    std::vector<json> out;
    for (int i = 0; i < 50; ++i) {
      auto r = env_.admin().get("/api/v1/sessions/" + session_id + "/events?kind=risk&limit=500");
      REQUIRE(r.status == 200);
      const json body = r.json();
      out.clear();
      for (auto& e : body["items"]) out.push_back(e);
      if (out.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }

  Principal soc, auditor, plain, alice;
  std::int64_t safe = 0, account = 0;

 private:
  static std::string prepare(const std::string& dir) {
    const std::string path = dir + "/rules.yaml";
    writeFile(path, rulesYaml());
    return path;
  }
  std::int64_t post(const std::string& path, const json& body) {
    auto r = env_.admin().post(path, body);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }

  std::string dir_;
  std::string rules_;
  Env env_;
  Sshd& sshd_;
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace risk_test
