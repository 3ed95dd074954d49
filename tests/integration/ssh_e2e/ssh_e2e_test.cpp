// SSH through `vigil serve`, end to end: the portal's launch token and the identity login, with
// real OpenSSH clients and a real sshd; what auditors find afterwards (session rows, commands,
// file transfers, recordings, audit rows); refusals; and a SIGKILL in the middle of a session.
// The cases run in the order written; the last one restarts the server.
#include <chrono>
#include <thread>

#include "integration/ssh_e2e/ssh_env.hpp"
#include "support/pty_process.hpp"

using namespace ssh_e2e;
using vigil::test::PtyProcess;

namespace {

std::vector<std::string> commandTexts(World& w, const std::string& session_id) {
  std::vector<std::string> out;
  for (auto& e : w.events(session_id, "command")) out.push_back(e["text"]);
  return out;
}

std::string sha256(const std::string& file) {
  auto r = vigil::test::runCommand("sha256sum " + file);
  REQUIRE(r.exit_code == 0);
  return r.output.substr(0, 64);
}

}  // namespace

TEST_CASE("a launch token from the portal runs a command on the target as the vault account", "[ssh][e2e]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  const std::string token = l["token"];
  CHECK(token.size() >= 26);  // at least 128 bits in base32
  CHECK(contains(l["ssh"]["command"].get<std::string>(), token + "@"));
  CHECK(contains(l["ssh"]["command"].get<std::string>(), "-p " + S(w.sshPort())));

  auto r = w.sshToken(token, "whoami; echo to-stderr >&2; exit 7");
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 7);
  CHECK(r.out == w.sshd().user() + "\n");
  CHECK(contains(r.err, "to-stderr"));
  CHECK_FALSE(contains(r.out, "to-stderr"));
  // The vault secret never reaches the person.
  CHECK_FALSE(contains(r.out + r.err, w.sshd().password()));

  auto s = w.endedSession(w.account, 1);
  CHECK(s["username"] == w.alice.username);
  CHECK(s["via"] == "ssh");
  CHECK(s["protocol"] == "ssh");
  CHECK(contains(s["client_addr"].get<std::string>(), "127.0.0.1"));
  CHECK(s["bytes_to_client"].get<std::int64_t>() > 0);
  auto cmds = commandTexts(w, s["id"]);
  REQUIRE_FALSE(cmds.empty());
  CHECK(contains(cmds.front(), "whoami; echo to-stderr"));
  CHECK(w.auditCount("session_start", s["id"]) == 1);
}

TEST_CASE("a vault private key works as the injected credential", "[ssh][e2e]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.key_account);
  auto r = w.sshToken(l["token"], "id -un");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == w.sshd().user() + "\n");
}

TEST_CASE("a launch token is single use", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  auto first = w.sshToken(l["token"], "true");
  REQUIRE(first.exit_code == 0);
  auto again = w.sshToken(l["token"], "echo should-not-run");
  CHECK(again.exit_code == 255);
  CHECK_FALSE(contains(again.out, "should-not-run"));
  CHECK(contains(again.err, "already used"));
  CHECK(w.auditCount("session_refused", "token_used") >= 1);
}

TEST_CASE("an expired launch token is refused", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  std::this_thread::sleep_for(std::chrono::seconds(6));  // the test config's TTL is 5 s
  auto r = w.sshToken(l["token"], "echo should-not-run");
  CHECK(r.exit_code == 255);
  CHECK_FALSE(contains(r.out, "should-not-run"));
  CHECK(contains(r.err, "expired"));
  CHECK(w.auditCount("session_refused", "token_expired") >= 1);
}

TEST_CASE("a wrong launch token is refused with a clear message", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto r = w.sshToken("abcdefghijklmnopqrstuvwxyz234567", "echo should-not-run");
  CHECK(r.exit_code == 255);
  CHECK_FALSE(contains(r.out, "should-not-run"));
  CHECK(contains(r.err, "launch token"));
}

TEST_CASE("a user without connect permission gets no token and no session", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto before = w.sessionsOf(w.account).size();
  auto r = w.bob.http().post("/api/v1/accounts/" + S(w.account) + "/launch", json::object());
  CHECK((r.status == 403 || r.status == 404));
  auto id = w.withPassword(w.bob.password, "ssh -p " + S(w.sshPort()) + w.sshOpts() + "'" +
                                               w.identity(w.bob, w.targetName(w.web01)) + "'@127.0.0.1 'echo should-not-run'");
  CHECK(id.exit_code != 0);
  CHECK_FALSE(contains(id.out, "should-not-run"));
  // Bob is not a member: he learns neither that the account exists nor its safe's name.
  CHECK(contains(id.err, "that you may use"));
  CHECK_FALSE(contains(id.err, "ssh-safe"));
  CHECK(w.auditCount("session_refused", w.bob.username) >= 1);
  CHECK(w.sessionsOf(w.account).size() == before);
}

