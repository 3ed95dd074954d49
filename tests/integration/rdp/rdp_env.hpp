#pragma once
// RDP end to end: one real `vigil serve` with its RDP listener, a real RDP target (FreeRDP's
// shadow server with NLA and a SAM file on a private Xvfb running an xterm), and the real
// `xfreerdp` client on another private Xvfb, driven with xdotool.
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"
#include "support/sshd_fixture.hpp"
#include "support/ws_client.hpp"

namespace rdp_e2e {

using api_test::contains;
using api_test::Env;
using api_test::json;
using api_test::Principal;
using api_test::readFile;
using api_test::uniq;

inline std::string S(std::int64_t v) { return std::to_string(v); }

/// A child process in its own process group, stopped by its PID (never by name).
class Proc {
 public:
  Proc() = default;
  Proc(const std::string& cmd, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      setsid();
      execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + log + " 2>&1 </dev/null").c_str(), nullptr);
      _exit(127);
    }
  }
  Proc(Proc&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Proc& operator=(Proc&& o) noexcept {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
    return *this;
  }
  ~Proc() { stop(); }
  bool alive() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// Waits up to `ms` for the process to exit by itself; true if it did.
  bool waitExit(int ms) {
    for (int i = 0; i < ms / 50; ++i) {
      if (!alive()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return !alive();
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 40 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int pid() const { return pid_; }
  int exitStatus() const { return exit_status_; }

 private:
  int pid_ = -1;
  int exit_status_ = -1;
};

/// A private X server (Xvfb -displayfd) with its own MIT cookie in `dir`/xauth.
class XDisplay {
 public:
  XDisplay(const std::string& dir, const std::string& name) : dir_(dir) {
    auth_ = dir + "/xauth-" + name;
    cookie_ = api_test::randomHex(16);
    // Xvfb reads its cookies at start; clients find it under the display number added after.
    vigil::test::runCommand("xauth -f " + auth_ + " add :0 MIT-MAGIC-COOKIE-1 " + cookie_);
    const std::string dfile = dir + "/display-" + name;
    // -displayfd: Xvfb picks a free display and writes its number (and a newline) to fd 3.
    server_ = Proc("Xvfb -displayfd 3 -auth " + auth_ + " -screen 0 1280x800x24 -nolisten tcp 3>" + dfile,
                   dir + "/xvfb-" + name + ".log");
    for (int i = 0; i < 300 && display_.empty(); ++i) {
      std::string d = readFile(dfile);
      if (!d.empty() && d.back() == '\n') display_ = ":" + d.substr(0, d.size() - 1);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (display_.empty()) throw std::runtime_error("Xvfb did not start");
    vigil::test::runCommand("xauth -f " + auth_ + " add " + display_ + " MIT-MAGIC-COOKIE-1 " + cookie_);
  }
  /// "env DISPLAY=... XAUTHORITY=..." to prefix a command line.
  std::string env() const { return "env DISPLAY=" + display_ + " XAUTHORITY=" + auth_ + " WLOG_LEVEL=WARN "; }
  const std::string& display() const { return display_; }
  const std::string& auth() const { return auth_; }

 private:
  std::string dir_, auth_, cookie_, display_;
  Proc server_;
};

class World {
 public:
  World()
      : rdp_port_(vigil::test::freeLoopbackPort()),
        env_("rdp: {enabled: true, address: 127.0.0.1, port: " + std::to_string(rdp_port_) +
             "}\nsessions: {launch_token_ttl_seconds: 60}\nrecordings: {flush_interval_ms: 500}\n"),
        tmp_(vigil::test::makeTempDir("vigil-rdp-e2e")),
        target_x_(tmp_, "target"),
        client_x_(tmp_, "client") {
    // The target: an xterm running a shell, shown by FreeRDP's shadow server with NLA.
    xterm_ = Proc(target_x_.env() + "xterm -geometry 160x50+0+0 -e bash --norc", tmp_ + "/xterm.log");
    vigil::test::runCommand("winpr-hash -u " + user_ + " -p " + password_ + " -f sam > " + tmp_ + "/sam.txt");
    target_port_ = vigil::test::freeLoopbackPort();
    shadow_ = Proc(target_x_.env() + "freerdp-shadow-cli /bind-address:127.0.0.1 /port:" + S(target_port_) +
                       " +auth /sec:nla /sam-file:" + tmp_ + "/sam.txt",
                   tmp_ + "/shadow.log");
    waitPort(target_port_);
    alice = env_.makeUser({"admin"});
    tofu_safe = makeSafe(true);
    grant(tofu_safe, alice.id);
    target = makeTarget(uniq("win01"), target_port_, "");
    account = makeAccount(tofu_safe, target);
    bad_target = makeTarget(uniq("mitm"), target_port_, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    bad_account = makeAccount(tofu_safe, bad_target);
  }

  Env& env() { return env_; }
  const std::string& tmp() const { return tmp_; }
  int rdpPort() const { return rdp_port_; }
  int targetPort() const { return target_port_; }
  const std::string& targetUser() const { return user_; }
  XDisplay& client() { return client_x_; }
  XDisplay& targetDisplay() { return target_x_; }

  json launch(Principal& p, std::int64_t account_id) {
    auto r = p.http().post("/api/v1/accounts/" + S(account_id) + "/launch", json::object());
    INFO("launch: " << r.status << " " << r.body);
    REQUIRE(r.status == 201);
    return r.json();
  }

  /// Real xfreerdp through Vigil, the launch token as the user name (on the client display, or `on`).
  Proc xfreerdp(const std::string& user, const std::string& log_name, XDisplay* on = nullptr,
               const std::string& password = "unused", const std::string& extra = "-clipboard") {
    return Proc((on ? on : &client_x_)->env() + "xfreerdp /v:127.0.0.1:" + S(rdp_port_) + " '/u:" + user +
                    "' '/p:" + password + "' /cert:ignore /sec:tls /rfx /size:1280x800 " + extra,
                tmp_ + "/" + log_name);
  }
  /// Real xfreerdp straight to the target with its password (the benchmark's baseline); `codec`
  /// "/rfx" as the person's client uses, "" for bitmap updates as Vigil's target leg asks.
  Proc directXfreerdp(const std::string& log_name, const std::string& codec = "/rfx", XDisplay* on = nullptr) {
    return Proc((on ? on : &client_x_)->env() + "xfreerdp /v:127.0.0.1:" + S(target_port_) + " /u:" + user_ +
                    " /p:" + password_ + " /cert:ignore /sec:nla " + codec + " /size:1280x800 -clipboard",
                tmp_ + "/" + log_name);
  }

  std::vector<json> sessionsOf(std::int64_t account_id) {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account_id) + "&limit=200");
    REQUIRE(r.status == 200);
    const json body = r.json();
    std::vector<json> out;
    for (auto& s : body["items"]) out.push_back(s);
    return out;
  }
  json endedSession(std::int64_t account_id, std::size_t expected_count) {
    for (int i = 0; i < 150; ++i) {
      auto list = sessionsOf(account_id);
      if (list.size() >= expected_count && !list.front()["ended_at"].is_null()) return list.front();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("no ended session for account " << account_id);
    return {};
  }
  std::vector<json> events(const std::string& session_id, const std::string& kind) {
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
  int auditCount(const std::string& action, const std::string& needle) {
    int n = 0;
    for (auto& row : env_.audit("", action))
      if (contains(row.dump(), needle)) ++n;
    return n;
  }

  Principal alice;
  std::int64_t tofu_safe = 0, target = 0, account = 0, bad_target = 0, bad_account = 0;

  static void waitPort(int port) {
    for (int i = 0; i < 100; ++i) {
      if (vigil::test::runCommand("ss -ltn | grep -q '127.0.0.1:" + S(port) + " '").exit_code == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("the RDP target did not start");
  }
  std::int64_t makeSafe(bool tofu) {
    auto r = env_.admin().post("/api/v1/safes", {{"name", uniq("rdp-safe")}, {"policy", {{"trust_on_first_use", tofu}}}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  void grant(std::int64_t safe_id, std::int64_t user_id) {
    auto r = env_.admin().put("/api/v1/safes/" + S(safe_id) + "/members/" + S(user_id),
                              {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(r.status == 200);
  }
  std::int64_t makeTarget(const std::string& name, int port, const std::string& fingerprint) {
    json body{{"name", name}, {"protocol", "rdp"}, {"address", "127.0.0.1"}, {"port", port}};
    if (!fingerprint.empty()) body["host_key_fingerprint"] = fingerprint;
    auto r = env_.admin().post("/api/v1/targets", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  std::int64_t makeAccount(std::int64_t safe_id, std::int64_t target_id) {
    auto r = env_.admin().post("/api/v1/accounts", {{"safe_id", safe_id}, {"target_id", target_id}, {"username", user_},
                                                    {"secret_kind", "password"}, {"secret", password_}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }

 private:
  int rdp_port_;
  Env env_;
  std::string tmp_;
  XDisplay target_x_, client_x_;
  std::string user_ = "rdpuser";
  std::string password_ = "Pw-" + api_test::randomHex(8);
  int target_port_ = 0;
  Proc xterm_, shadow_;
};

inline World& world() {
  static World w;
  return w;
}

/// Types `text` and Enter into the xfreerdp window on display `d`.
inline void typeInto(XDisplay& d, const std::string& text) {
  auto env = d.env();
  auto id = vigil::test::runCommand(env + "xdotool search --sync --limit 1 --class xfreerdp");
  INFO(id.output);
  REQUIRE(id.exit_code == 0);
  std::string win = id.output.substr(0, id.output.find('\n'));
  vigil::test::runCommand(env + "xdotool windowfocus --sync " + win);
  // The pointer inside the window: the shadow server's XTest keys go to the xterm under it.
  vigil::test::runCommand(env + "xdotool mousemove --window " + win + " 400 300");
  auto t = vigil::test::runCommand(env + "xdotool type --delay 40 '" + text + "'");
  REQUIRE(t.exit_code == 0);
  vigil::test::runCommand(env + "xdotool key Return");
}
inline void typeInto(World& w, const std::string& text) { typeInto(w.client(), text); }

}  // namespace rdp_e2e
