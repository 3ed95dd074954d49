// The live SOC against the real SSH path: watching (snapshot, then the stream; several
// watchers; read-only; a stalled watcher is dropped without slowing the session), suspend /
// resume / terminate through the API on the hosting node and across nodes (two `vigil serve`
// on one PostgreSQL, by LISTEN/NOTIFY), the SOC feed socket, and who may do what.
#include <future>
#include <set>

#include "live_env.hpp"

using namespace live_test;

namespace {

std::string watchPath(const std::string& id) { return "/api/v1/sessions/" + id + "/watch"; }

bool fileExists(const std::string& p) { return std::filesystem::exists(p); }

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// alice's interactive ssh through node A (or B), at a shell prompt.
struct AliceShell {
  std::unique_ptr<PtyProcess> p;
  std::string id;
  explicit AliceShell(bool on_b = false) {
    auto& w = world();
    auto known = w.activeSessions();
    p = std::make_unique<PtyProcess>(w.sshArgs(w.token(on_b), on_b), 100, 30);
    REQUIRE(p->waitFor("$ "));
    id = w.newActiveSession(known);
  }
};

}  // namespace

TEST_CASE("a watcher first gets the current screen, then the live output; two watchers at once",
          "[integration][live][watch]") {
  auto& w = world();
  AliceShell sh;
  sh.p->type("echo before-$((6*7))\r");
  REQUIRE(sh.p->waitFor("before-42"));
  REQUIRE(sh.p->waitFor("$ "));

  WsClient one(w.a().port()), two(w.a().port());
  REQUIRE(!one.connect(watchPath(sh.id), w.a().admin().cookie()));
  REQUIRE(!two.connect(watchPath(sh.id), w.monitor.client->cookie()));
  // The snapshot: what is on alice's screen already (the typed command and its result).
  CHECK(one.readUntil("before-42"));
  CHECK(two.readUntil("before-42"));
  REQUIRE(!one.texts.empty());
  CHECK(one.texts.front()["type"] == "size");
  CHECK(one.texts.front()["cols"] == 100);
  CHECK(one.texts.front()["rows"] == 30);

  sh.p->type("echo after-$((7*7))\r");
  REQUIRE(sh.p->waitFor("after-49"));
  CHECK(one.readUntil("after-49"));
  CHECK(two.readUntil("after-49"));

  // Watching is audited.
  int watches = 0;
  for (auto& row : w.a().audit("", "session_watch"))
    if (row["object_id"] == sh.id && row["outcome"] == "ok") ++watches;
  CHECK(watches == 2);
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
  CHECK(one.readUntilClosed());
  bool ended_msg = false;
  for (auto& t : one.texts)
    if (t.value("type", "") == "closed" && contains(t.value("message", ""), "session ended")) ended_msg = true;
  CHECK(ended_msg);
}

TEST_CASE("what a watcher sends never reaches the target", "[integration][live][watch]") {
  auto& w = world();
  AliceShell sh;
  WsClient watcher(w.a().port());
  REQUIRE(!watcher.connect(watchPath(sh.id), w.a().admin().cookie()));
  const std::string marker = "/tmp/vigil-live-inject-" + randomHex(6);
  REQUIRE(!watcher.write(json{{"type", "input"}, {"data", "touch " + marker + "\r"}}.dump()));
  REQUIRE(!watcher.write("touch " + marker + "\r", false));
  // alice's own command still runs, and the watcher still sees the stream.
  sh.p->type("echo mine-$((1+1))\r");
  REQUIRE(sh.p->waitFor("mine-2"));
  CHECK(watcher.readUntil("mine-2"));
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(fileExists(marker));
  CHECK_FALSE(contains(sh.p->output(), "touch " + marker));
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
}

