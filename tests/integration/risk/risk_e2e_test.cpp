// The risk engine end to end: real `ssh` through the real proxy to a real sshd, rules from a file
// the test rewrites. Blocking (the target never receives the command), alerts with offsets and
// risk score, terminate within a second, lock_user, reload into a running session, a rejected
// rules file leaving the old rules active, and the alerts API.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "integration/risk/risk_env.hpp"

using namespace risk_test;
namespace fs = std::filesystem;

namespace {

bool hasAction(const json& alert, const std::string& action) {
  for (auto& a : alert["actions"])
    if (a == action) return true;
  return false;
}

}  // namespace

TEST_CASE("a typed command matching a block rule never reaches the target and the person is told why",
          "[risk][e2e][block]") {
  auto& w = world();
  const std::string victim = "/tmp/vigil-x-" + api_test::randomHex(6);
  auto p = w.shell(w.alice);
  p->type("mkdir " + victim + " && echo made-it\r");
  REQUIRE(p->waitFor("made-it"));
  REQUIRE(p->waitFor("$ "));
  REQUIRE(fs::is_directory(victim));

  // Typed, then Enter once the shell has echoed it: decided from the screen line.
  p->type("rm -rf " + victim);
  REQUIRE(p->waitFor(victim));
  p->type("\r");
  CHECK(p->waitFor("Vigil blocked this command: Deleting the protected test directory [rule block-vigil-x]"));
  // bash does not always redraw its prompt after the Ctrl-C that replaced the line (when the
  // interrupt lands while readline is busy it waits for the next key); Enter brings it back, as a
  // person would press it.
  p->type("\r");
  if (!p->waitFor("$ ")) FAIL("no prompt after the blocked command; the terminal showed:\n" << p->output());

  // Enter with the cursor moved back into the line: nothing of the line may survive the block
  // (the Enter that follows would run what is left).
  p->type("rm -rf " + victim + " ; echo left-over");
  REQUIRE(p->waitFor("left-over"));
  p->type("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\r");
  CHECK(p->waitFor("Vigil blocked this command"));
  p->type("\r");
  if (!p->waitFor("$ ")) FAIL("no prompt after the third blocked command; the terminal showed:\n" << p->output());
  CHECK(fs::is_directory(victim));

  // Pasted in one piece with obfuscation: quotes, sudo-less wrapper, absolute path, split flags.
  p->type("nohup /bin/r'm' -r -f \"" + victim + "\"\r");
  if (!p->waitFor("Vigil blocked this command")) FAIL_CHECK("the pasted line was not blocked; the terminal showed:\n" << p->output());
  p->type("\r");
  if (!p->waitFor("$ ")) FAIL("no prompt after the second blocked command; the terminal showed:\n" << p->output());

  // Several lines pasted at once, the second blocked: none of them reaches the target.
  p->type("\r");
  REQUIRE(p->waitFor("$ "));
  p->type("echo first-li''ne\rrm -rf " + victim + "\recho never-ru''ns\r");
  if (!p->waitFor("Vigil blocked this command")) FAIL_CHECK("the second pasted line was not blocked:\n" << p->output());
  p->type("\r");
  REQUIRE(p->waitFor("$ "));

  // The session goes on, and the directory is still there.
  p->type("ls -d " + victim + " && echo still-here\r");
  CHECK(p->waitFor("still-here"));
  CHECK(fs::is_directory(victim));
  p->type("exit\r");
  CHECK(p->wait() == 0);
  CHECK_FALSE(contains(p->output(), "never-runs"));
  CHECK_FALSE(contains(p->output(), "first-line"));

  const std::string sid = w.newestSession()["id"];
  auto events = w.riskEvents(sid, 4);
  REQUIRE(events.size() >= 4);
  for (auto& e : events) {
    CHECK(e["details"]["rule"] == "block-vigil-x");
    CHECK(e["details"]["blocked"] == true);
    CHECK(e["offset_ms"].get<std::int64_t>() > 0);
  }
  auto alerts = w.alerts(sid, 2);
  REQUIRE(alerts.size() >= 2);
  CHECK(hasAction(alerts[0], "block"));
  CHECK(alerts[0]["severity"] == "high");
  CHECK(alerts[0]["username"] == w.alice.username);
  // The blocked command is not in the transcript as a command the shell ran.
  auto r = w.env().admin().get("/api/v1/sessions/" + sid + "/events?kind=command&limit=500");
  const json cmds = r.json();
  for (auto& c : cmds["items"]) CHECK_FALSE(contains(c["text"].get<std::string>(), "rm "));
  fs::remove_all(victim);
}

