// Live control from the session core (suspend, resume, terminate), fail-closed recording, and
// the browser bridge driven from C++.
#include <catch2/catch.hpp>

#include "protocols/ssh/web_terminal.hpp"
#include "ssh_env.hpp"

using namespace vigil::test;
using namespace std::chrono_literals;

namespace {

/// Calls a control method the way the session core does: from another thread, under the lock
/// that setControl() takes.
template <class F>
void withControl(SessionRecord& rec, F f) {
  std::lock_guard lk(rec.mu);
  REQUIRE(rec.control != nullptr);
  f(*rec.control);
}

}  // namespace

TEST_CASE("suspend withholds the person's input until resume, and terminate ends the session", "[ssh][integration][control]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  PtyDriver p(env.ssh(env.token("web01"), "-tt"));
  auto rec = env.gk.waitSession(sessions + 1, 10s);
  REQUIRE(rec);
  REQUIRE(rec->waitControl(10s));
  p.send("echo READY-$((1+1))\r");
  REQUIRE(p.expect("READY-2"));

  withControl(*rec, [](auto& c) { c.suspend("an auditor is looking"); });
  REQUIRE(p.expect("[Vigil] session suspended: an auditor is looking"));
  p.send("echo SUSPENDED-$((2+2))\r");
  std::this_thread::sleep_for(500ms);
  withControl(*rec, [](auto& c) { c.resume(); });
  REQUIRE(p.expect("[Vigil] session resumed"));
  p.send("echo RESUMED-$((3+3))\r");
  REQUIRE(p.expect("RESUMED-6"));
  CHECK(p.output().find("SUSPENDED-4") == std::string::npos);

  withControl(*rec, [](auto& c) { c.terminate("policy violation"); });
  CHECK(p.expect("[Vigil] session terminated: policy violation"));
  CHECK(p.wait() != -1);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "terminated");
  CHECK(rec->hasNote("suspended"));
  CHECK(rec->hasNote("resumed"));
  std::lock_guard lk(rec->mu);
  CHECK(rec->control == nullptr);
}

TEST_CASE("a recording that breaks ends the session when the policy requires recording", "[ssh][integration][control]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  PtyDriver p(env.ssh(env.token("web01"), "-tt"));
  auto rec = env.gk.waitSession(sessions + 1, 10s);
  REQUIRE(rec);
  REQUIRE(rec->waitControl(10s));
  rec->healthy = false;
  p.send("echo x\r");
  CHECK(p.expect("the recording cannot be written"));
  CHECK(p.wait() != -1);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "recording_failed");
}

namespace {

struct BrowserSide {
  std::mutex mu;
  std::condition_variable cv;
  std::string output;
  std::string closed_message;
  bool closed = false;

  vigil::proto::TerminalBridge::Callbacks callbacks() {
    vigil::proto::TerminalBridge::Callbacks cb;
    cb.output = [this](std::string_view b) {
      std::lock_guard lk(mu);
      output.append(b);
      cv.notify_all();
    };
    cb.closed = [this](const std::string& m) {
      std::lock_guard lk(mu);
      closed = true;
      closed_message = m;
      cv.notify_all();
    };
    return cb;
  }
  bool waitOutput(const std::string& needle, std::chrono::milliseconds t = 10s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return output.find(needle) != std::string::npos; });
  }
  bool waitClosed(std::chrono::milliseconds t = 10s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return closed; });
  }
};

}  // namespace

TEST_CASE("the browser bridge runs a shell: typed input reaches the target and output comes back", "[ssh][integration][web]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto opener = vigil::ssh::makeTerminalOpener(env.gk);
  std::size_t sessions = env.gk.sessionCount();
  BrowserSide page;
  auto grant = env.gk.redeemLaunchToken(env.token("web01"), {});
  auto bridge = opener(grant, {"ssh", "198.51.100.7:443", "web"}, 90, 20, page.callbacks());
  REQUIRE(bridge);
  bridge->write("echo hi-$((6*7))\r");
  CHECK(page.waitOutput("hi-42"));
  bridge->resize(132, 43);
  // The window change and the keys travel separately to the target: ask until the new size shows
  // (a loaded machine may run the first `stty size` before the change arrives).
  bool resized = false;
  for (int i = 0; i < 5 && !resized; ++i) {
    std::this_thread::sleep_for(200ms);
    bridge->write("stty size\r");
    resized = page.waitOutput("43 132", 2s);
  }
  CHECK(resized);
  CHECK(!bridge->sessionId().empty());
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  CHECK(env.gk.last_client.via == "web");
  bridge->write("exit 3\r");
  REQUIRE(page.waitClosed());
  CHECK(page.closed_message.find("exit status 3") != std::string::npos);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "target_closed");
  std::lock_guard lk(rec->mu);
  CHECK(rec->channel_kind == "shell");
  CHECK(rec->cols == 90);
  CHECK(rec->rows == 20);
  CHECK(rec->input.find("echo hi-") != std::string::npos);
  CHECK(rec->output.find("hi-42") != std::string::npos);
  CHECK(!rec->resizes.empty());
}

TEST_CASE("closing the browser page ends the bridge's session as client_closed", "[ssh][integration][web]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto opener = vigil::ssh::makeTerminalOpener(env.gk);
  std::size_t sessions = env.gk.sessionCount();
  BrowserSide page;
  auto bridge = opener(env.gk.redeemLaunchToken(env.token("web01"), {}), {"ssh", "198.51.100.7:443", "web"}, 80, 24,
                       page.callbacks());
  bridge->write("echo up-$((5*5))\r");
  REQUIRE(page.waitOutput("up-25"));
  bridge->close();
  bridge->close();  // idempotent
  REQUIRE(page.waitClosed());
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "client_closed");
}

TEST_CASE("the browser bridge applies the same host-key check and says why it refused", "[ssh][integration][web][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto opener = vigil::ssh::makeTerminalOpener(env.gk);
  BrowserSide page;
  auto bridge = opener(env.gk.redeemLaunchToken(env.token("mismatch"), {}), {"ssh", "198.51.100.7:443", "web"}, 80, 24,
                       page.callbacks());
  REQUIRE(page.waitClosed());
  CHECK(page.closed_message.find("does not match the pinned fingerprint") != std::string::npos);
  BrowserSide page2;
  vigil::proto::Grant denied;
  denied.message = "no permission for this account";
  auto b2 = opener(denied, {"ssh", "198.51.100.7:443", "web"}, 80, 24, page2.callbacks());
  REQUIRE(page2.waitClosed());
  CHECK(page2.closed_message == "Vigil refused: no permission for this account");
}

TEST_CASE("stopping the listener ends running sessions with a message to the person", "[ssh][integration][control]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  vigil::ssh::ListenerOptions o;
  o.host_key_file = (env.dir / "stop_host_key").string();
  vigil::ssh::SshListener l(env.gk, o);
  std::string err;
  REQUIRE(l.start(err));
  std::size_t sessions = env.gk.sessionCount();
  PtyDriver p("ssh " + env.sshOpts() + " -tt -p " + std::to_string(l.port()) + " " + env.token("web01") + "@127.0.0.1");
  auto rec = env.gk.waitSession(sessions + 1, 10s);
  REQUIRE(rec);
  REQUIRE(rec->waitControl(10s));
  p.send("echo LIVE-$((9*9))\r");
  REQUIRE(p.expect("LIVE-81"));
  l.stop();
  CHECK(l.stats().connections == 0);
  CHECK(p.expect("[Vigil] session terminated: Vigil is stopping"));
  CHECK(p.wait() != -1);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "terminated");
}