TEST_CASE("a safe that requires dual authorization refuses sessions without an approved access request", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto r = w.env().admin().post("/api/v1/safes", {{"name", uniq("dual")}, {"policy", {{"require_dual_authorization", true}}}});
  REQUIRE(r.status == 201);
  const std::int64_t safe = r.json()["id"];
  REQUIRE(w.env().admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(w.alice.id), {{"permissions", {"connect"}}}).status == 200);
  auto t = w.env().admin().post("/api/v1/targets", {{"name", uniq("dual-t")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                                    {"port", w.sshd().port()}, {"host_key_fingerprint", w.sshd().hostKeyFingerprint()}});
  REQUIRE(t.status == 201);
  auto a = w.env().admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t.json()["id"]}, {"username", w.sshd().user()},
                                                     {"secret_kind", "password"}, {"secret", w.sshd().password()}});
  REQUIRE(a.status == 201);
  auto launch = w.alice.http().post("/api/v1/accounts/" + S(a.json()["id"]) + "/launch", json::object());
  CHECK(launch.status == 403);
  CHECK(contains(launch.body, "approval required"));
  auto ssh = w.withPassword(w.alice.password, "ssh -p " + S(w.sshPort()) + w.sshOpts() + "'" +
                                                  w.identity(w.alice, t.json()["name"]) + "'@127.0.0.1 'echo should-not-run'");
  CHECK(ssh.exit_code != 0);
  CHECK_FALSE(contains(ssh.out, "should-not-run"));
  CHECK(contains(ssh.err, "approval required: request access in the portal"));
}

TEST_CASE("the identity login with the person's own Vigil password opens the named account", "[ssh][e2e]") {
  auto& w = world();
  auto r = w.withPassword(w.alice.password, "ssh -p " + S(w.sshPort()) + w.sshOpts() + "'" +
                                                w.identity(w.alice, w.targetName(w.web01)) + "'@127.0.0.1 whoami");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == w.sshd().user() + "\n");
  auto wrong = w.withPassword("not-her-password", "ssh -p " + S(w.sshPort()) + w.sshOpts() +
                                                      "-o NumberOfPasswordPrompts=1 '" +
                                                      w.identity(w.alice, w.targetName(w.web01)) + "'@127.0.0.1 whoami");
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.out.empty());
}

TEST_CASE("a target whose host key does not match the pinned fingerprint is refused", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.bad_key_account);
  auto r = w.sshToken(l["token"], "echo should-not-run");
  CHECK(r.exit_code != 0);
  CHECK_FALSE(contains(r.out, "should-not-run"));
  CHECK(contains(r.err, "host key"));
  auto s = w.endedSession(w.bad_key_account, 1);
  CHECK(s["end_reason"] == "host_key_mismatch");
  CHECK(w.auditCount("session_end", "host_key_mismatch") + w.auditCount("session_refused", "host_key_mismatch") >= 1);
}

TEST_CASE("a target that is down gets a clear message", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.down_account);
  auto r = w.sshToken(l["token"], "echo should-not-run");
  CHECK(r.exit_code != 0);
  INFO(r.err);
  CHECK(contains(r.err, "could not reach"));
  auto s = w.endedSession(w.down_account, 1);
  CHECK(s["end_reason"] == "target_unreachable");
}

TEST_CASE("an unpinned target is refused unless the safe trusts on first use, which pins it", "[ssh][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.unpinned_account);
  auto r = w.sshToken(l["token"], "echo should-not-run");
  CHECK(r.exit_code != 0);
  CHECK_FALSE(contains(r.out, "should-not-run"));
  CHECK(contains(r.err, "host key"));

  auto t = w.launch(w.alice, w.tofu_account);
  auto ok = w.sshToken(t["token"], "echo pinned-ok");
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "pinned-ok\n");
  auto target = w.env().admin().get("/api/v1/targets/" + S(w.tofu_target)).json();
  CHECK(target["host_key_fingerprint"] == w.sshd().hostKeyFingerprint());
  CHECK(w.auditCount("host_key_pinned", w.sshd().hostKeyFingerprint()) == 1);
}