TEST_CASE("a command given to ssh (exec) that matches a block rule never starts on the target",
          "[risk][e2e][block]") {
  auto& w = world();
  const std::string victim = "/tmp/vigil-x-" + api_test::randomHex(6);
  fs::create_directories(victim);
  auto l = w.alice.http().post("/api/v1/accounts/" + S(w.account) + "/launch", json::object());
  REQUIRE(l.status == 201);
  auto r = vigil::test::runCommand("ssh -p " + S(w.env().server().sshPort()) +
                                   " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes " +
                                   l.json()["token"].get<std::string>() + "@127.0.0.1 'rm -rf " + victim + "; echo ran-it'");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "Vigil blocked this command: Deleting the protected test directory [rule block-vigil-x]"));
  CHECK_FALSE(contains(r.output, "ran-it"));
  CHECK(fs::is_directory(victim));

  json s = w.newestSession();
  for (int i = 0; i < 50 && s["end_reason"] == ""; ++i) {  // the end is written asynchronously
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = w.session(s["id"]);
  }
  CHECK(s["end_reason"] == "command_blocked");
  auto events = w.riskEvents(s["id"], 1);
  REQUIRE_FALSE(events.empty());
  CHECK(events[0]["details"]["rule"] == "block-vigil-x");
  CHECK(events[0]["details"]["blocked"] == true);
  auto alerts = w.alerts(s["id"], 1);
  REQUIRE_FALSE(alerts.empty());
  CHECK(hasAction(alerts[0], "block"));
  fs::remove_all(victim);
}

TEST_CASE("an alert rule writes an alert, a risk event at the command's offset and raises the risk score",
          "[risk][e2e][alert]") {
  auto& w = world();
  auto p = w.shell(w.alice);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a measurable offset
  p->type("echo vigil-alert-marker one\r");
  REQUIRE(p->waitFor("vigil-alert-marker one"));
  REQUIRE(p->waitFor("$ "));
  const std::string sid = w.newestSession()["id"];
  auto alerts = w.alerts(sid);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["rule_id"] == "alert-marker");
  CHECK(alerts[0]["matched"] == "echo vigil-alert-marker one");
  CHECK(alerts[0]["status"] == "open");
  CHECK(alerts[0]["offset_ms"].get<std::int64_t>() >= 300);
  auto events = w.riskEvents(sid);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["details"]["score"] == 7);
  CHECK(events[0]["details"]["severity"] == "medium");
  CHECK(events[0]["offset_ms"] == alerts[0]["offset_ms"]);
  p->type("echo vigil-alert-marker two\r");
  REQUIRE(p->waitFor("vigil-alert-marker two"));
  w.alerts(sid, 2);
  CHECK(w.session(sid)["risk_score"] == 14);
  p->type("exit\r");
  CHECK(p->wait() == 0);
}

