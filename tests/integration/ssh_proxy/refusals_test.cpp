// Refusals: each one gives the person a clear message on the client's stderr, ends the session
// with its reason, and never logs in to the target.
#include <catch2/catch.hpp>

#include "ssh_env.hpp"

using namespace vigil::test;
using namespace std::chrono_literals;

TEST_CASE("an unknown launch token is refused with a clear message and no session", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  int logins = env.targetLogins();
  auto r = run(env.ssh("tokNOSUCHTOKEN", "", "INFO") + " whoami");
  CHECK(r.status == 255);
  CHECK(r.out.empty());
  CHECK(r.err.find("Vigil refused: launch token unknown, expired or already used") != std::string::npos);
  CHECK(env.gk.sessionCount() == sessions);
  CHECK(env.targetLogins() == logins);
}

TEST_CASE("a launch token works once and is refused when reused", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::string tok = env.token("web01");
  CHECK(run(env.ssh(tok) + " true").status == 0);
  auto r = run(env.ssh(tok, "", "INFO") + " true");
  CHECK(r.status == 255);
  CHECK(r.err.find("already used") != std::string::npos);
}

TEST_CASE("a launch token is also accepted as the password by clients that skip none", "[ssh][integration]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto r = run("sshpass -p anything " + env.ssh(env.token("web01"), "-o PreferredAuthentications=password", "ERROR", false) +
               " whoami");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == env.sshd.user() + "\n");
}

TEST_CASE("a target whose host key does not match the pin is refused before logging in", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  int logins = env.targetLogins();
  auto r = run(env.ssh(env.token("mismatch")) + " whoami");
  CHECK(r.status == 255);
  CHECK(r.out.empty());
  CHECK(r.err.find("Vigil refused: the host key of mismatch does not match the pinned fingerprint") != std::string::npos);
  CHECK(r.err.find(env.sshd.hostKeyFingerprint()) != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "host_key_mismatch");
  CHECK(rec->end_detail.find("expected SHA256:AAAA") != std::string::npos);
  CHECK(env.targetLogins() == logins);
}

TEST_CASE("an unpinned target is refused unless the policy trusts on first use", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto r = run(env.ssh(env.token("unpinned")) + " whoami");
  CHECK(r.status == 255);
  CHECK(r.err.find("is not pinned") != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "host_key_unpinned");

  auto t = run(env.ssh(env.token("tofu")) + " whoami");
  INFO(t.err);
  CHECK(t.status == 0);
  CHECK(t.out == env.sshd.user() + "\n");
  auto tofu = env.gk.waitSession(sessions + 2, 5s);
  REQUIRE(tofu);
  REQUIRE(tofu->waitEnded(5s));
  CHECK(tofu->hasNote("host_key_pinned"));
  CHECK(env.gk.pinned[tofu->grant.target.target_id] == env.sshd.hostKeyFingerprint());
}

TEST_CASE("a target that is down is reported as unreachable", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto r = run(env.ssh(env.token("down")) + " whoami");
  CHECK(r.status == 255);
  CHECK(r.err.find("Vigil could not reach down") != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "target_unreachable");
}

TEST_CASE("a vault credential the target rejects ends the session as target_auth_failed", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto r = run(env.ssh(env.token("badcred")) + " whoami");
  CHECK(r.status == 255);
  CHECK(r.err.find("with the stored credential") != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->reason() == "target_auth_failed");
}

TEST_CASE("a session the core cannot start is refused with the core's message", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  int logins = env.targetLogins();
  env.gk.fail_next_start = true;
  auto r = run(env.ssh(env.token("web01"), "", "INFO") + " whoami");
  CHECK(r.status == 255);
  CHECK(r.err.find("Vigil refused: the recording cannot be opened") != std::string::npos);
  CHECK(env.targetLogins() == logins);
}

TEST_CASE("file transfer is refused when the safe's policy forbids it", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto r = run("echo ls | sftp -b - " + env.sshOpts() + " -P " + std::to_string(env.port()) + " " +
               env.token("nofiles") + "@127.0.0.1");
  CHECK(r.status != 0);
  CHECK(r.err.find("file transfer (scp/sftp) is not allowed") != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->hasNote("file_transfer_refused"));

  auto s = run("scp -O " + env.sshOpts() + " -P " + std::to_string(env.port()) + " /etc/hostname " +
               env.token("nofiles") + "@127.0.0.1:/tmp/vigil-sshp-never");
  CHECK(s.status != 0);
  CHECK(s.err.find("not allowed") != std::string::npos);
  // An ordinary command on the same account still works.
  CHECK(run(env.ssh(env.token("nofiles")) + " true").status == 0);
}