TEST_CASE("an interactive shell: pty size and resize reach the target, the transcript holds what the shell ran",
          "[ssh][e2e][transcript]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  const std::string token = l["token"];
  const int before = static_cast<int>(w.sessionsOf(w.account).size());
  PtyProcess p({"ssh", "-tt", "-p", S(w.sshPort()), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", token + "@127.0.0.1"},
               100, 30);
  REQUIRE(p.waitFor("$ "));
  p.type("stty size\r");
  CHECK(p.waitFor("30 100"));
  REQUIRE(p.waitFor("$ "));
  p.resize(120, 40);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  p.type("stty size\r");
  CHECK(p.waitFor("40 120"));
  REQUIRE(p.waitFor("$ "));
  p.type("echo first-$((6*7))\r");
  CHECK(p.waitFor("first-42"));
  REQUIRE(p.waitFor("$ "));
  p.type("\x1b[A\r");  // history recall: Up, Enter
  CHECK(p.waitFor("first-42"));
  REQUIRE(p.waitFor("$ "));
  p.type("touch vigil_tabfile_abc\r");
  REQUIRE(p.waitFor("$ "));
  p.type("ls vigil_tabf\t");  // Tab completes the name
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  p.type("\r");
  CHECK(p.waitFor("vigil_tabfile_abc"));
  REQUIRE(p.waitFor("$ "));
  p.type("exit\r");
  CHECK(p.wait() == 0);

  auto s = w.endedSession(w.account, static_cast<std::size_t>(before + 1));
  std::vector<std::string> cmds;
  for (int i = 0; i < 20; ++i) {  // the last batch of events may still be on its way
    cmds = commandTexts(w, s["id"]);
    if (cmds.size() >= 7) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO("commands: " << json(cmds).dump());
  auto count = [&](const std::string& c) { return std::count(cmds.begin(), cmds.end(), c); };
  CHECK(count("stty size") == 2);
  CHECK(count("echo first-$((6*7))") == 2);  // typed once, recalled once
  CHECK(count("ls vigil_tabfile_abc") == 1);  // completed by the shell
  CHECK(count("exit") == 1);

  auto cast = w.recording(s["id"]);
  INFO(cast.substr(0, 300));
  CHECK(contains(cast.substr(0, cast.find('\n')), "\"version\":2"));
  CHECK(contains(cast, "first-42"));
  CHECK(contains(cast, "\"r\",\"120x40\""));
}

TEST_CASE("bulk stdin and stdout of a command arrive whole, recorded, across key re-exchanges", "[ssh][e2e][files]") {
  auto& w = world();
  // Both legs re-key every 16 MB (the client here, the target sshd by its config): bytes held
  // back while a leg re-keys must be written afterwards, never dropped.
  const std::string n = "100000000";
  // Upload: the command counts what reached its stdin before the EOF.
  auto up = runSplit("sh -c \"yes abcdefghij | head -c " + n + " | ssh -p " + S(w.sshPort()) + w.sshOpts() +
                         "-o BatchMode=yes -o RekeyLimit=16M " + w.launch(w.alice, w.account)["token"].get<std::string>() +
                         "@127.0.0.1 'wc -c'\"",
                     w.tmp());
  INFO("upload: " << up.err);
  CHECK(up.exit_code == 0);
  CHECK(up.out == n + "\n");
  // Download: every byte the command wrote reaches the client, through the recorder.
  auto down = runSplit("sh -c \"ssh -p " + S(w.sshPort()) + w.sshOpts() + "-o BatchMode=yes -o RekeyLimit=16M " +
                           w.launch(w.alice, w.account)["token"].get<std::string>() + "@127.0.0.1 'yes abcdefghij | head -c " +
                           n + "' | wc -c\"",
                       w.tmp());
  INFO("download: " << down.err);
  CHECK(down.exit_code == 0);
  CHECK(down.out == n + "\n");
  CHECK_FALSE(contains(down.err, "recording"));
}

TEST_CASE("a client that reads slowly still gets the whole output after the target closes", "[ssh][e2e][files]") {
  auto& w = world();
  // The reader stalls, so both legs' windows fill: when the target sends its last bytes, EOF and
  // CLOSE, Vigil still holds unread output from it. That tail must reach the client.
  const std::string n = "20000000";
  for (int round = 0; round < 2; ++round) {
    auto down = runSplit("sh -c \"ssh -p " + S(w.sshPort()) + w.sshOpts() + "-o BatchMode=yes " +
                             w.launch(w.alice, w.account)["token"].get<std::string>() +
                             "@127.0.0.1 'yes abcdefghij | head -c " + n + "' | (sleep 2; wc -c)\"",
                         w.tmp());
    INFO("round " << round << ": " << down.err);
    CHECK(down.out == n + "\n");
  }
}

TEST_CASE("a 100 MB file round-trips through scp and sftp and each transfer is logged", "[ssh][e2e][files]") {
  auto& w = world();
  const std::string src = w.tmp() + "/big.bin";
  REQUIRE(vigil::test::runCommand("head -c 104857600 /dev/urandom > " + src).exit_code == 0);
  const std::string sum = sha256(src);
  const std::string who = "'" + w.identity(w.alice, w.targetName(w.web01)) + "'@127.0.0.1";
  const int before = static_cast<int>(w.sessionsOf(w.account).size());

  auto up = w.withPassword(w.alice.password, "scp -P " + S(w.sshPort()) + w.sshOpts() + src + " " + who + ":e2e-scp.bin");
  INFO("scp up: " << up.err);
  REQUIRE(up.exit_code == 0);
  auto down = w.withPassword(w.alice.password,
                             "scp -P " + S(w.sshPort()) + w.sshOpts() + who + ":e2e-scp.bin " + w.tmp() + "/back-scp.bin");
  INFO("scp down: " << down.err);
  REQUIRE(down.exit_code == 0);
  CHECK(sha256(w.tmp() + "/back-scp.bin") == sum);

  {
    std::ofstream b(w.tmp() + "/batch");
    b << "put " << src << " e2e-sftp.bin\nget e2e-sftp.bin " << w.tmp() << "/back-sftp.bin\nrm e2e-sftp.bin\n";
  }
  // sftp -b forces BatchMode (no password prompts): the portal's launch token needs none.
  auto l = w.launch(w.alice, w.account);
  auto sftp = runSplit("sftp -P " + S(w.sshPort()) + w.sshOpts() + "-b " + w.tmp() + "/batch " +
                           l["token"].get<std::string>() + "@127.0.0.1",
                       w.tmp());
  INFO("sftp: " << sftp.err);
  REQUIRE(sftp.exit_code == 0);
  CHECK(sha256(w.tmp() + "/back-sftp.bin") == sum);

  // Three sessions; their file events name the path and the size.
  auto s = w.endedSession(w.account, static_cast<std::size_t>(before + 3));
  auto list = w.sessionsOf(w.account);
  std::string all;
  for (int i = 0; i < 3; ++i)
    for (auto& e : w.events(list[static_cast<std::size_t>(i)]["id"], "file")) all += e.dump() + "\n";
  INFO(all);
  CHECK(contains(all, "e2e-scp.bin"));
  CHECK(contains(all, "e2e-sftp.bin"));
  CHECK(contains(all, "104857600"));
  CHECK(contains(all, "remove"));
  (void)s;
}

TEST_CASE("after a SIGKILL the recording plays up to the last second and the session is marked interrupted",
          "[ssh][e2e][crash]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  const int before = static_cast<int>(w.sessionsOf(w.account).size());
  std::string session_id;
  {
    PtyProcess p({"ssh", "-tt", "-p", S(w.sshPort()), "-o", "StrictHostKeyChecking=no", "-o",
                  "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", l["token"].get<std::string>() + "@127.0.0.1"});
    REQUIRE(p.waitFor("$ "));
    p.type("echo before-kill-$((40+2))\r");
    REQUIRE(p.waitFor("before-kill-42"));
    auto list = w.sessionsOf(w.account);
    REQUIRE(static_cast<int>(list.size()) == before + 1);
    session_id = list.front()["id"];
    CHECK(list.front()["ended_at"].is_null());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past the 1 s flush interval
    w.env().server().kill9();
    p.wait(5000);
  }
  w.env().server().start();  // same data directory: the session is found open and closed
  HttpsClient admin(w.env().server().port());
  REQUIRE(admin.login("admin", w.env().su().password).status == 200);
  auto s = admin.get("/api/v1/sessions/" + session_id);
  INFO(s.body);
  REQUIRE(s.status == 200);
  CHECK(s.json()["end_reason"] == "interrupted");
  CHECK_FALSE(s.json()["ended_at"].is_null());
  auto cast = admin.get("/api/v1/sessions/" + session_id + "/recording");
  REQUIRE(cast.status == 200);
  CHECK(contains(cast.body, "before-kill-42"));
}