TEST_CASE("suspend stops alice's keystrokes reaching the target and tells her; resume restores them",
          "[integration][live][control]") {
  auto& w = world();
  AliceShell sh;
  const std::string marker = "/tmp/vigil-live-suspended-" + randomHex(6);
  auto t0 = std::chrono::steady_clock::now();
  auto r = w.soc.http().post("/api/v1/sessions/" + sh.id + "/suspend", {{"message", "SOC review in progress"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.json()["status"] == "applied");
  CHECK(secondsSince(t0) < 1.0);
  CHECK(sh.p->waitFor("[Vigil] session suspended: SOC review in progress", 2000));

  sh.p->type("touch " + marker + "\r");
  std::this_thread::sleep_for(700ms);
  CHECK_FALSE(fileExists(marker));

  t0 = std::chrono::steady_clock::now();
  auto res = w.soc.http().post("/api/v1/sessions/" + sh.id + "/resume", json::object());
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(secondsSince(t0) < 1.0);
  CHECK(sh.p->waitFor("[Vigil] session resumed", 2000));
  sh.p->type("echo back-$((20+1))\r");
  CHECK(sh.p->waitFor("back-21"));
  CHECK_FALSE(fileExists(marker));

  // Timeline: lifecycle events for both actions; audit rows with the actor.
  std::set<std::string> actions;
  for (auto& e : w.lifecycle(sh.id))
    if (e.contains("details") && e["details"].contains("action")) actions.insert(e["details"]["action"]);
  CHECK(actions.count("suspend"));
  CHECK(actions.count("resume"));
  int audited = 0;
  for (auto& row : w.a().audit(w.soc.username, ""))
    if (row["object_id"] == sh.id && (row["action"] == "session_suspend" || row["action"] == "session_resume")) ++audited;
  CHECK(audited == 2);
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
}

TEST_CASE("terminate ends alice's ssh within a second and shows her the reason", "[integration][live][control]") {
  auto& w = world();
  AliceShell sh;
  auto t0 = std::chrono::steady_clock::now();
  auto r = w.monitor.http().post("/api/v1/sessions/" + sh.id + "/terminate", {{"reason", "policy violation 42"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  const int code = sh.p->wait(3000);
  CHECK(secondsSince(t0) < 1.5);
  CHECK(code != -1);
  CHECK(contains(sh.p->output(), "session terminated: policy violation 42"));
  auto s = w.session(sh.id);
  CHECK(s["end_reason"] == "terminated");
  CHECK(s["end_detail"] == "policy violation 42");
  bool event = false;
  for (auto& e : w.lifecycle(sh.id))
    if (e["details"].value("action", "") == "terminate") event = true;
  CHECK(event);
  int audited = 0;
  for (auto& row : w.a().audit(w.monitor.username, "session_terminate"))
    if (row["object_id"] == sh.id && row["outcome"] == "ok") ++audited;
  CHECK(audited == 1);

  // A control for an ended session: 409, and watching it too.
  auto again = w.soc.http().post("/api/v1/sessions/" + sh.id + "/suspend", json::object());
  checkError(again, 409, "session_ended");
  WsClient late(w.a().port());
  CHECK(late.connect(watchPath(sh.id), w.a().admin().cookie()));
  CHECK(late.response().result_int() == 409);
}

TEST_CASE("a session hosted on node B is suspended, resumed and terminated from node A", "[integration][live][nodes]") {
  auto& w = world();
  AliceShell sh(true);
  CHECK(w.session(sh.id)["node"] == "node-b");
  // Watching goes through the hosting node.
  WsClient there(w.a().port());
  CHECK(there.connect(watchPath(sh.id), w.a().admin().cookie()));
  CHECK(there.response().result_int() == 409);

  auto t0 = std::chrono::steady_clock::now();
  auto r = w.a().admin().post("/api/v1/sessions/" + sh.id + "/suspend", {{"message", "from node A"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.json()["node"] == "node-b");
  CHECK(secondsSince(t0) < 1.5);
  CHECK(sh.p->waitFor("session suspended: from node A", 2000));
  REQUIRE(w.a().admin().post("/api/v1/sessions/" + sh.id + "/resume", json::object()).status == 200);
  CHECK(sh.p->waitFor("session resumed", 2000));

  t0 = std::chrono::steady_clock::now();
  auto t = w.a().admin().post("/api/v1/sessions/" + sh.id + "/terminate", {{"reason", "ended from node A"}});
  INFO(t.body);
  REQUIRE(t.status == 200);
  CHECK(sh.p->wait(3000) != -1);
  CHECK(secondsSince(t0) < 2.0);
  CHECK(contains(sh.p->output(), "session terminated: ended from node A"));
  CHECK(w.session(sh.id)["end_reason"] == "terminated");
}

TEST_CASE("a stalled watcher is dropped while the session's throughput is unaffected", "[integration][live][watch]") {
  auto& w = world();
  // 60 MB through an exec channel after a pause in which the watchers join.
  const std::string remote = "sleep 2; head -c 60000000 /dev/zero";
  auto run = [&](bool with_stalled) {
    const std::string token = w.token();
    auto known = w.activeSessions();
    auto t0 = std::chrono::steady_clock::now();
    auto fut = std::async(std::launch::async, [&, token] {
      return runCommand("ssh -p " + S(w.a().server().sshPort()) +
                        " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes " + token +
                        "@127.0.0.1 '" + remote + "' | wc -c");
    });
    std::unique_ptr<WsClient> stalled;
    if (with_stalled) {
      const std::string id = w.newActiveSession(known);
      // The row is written just before the session registers on its node: 409 not_live for a
      // moment, so try again briefly.
      for (int i = 0; i < 30; ++i) {
        stalled = std::make_unique<WsClient>(w.a().port());
        if (!stalled->connect(watchPath(id), w.a().admin().cookie())) break;
        stalled.reset();
        std::this_thread::sleep_for(100ms);
      }
      REQUIRE(stalled);
      // ...and never reads while the data flows.
    }
    auto out = fut.get();
    const double secs = secondsSince(t0);
    INFO("ssh: exit " << out.exit_code << ", output: " << out.output.substr(0, 2000));
    CHECK(contains(out.output, "60000000"));
    if (stalled) {
      REQUIRE(stalled->readUntilClosed(20s));
      bool dropped = false;
      for (auto& t : stalled->texts)
        if (t.value("type", "") == "closed" && contains(t.value("message", ""), "too slow")) dropped = true;
      CHECK(dropped);
      CHECK(stalled->screen.size() < 60000000u);
    }
    return secs;
  };
  const double base = run(false);
  const double stalled = run(true);
  INFO("without watcher " << base << " s, with a stalled watcher " << stalled << " s");
  CHECK(stalled < base * 1.5 + 1.0);
}

TEST_CASE("the SOC feed pushes the running sessions and new alerts", "[integration][live][feed]") {
  auto& w = world();
  WsClient feed(w.a().port());
  REQUIRE(!feed.connect("/api/v1/live", w.soc.client->cookie()));
  auto first = feed.read();
  REQUIRE(!first.ec);
  auto j = json::parse(first.data);
  CHECK(j["type"] == "sessions");
  AliceShell sh(true);  // hosted on node B, listed by node A
  bool listed = false;
  for (int i = 0; i < 10 && !listed; ++i) {
    auto m = feed.read(5s);
    REQUIRE(!m.ec);
    auto x = json::parse(m.data);
    if (x["type"] != "sessions") continue;
    for (auto& s : x["items"])
      if (s["id"] == sh.id) {
        listed = true;
        CHECK(s["node"] == "node-b");
        CHECK(s["username"] == w.alice.username);
        CHECK(s["protocol"] == "ssh");
      }
  }
  CHECK(listed);
  // A new alert (as the risk engine writes it) reaches the feed with its player link.
  w.pg().psql("INSERT INTO alerts (session_id, offset_ms, username, rule_id, severity, score, message, matched)"
              " VALUES ('" + sh.id + "', 12000, '" + w.alice.username + "', 'test-rule', 'high', 50, 'a test', 'rm -rf /x')");
  bool alerted = false;
  for (int i = 0; i < 10 && !alerted; ++i) {
    auto m = feed.read(5s);
    REQUIRE(!m.ec);
    auto x = json::parse(m.data);
    if (x["type"] != "alert") continue;
    alerted = true;
    CHECK(x["rule_id"] == "test-rule");
    CHECK(x["link"] == "/#/sessions/" + sh.id + "?t=12");
  }
  CHECK(alerted);
  // The monitor_live holder's list has the session (its safe); the REST form too.
  auto list = w.monitor.http().get("/api/v1/live/sessions");
  REQUIRE(list.status == 200);
  CHECK(contains(list.body, sh.id));
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
}

TEST_CASE("users without soc, superuser or monitor_live get 403; anonymous 401", "[integration][live][authz]") {
  auto& w = world();
  AliceShell sh;
  for (const char* a : {"suspend", "resume", "terminate"}) {
    checkError(w.outsider.http().post("/api/v1/sessions/" + sh.id + "/" + a, json::object()), 403, "forbidden");
    checkError(w.alice.http().post("/api/v1/sessions/" + sh.id + "/" + a, json::object()), 403, "forbidden");
    CHECK(w.a().newClient()->post("/api/v1/sessions/" + sh.id + "/" + a, json::object()).status == 401);
  }
  checkError(w.outsider.http().get("/api/v1/live/sessions"), 403, "forbidden");
  WsClient watch(w.a().port());
  CHECK(watch.connect(watchPath(sh.id), w.outsider.client->cookie()));
  CHECK(watch.response().result_int() == 403);
  WsClient anon(w.a().port());
  CHECK(anon.connect(watchPath(sh.id), ""));
  CHECK(anon.response().result_int() == 401);
  WsClient cross(w.a().port());
  CHECK(cross.connect(watchPath(sh.id), w.a().admin().cookie(), false));
  CHECK(cross.response().result_int() == 403);
  WsClient feed(w.a().port());
  CHECK(feed.connect("/api/v1/live", w.outsider.client->cookie()));
  CHECK(feed.response().result_int() == 403);
  int denied = 0;
  for (auto& row : w.a().audit(w.outsider.username, "session_watch"))
    if (row["outcome"] == "denied") ++denied;
  CHECK(denied >= 1);
  // Still running: nothing above touched it.
  sh.p->type("echo still-$((3*3))\r");
  CHECK(sh.p->waitFor("still-9"));
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
}

TEST_CASE("bad input: unknown or malformed session ids, malformed JSON, unknown fields", "[integration][live][input]") {
  auto& w = world();
  auto& a = w.a().admin();
  checkError(a.post("/api/v1/sessions/01890000-0000-7000-8000-000000000000/terminate", json::object()), 404, "not_found");
  checkError(a.post("/api/v1/sessions/not-a-uuid/suspend", json::object()), 404, "not_found");
  AliceShell sh;
  checkError(a.request("POST", "/api/v1/sessions/" + sh.id + "/suspend", "{\"message\": "), 400, "invalid_json");
  checkError(a.post("/api/v1/sessions/" + sh.id + "/suspend", {{"mesage", "typo"}}), 400, "validation_failed");
  checkError(a.post("/api/v1/sessions/" + sh.id + "/terminate", {{"reason", 42}}), 400, "validation_failed");
  checkError(a.post("/api/v1/sessions/" + sh.id + "/suspend", {{"message", std::string(600, 'x')}}), 400,
             "validation_failed");
  WsClient unknown(w.a().port());
  CHECK(unknown.connect(watchPath("01890000-0000-7000-8000-000000000000"), a.cookie()));
  CHECK(unknown.response().result_int() == 404);
  // The session is untouched and the server still serves.
  sh.p->type("echo fine-$((4*4))\r");
  CHECK(sh.p->waitFor("fine-16"));
  CHECK(a.get("/healthz").status == 200);
  sh.p->type("exit\r");
  CHECK(sh.p->wait() == 0);
}

namespace {
/// The live safe is moderated while this lives.
struct Moderated {
  Moderated() { REQUIRE(set(true)); }
  ~Moderated() { set(false); }
  static bool set(bool on) {
    auto& w = world();
    return w.a().admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"moderated", on}}).status == 200;
  }
};
}  // namespace

TEST_CASE("a moderated safe: alice's input is held until a SOC watcher joins, and again when the watcher leaves",
          "[integration][live][moderated]") {
  auto& w = world();
  Moderated moderated;
  auto known = w.activeSessions();
  PtyProcess p(w.sshArgs(w.token()), 100, 30);
  REQUIRE(p.waitFor("waiting for a moderator", 10000));
  const std::string id = w.newActiveSession(known);
  // Held: what alice types does not reach the target.
  const std::string marker = "/tmp/vigil-moderated-" + randomHex(6);
  p.type("touch " + marker + "\r");
  std::this_thread::sleep_for(700ms);
  CHECK_FALSE(fileExists(marker));
  {
    // alice may not moderate herself (she has no monitor_live: 403); monitor may.
    WsClient self(w.a().port());
    CHECK(self.connect(watchPath(id), w.alice.client->cookie()));
    WsClient mod(w.a().port());
    REQUIRE(!mod.connect(watchPath(id), w.monitor.client->cookie()));
    REQUIRE(p.waitFor("[Vigil] session resumed", 5000));
    p.type("echo moderated-$((6*7))\r");
    REQUIRE(p.waitFor("moderated-42"));
    CHECK(mod.readUntil("moderated-42"));
  }
  // The moderator left: held again, and alice is told why.
  REQUIRE(p.waitFor("the moderator left", 5000));
  const std::string marker2 = marker + "-2";
  p.type("touch " + marker2 + "\r");
  std::this_thread::sleep_for(700ms);
  CHECK_FALSE(fileExists(marker2));
  REQUIRE(w.soc.http().post("/api/v1/sessions/" + id + "/terminate", {{"reason", "test over"}}).status == 200);
  CHECK(p.wait(5000) != -1);
  CHECK_FALSE(fileExists(marker));
  // The timeline shows each hold and release; session_start says the session was moderated.
  int suspends = 0, resumes = 0;
  for (auto& e : w.lifecycle(id)) {
    const std::string a = e["details"].value("action", "");
    suspends += a == "suspend";
    resumes += a == "resume";
  }
  CHECK(suspends == 2);
  CHECK(resumes == 1);
  bool start_moderated = false;
  for (auto& row : w.a().audit(w.alice.username, "session_start"))
    if (row["object_id"] == id) start_moderated = row["details"].value("moderated", false);
  CHECK(start_moderated);
}

TEST_CASE("a moderated session nobody watches ends after the configured wait, saying why", "[integration][live][moderated]") {
  auto& w = world();
  Moderated moderated;
  auto known = w.activeSessions();
  PtyProcess p(w.sshArgs(w.token(true), true), 100, 30);  // node B waits 3 s
  REQUIRE(p.waitFor("waiting for a moderator", 10000));
  const std::string id = w.newActiveSession(known);
  CHECK(p.wait(10000) != -1);
  CHECK(contains(p.output(), "no moderator watched this session within 3 s"));
  json s = w.session(id);
  for (int i = 0; i < 50 && s.value("end_reason", "").empty(); ++i) {  // written as the session ends
    std::this_thread::sleep_for(100ms);
    s = w.session(id);
  }
  CHECK(s["end_reason"] == "terminated");
  CHECK(contains(s["end_detail"].get<std::string>(), "no moderator"));
}
