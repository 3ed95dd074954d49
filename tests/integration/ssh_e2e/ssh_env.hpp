#pragma once
// One real `vigil serve` (embedded PostgreSQL, SSH listener on a free port) and one real private
// OpenSSH sshd per test binary, with a safe, targets and vault accounts set up through the REST
// API as an administrator would, and helpers that run the real `ssh`/`scp`/`sftp` clients.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"
#include "support/sshd_fixture.hpp"

namespace ssh_e2e {

using api_test::contains;
using api_test::Env;
using api_test::json;
using api_test::Principal;
using api_test::readFile;
using api_test::uniq;
using vigil::test::HttpsClient;
using vigil::test::Sshd;

struct ClientRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs a shell command line with stdout and stderr captured apart.
inline ClientRun runSplit(const std::string& cmd, const std::string& dir) {
  const std::string out = dir + "/out.txt", err = dir + "/err.txt";
  int st = std::system(("timeout 120 " + cmd + " >" + out + " 2>" + err + " </dev/null").c_str());
  ClientRun r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = readFile(out);
  r.err = readFile(err);
  return r;
}

inline std::string S(std::int64_t v) { return std::to_string(v); }

class World {
 public:
  World() : env_("sessions: {launch_token_ttl_seconds: 5}\n"), sshd_(Sshd::instance()) {
    if (!sshd_.ok()) throw std::runtime_error("sshd fixture: " + sshd_.error());
    tmp_ = vigil::test::makeTempDir("vigil-ssh-e2e");
    alice = env_.makeUser({"admin"});
    bob = env_.makeUser({"admin"});
    safe = makeSafe(false);
    tofu_safe = makeSafe(true);
    grant(safe, alice.id);
    grant(tofu_safe, alice.id);
    web01 = makeTarget(uniq("web01"), sshd_.port(), sshd_.hostKeyFingerprint());
    account = makeAccount(safe, web01, "password", sshd_.password());
    key_target = makeTarget(uniq("keyed"), sshd_.port(), sshd_.hostKeyFingerprint());
    key_account = makeAccount(safe, key_target, "private_key", sshd_.privateKey());
    // The same sshd pinned to another key: a man in the middle as far as Vigil can tell.
    bad_key_target = makeTarget(uniq("badkey"), sshd_.port(), "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    bad_key_account = makeAccount(safe, bad_key_target, "password", sshd_.password());
    down_target = makeTarget(uniq("down"), vigil::test::freeLoopbackPort(), sshd_.hostKeyFingerprint());
    down_account = makeAccount(safe, down_target, "password", sshd_.password());
    unpinned_target = makeTarget(uniq("unpinned"), sshd_.port(), "");
    unpinned_account = makeAccount(safe, unpinned_target, "password", sshd_.password());
    tofu_target = makeTarget(uniq("tofu"), sshd_.port(), "");
    tofu_account = makeAccount(tofu_safe, tofu_target, "password", sshd_.password());
  }

  Env& env() { return env_; }
  Sshd& sshd() { return sshd_; }
  const std::string& tmp() const { return tmp_; }
  int sshPort() { return env_.server().sshPort(); }

  /// A fresh launch token for `p` and the account (the portal's Connect).
  json launch(Principal& p, std::int64_t account_id) {
    auto r = p.http().post("/api/v1/accounts/" + S(account_id) + "/launch", json::object());
    INFO("launch: " << r.status << " " << r.body);
    REQUIRE(r.status == 201);
    return r.json();
  }

  /// `ssh` options every run uses: no host-key prompts, never an interactive password prompt.
  std::string sshOpts() const {
    return " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 ";
  }
  /// `ssh` as a launch token (no password asked).
  ClientRun sshToken(const std::string& token, const std::string& remote_cmd) {
    return runSplit("ssh -p " + S(sshPort()) + sshOpts() + "-o BatchMode=yes " + token + "@127.0.0.1 '" + remote_cmd + "'",
                    tmp_);
  }
  /// The identity login name for an account of web-like target `target_name`.
  std::string identity(const Principal& p, const std::string& target_name) const {
    return p.username + "%" + sshd_.user() + "%" + target_name;
  }
  /// Runs `tool` (ssh, scp, sftp) with the person's Vigil password through sshpass; the password
  /// travels in an environment variable, never on a command line.
  ClientRun withPassword(const std::string& password, const std::string& tool_cmd) {
    setenv("SSHPASS", password.c_str(), 1);
    auto r = runSplit("sshpass -e " + tool_cmd, tmp_);
    unsetenv("SSHPASS");
    return r;
  }

  /// Sessions of an account, newest first (as the superuser).
  std::vector<json> sessionsOf(std::int64_t account_id) {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account_id) + "&limit=200");
    INFO(r.body.substr(0, 500));
    REQUIRE(r.status == 200);
    const json body = r.json();  // not a temporary: the loop below reads into it
    std::vector<json> out;
    for (auto& s : body["items"]) out.push_back(s);
    return out;
  }
  /// Waits until the newest session of the account has ended (the proxy writes the end
  /// asynchronously, after the client has gone).
  json endedSession(std::int64_t account_id, std::size_t expected_count) {
    for (int i = 0; i < 100; ++i) {
      auto list = sessionsOf(account_id);
      if (list.size() >= expected_count && !list.front()["ended_at"].is_null()) return list.front();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("no ended session for account " << account_id);
    return {};
  }
  std::vector<json> events(const std::string& session_id, const std::string& kind) {
    // Events are written in batches off the session thread: wait for them to settle.
    std::vector<json> out;
    for (int i = 0; i < 30; ++i) {
      auto r = env_.admin().get("/api/v1/sessions/" + session_id + "/events?limit=500&kind=" + kind);
      REQUIRE(r.status == 200);
      out.clear();
      const json body = r.json();
      for (auto& e : body["items"]) out.push_back(e);
      if (!out.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
  }
  std::string recording(const std::string& session_id) {
    auto r = env_.admin().get("/api/v1/sessions/" + session_id + "/recording");
    INFO(r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    return r.body;
  }
  /// Audit rows with `action` whose details mention `needle`.
  int auditCount(const std::string& action, const std::string& needle) {
    int n = 0;
    for (auto& row : env_.audit("", action))
      if (contains(row.dump(), needle)) ++n;
    return n;
  }

  Principal alice, bob;
  std::int64_t safe = 0, tofu_safe = 0;
  std::int64_t web01 = 0, account = 0, key_target = 0, key_account = 0;
  std::int64_t bad_key_target = 0, bad_key_account = 0, down_target = 0, down_account = 0;
  std::int64_t unpinned_target = 0, unpinned_account = 0, tofu_target = 0, tofu_account = 0;

  std::string targetName(std::int64_t id) {
    auto r = env_.admin().get("/api/v1/targets/" + S(id));
    REQUIRE(r.status == 200);
    return r.json()["name"];
  }

 private:
  std::int64_t makeSafe(bool tofu) {
    auto r = env_.admin().post("/api/v1/safes", {{"name", uniq("ssh-safe")}, {"policy", {{"trust_on_first_use", tofu}}}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  void grant(std::int64_t safe_id, std::int64_t user_id) {
    auto r = env_.admin().put("/api/v1/safes/" + S(safe_id) + "/members/" + S(user_id),
                              {{"permissions", {"connect", "view_recordings"}}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  std::int64_t makeTarget(const std::string& name, int port, const std::string& fingerprint) {
    json body{{"name", name}, {"protocol", "ssh"}, {"address", "127.0.0.1"}, {"port", port}};
    if (!fingerprint.empty()) body["host_key_fingerprint"] = fingerprint;
    auto r = env_.admin().post("/api/v1/targets", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  std::int64_t makeAccount(std::int64_t safe_id, std::int64_t target_id, const std::string& kind,
                           const std::string& secret) {
    auto r = env_.admin().post("/api/v1/accounts", {{"safe_id", safe_id}, {"target_id", target_id},
                                                    {"username", sshd_.user()}, {"secret_kind", kind},
                                                    {"secret", secret}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }

  Env env_;
  Sshd& sshd_;
  std::string tmp_;
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace ssh_e2e