TEST_CASE("port forwarding is refused and noted while the session goes on", "[ssh][integration][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto r = run(env.ssh(env.token("web01"), "-R 0:127.0.0.1:22", "INFO") + " \"echo still-here\"");
  CHECK(r.status == 0);
  CHECK(r.out == "still-here\n");
  CHECK(r.err.find("forwarding failed") != std::string::npos);
  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(5s));
  CHECK(rec->hasNote("port_forward_refused"));

  auto w = run(env.ssh(env.token("web01"), "-W 127.0.0.1:22", "INFO"));
  CHECK(w.status != 0);
  auto rec2 = env.gk.waitSession(sessions + 2, 5s);
  REQUIRE(rec2);
  REQUIRE(rec2->waitEnded(10s));
  CHECK(rec2->hasNote("port_forward_refused"));
}

TEST_CASE("an identity login with a password opens the named account", "[ssh][integration][identity]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::string login = "alice%" + env.sshd.user() + "%web01";
  auto r = run("sshpass -p alice-pw " + env.ssh(login, "-o PreferredAuthentications=password", "ERROR", false) + " whoami");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == env.sshd.user() + "\n");
  // The same through keyboard-interactive (OpenSSH's default preference over password).
  auto k = run("sshpass -p alice-pw " +
               env.ssh(login, "-o PreferredAuthentications=keyboard-interactive", "ERROR", false) + " whoami");
  INFO(k.err);
  CHECK(k.status == 0);
  CHECK(k.out == env.sshd.user() + "\n");
}

TEST_CASE("an identity login with a wrong password is refused without saying whether the user exists",
          "[ssh][integration][identity][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  auto a = run("sshpass -p wrong " +
               env.ssh("alice%" + env.sshd.user() + "%web01", "-o PreferredAuthentications=password", "INFO", false) +
               " whoami");
  auto b = run("sshpass -p wrong " +
               env.ssh("nobody%" + env.sshd.user() + "%web01", "-o PreferredAuthentications=password", "INFO", false) +
               " whoami");
  CHECK(a.status == 255);
  CHECK(b.status == 255);
  CHECK(a.err.find("Vigil refused: wrong user name or password") != std::string::npos);
  CHECK(b.err.find("Vigil refused: wrong user name or password") != std::string::npos);
  CHECK(env.gk.sessionCount() == sessions);
}

TEST_CASE("a malformed identity login name is refused with the expected syntax", "[ssh][integration][identity][refusal]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto r = run(env.ssh("alice%web01", "", "INFO") + " true");
  CHECK(r.status == 255);
  CHECK(r.err.find("vigiluser%account%target") != std::string::npos);
}

TEST_CASE("an identity login with TOTP asks for the code with keyboard-interactive", "[ssh][integration][identity]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::string login = "bob%" + env.sshd.user() + "%web01";
  {
    PtyDriver p(env.ssh(login, "-o PreferredAuthentications=password,keyboard-interactive", "ERROR", false) +
                " \"echo totp-ok\"");
    REQUIRE(p.expect("password:"));
    p.send("bob-pw\n");
    REQUIRE(p.expect("Vigil one-time code: "));
    p.send("246810\n");
    CHECK(p.expect("totp-ok"));
    INFO("the client showed:\n" << p.output());
    CHECK(p.wait(30000) == 0);
  }
  {
    // Password and code both asked through keyboard-interactive.
    PtyDriver p(env.ssh(login, "-o PreferredAuthentications=keyboard-interactive", "ERROR", false) +
                " \"echo kbd-ok\"");
    REQUIRE(p.expect("Password: "));
    p.send("bob-pw\n");
    REQUIRE(p.expect("Vigil one-time code: "));
    p.send("246810\n");
    CHECK(p.expect("kbd-ok"));
    INFO("the client showed:\n" << p.output());
    CHECK(p.wait(30000) == 0);
  }
  {
    PtyDriver p(env.ssh(login, "-o PreferredAuthentications=password,keyboard-interactive", "INFO", false) + " true");
    REQUIRE(p.expect("password:"));
    p.send("bob-pw\n");
    REQUIRE(p.expect("Vigil one-time code: "));
    p.send("000000\n");
    CHECK(p.expect("Vigil refused: wrong one-time code"));
    INFO("the client showed:\n" << p.output());
    CHECK(p.wait(30000) == 255);
  }
}

TEST_CASE("an identity login with a registered public key opens the account", "[ssh][integration][identity]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::string key = (env.sshd.dir() / "user_key").string();
  auto r = run(env.ssh("carol%" + env.sshd.user() + "%web01", "", "ERROR", true, key) + " whoami");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == env.sshd.user() + "\n");
  // alice has no key registered: the key is not accepted and batch mode has nothing else.
  auto a = run(env.ssh("alice%" + env.sshd.user() + "%web01", "", "ERROR", true, key) + " whoami");
  CHECK(a.status == 255);
}