TEST_CASE("a terminate rule ends the session within a second and the ssh client exits", "[risk][e2e][terminate]") {
  auto& w = world();
  auto p = w.shell(w.alice);
  auto t0 = std::chrono::steady_clock::now();
  p->type("echo vigil-terminate-marker\r");
  CHECK(p->waitFor("session terminated"));
  p->wait(3000);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed < std::chrono::milliseconds(1500));
  const std::string sid = w.newestSession()["id"];
  json s;
  for (int i = 0; i < 50; ++i) {
    s = w.session(sid);
    if (!s["ended_at"].is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(s["end_reason"] == "terminated");
  CHECK(contains(s["end_detail"].get<std::string>(), "terminate-marker"));
  auto alerts = w.alerts(sid);
  REQUIRE_FALSE(alerts.empty());
  CHECK(hasAction(alerts[0], "terminate"));
}

TEST_CASE("a lock_user rule ends the session and the user's next login is refused", "[risk][e2e][lock]") {
  auto& w = world();
  Principal carol = w.env().makeUser({});
  w.grant(carol);
  auto p = w.shell(carol);
  p->type("echo vigil-lock-marker\r");
  CHECK(p->waitFor("session terminated"));
  p->wait(3000);
  bool locked = false;
  for (int i = 0; i < 50 && !locked; ++i) {
    locked = w.env().psql("SELECT locked FROM users WHERE id = " + S(carol.id)) == "t";
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(locked);
  auto l = carol.http().post("/api/v1/accounts/" + S(w.account) + "/launch", json::object());
  CHECK(l.status != 201);
  auto fresh = w.env().newClient();
  CHECK(fresh->login(carol.username, carol.password).status != 200);
  CHECK(w.env().audit("vigil", "user_lock").size() >= 1);
}

TEST_CASE("a reloaded rules file applies to a session that is already running", "[risk][e2e][reload]") {
  auto& w = world();
  auto p = w.shell(w.alice);
  p->type("echo vigil-new-rule before\r");
  REQUIRE(p->waitFor("vigil-new-rule before"));
  REQUIRE(p->waitFor("$ "));
  writeFile(w.rulesFile(), rulesYaml(R"(  - id: new-rule
    description: Added while the session ran
    match: command
    pattern: 'vigil-new-rule after'
    severity: low
    score: 1
    actions: [alert]
)"));
  auto r = w.soc.http().post("/api/v1/risk/rules/reload", json::object());
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.json()["rules"].size() == 5);
  p->type("echo vigil-new-rule after\r");
  REQUIRE(p->waitFor("vigil-new-rule after"));
  const std::string sid = w.newestSession()["id"];
  auto alerts = w.alerts(sid);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["rule_id"] == "new-rule");
  p->type("exit\r");
  CHECK(p->wait() == 0);
  CHECK(w.env().audit(w.soc.username, "risk_rules_reload").size() >= 1);
}

TEST_CASE("a changed rules file is picked up without a request, and SIGHUP reloads it", "[risk][e2e][reload]") {
  auto& w = world();
  writeFile(w.rulesFile(), rulesYaml(R"(  - id: polled-rule
    description: Picked up by the mtime poll
    match: command
    pattern: 'vigil-polled'
    severity: low
    actions: [alert]
)"));
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    auto r = w.soc.http().get("/api/v1/risk/rules");
    REQUIRE(r.status == 200);
    seen = contains(r.body, "polled-rule");
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(seen);
  REQUIRE(::kill(w.env().server().pid(), SIGHUP) == 0);
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i) {
    for (auto& row : w.env().audit("vigil", "risk_rules_reload"))
      if (contains(row.dump(), "SIGHUP")) audited = true;
    if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(audited);
  CHECK(w.env().server().pid() > 0);
  api_test::checkAlive();
}

TEST_CASE("an invalid rules file is rejected with the rule id and reason and the previous rules stay active",
          "[risk][e2e][reload][bad-input]") {
  auto& w = world();
  writeFile(w.rulesFile(), rulesYaml());
  auto ok = w.soc.http().post("/api/v1/risk/rules/reload", json::object());
  REQUIRE(ok.status == 200);
  const std::string version = ok.json()["version"];

  writeFile(w.rulesFile(), rulesYaml(R"(  - id: broken-rule
    description: Bad action
    match: command
    pattern: 'x'
    severity: low
    actions: [alert, explode]
)"));
  auto bad = w.soc.http().post("/api/v1/risk/rules/reload", json::object());
  INFO(bad.body);
  CHECK(bad.status == 422);
  CHECK(bad.errorCode() == "rules_rejected");
  CHECK(bad.json()["error"]["rule"] == "broken-rule");
  CHECK(contains(bad.json()["error"]["reason"].get<std::string>(), "unknown action 'explode'"));

  writeFile(w.rulesFile(), rulesYaml(R"(  - id: bad-regex
    description: Bad regex
    match: command
    pattern: 'rm (-rf'
    severity: low
    actions: [alert]
)"));
  bad = w.soc.http().post("/api/v1/risk/rules/reload", json::object());
  CHECK(bad.status == 422);
  CHECK(bad.json()["error"]["rule"] == "bad-regex");

  auto now = w.soc.http().get("/api/v1/risk/rules");
  REQUIRE(now.status == 200);
  CHECK(now.json()["version"] == version);
  CHECK(contains(now.json()["last_error"].get<std::string>(), "bad-regex"));
  // The old rules still act on a new session.
  auto p = w.shell(w.alice);
  p->type("echo vigil-alert-marker after-reject\r");
  REQUIRE(p->waitFor("after-reject"));
  const std::string sid = w.newestSession()["id"];
  CHECK(w.alerts(sid).size() == 1);
  p->type("exit\r");
  CHECK(p->wait() == 0);
  writeFile(w.rulesFile(), rulesYaml());
  api_test::checkAlive();
}

TEST_CASE("alerts are listed with filters and acknowledged by the SOC, audited", "[risk][api]") {
  auto& w = world();
  auto open = w.soc.http().get("/api/v1/alerts?status=open&limit=500");
  REQUIRE(open.status == 200);
  const json items = open.json()["items"];
  REQUIRE_FALSE(items.empty());
  const std::int64_t id = items[0]["id"];
  const std::int64_t oldest = items[items.size() - 1]["id"];

  auto since = w.auditor.http().get("/api/v1/alerts?since_id=" + S(oldest));
  REQUIRE(since.status == 200);
  const json sitems = since.json()["items"];
  for (auto& a : sitems) CHECK(a["id"].get<std::int64_t>() > oldest);

  CHECK(w.auditor.http().post("/api/v1/alerts/" + S(id) + "/acknowledge", json::object()).status == 403);
  CHECK(w.plain.http().get("/api/v1/alerts").status == 403);
  CHECK(w.plain.http().get("/api/v1/risk/rules").status == 403);
  CHECK(w.auditor.http().post("/api/v1/risk/rules/reload", json::object()).status == 403);

  auto ack = w.soc.http().post("/api/v1/alerts/" + S(id) + "/acknowledge", json::object());
  INFO(ack.body);
  REQUIRE(ack.status == 200);
  CHECK(ack.json()["status"] == "acknowledged");
  CHECK(ack.json()["acknowledged_by"] == w.soc.username);
  auto acked = w.soc.http().get("/api/v1/alerts?status=acknowledged");
  CHECK(contains(acked.body, "\"id\":" + S(id)));
  CHECK(w.env().audit(w.soc.username, "alert_acknowledge").size() == 1);

  api_test::checkError(w.soc.http().post("/api/v1/alerts/999999999/acknowledge", json::object()), 404, "not_found");
  api_test::checkError(w.soc.http().get("/api/v1/alerts?status=bogus"), 400, "validation_failed");
  api_test::checkError(w.soc.http().get("/api/v1/alerts?session_id=nope"), 400, "validation_failed");
  api_test::checkAlive();
}

TEST_CASE("the rules API shows the active rules to the SOC and auditors", "[risk][api]") {
  auto& w = world();
  auto r = w.auditor.http().get("/api/v1/risk/rules");
  REQUIRE(r.status == 200);
  const json body = r.json();
  CHECK(body["file"] == w.rulesFile());
  CHECK_FALSE(body["version"].get<std::string>().empty());
  bool found = false;
  for (auto& rule : body["rules"])
    if (rule["id"] == "block-vigil-x") {
      found = true;
      CHECK(rule["match"] == "command");
      CHECK(rule["actions"] == json({"alert", "score", "block"}));
      CHECK(rule["patterns"][0] == "^rm (.* )?/tmp/vigil-x");
    }
  CHECK(found);
}
