// A session started through the gatekeeper and driven by a real bash on a pty: the row exists
// before the target is dialled, the recording is written and readable (through the API too),
// a password typed at a prompt with echo off never reaches the recording, commands land in the
// searchable timeline, and the end is written after the events.
#include <fstream>
#include <thread>

#include "pty_shell.hpp"
#include "recorder/asciicast_reader.hpp"
#include "sessions_env.hpp"

using namespace sessions_test;
using Status = vigil::proto::Grant::Status;

namespace {

constexpr const char* kPassword = "hunter2-Zq9";

struct Started {
  vigil::proto::Grant grant;
  std::unique_ptr<vigil::proto::Session> session;
};

Started start(Env& e, const User& u, std::int64_t account_id, const std::string& via = "ssh") {
  vigil::proto::ClientInfo client{"ssh", "198.51.100.7:50022", via};
  Started s;
  s.grant = e.gk().authorizeUser(u.u.id, account_id, client);
  INFO(s.grant.message);
  REQUIRE(s.grant.status == Status::Ok);
  std::string error;
  s.session = e.gk().startSession(s.grant, client, error);
  INFO(error);
  REQUIRE(s.session);
  return s;
}

std::vector<std::string> commandTexts(Env& e, const std::string& id) {
  vigil::store::Page p;
  p.limit = 500;
  std::vector<std::string> out;
  for (auto& ev : e.store().listSessionEvents(id, std::string("command"), p)) out.push_back(ev.text);
  return out;
}

}  // namespace

TEST_CASE("a recorded terminal session: row first, commands, masked password, searchable, end after events",
          "[integration][sessions][recording]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto s = start(e, u, f.account.id);
  const std::string id = s.session->id();

  // The row is there before anything is dialled.
  auto row = e.store().sessionById(id);
  REQUIRE(row);
  CHECK(row->ended_at.empty());
  CHECK(row->node == "test-node");
  CHECK(row->username == u.u.username);
  CHECK(row->account_user == "root");
  CHECK(row->target_name == f.target.name);
  CHECK(row->safe_name == f.safe.name);
  CHECK(row->via == "ssh");
  CHECK(row->client_addr == "198.51.100.7:50022");
  CHECK_FALSE(row->recording_path.empty());
  auto started = e.lastAudit("session_start", id);
  REQUIRE(started);
  CHECK((*started)["_outcome"] == "ok");

  auto cred = s.session->takeCredential();
  CHECK(cred.username == "root");
  CHECK(cred.kind == "password");
  CHECK(std::string(cred.secret.data(), cred.secret.size()) == "target-pw");
  CHECK(s.session->takeCredential().secret.empty());  // handed out once

  {
    PtyShell sh(*s.session);
    s.session->channelOpened("shell", "", "xterm", 80, 24);
    REQUIRE(sh.pump(5000, "$ "));
    // Quoted so that the echo does not read "Password: "; `; echo` ends the line after the
    // silent read, as sudo, su and passwd do.
    sh.type("read -s -p 'Pass''word: ' pw; echo\r");
    REQUIRE(sh.pump(3000, "Password: "));
    sh.type(std::string(kPassword) + "\r", 40);
    REQUIRE(sh.pump(3000, "$ "));
    sh.type("echo rm -rf /tmp/nothing-here\r");
    REQUIRE(sh.pump(3000, "$ "));
    s.session->resize(100, 30);
    sh.type("exit\r");
    sh.pump(500);
    CHECK(s.session->recordingHealthy());
    s.session->end("client_closed", "", sh.fromClient(), sh.toClient());
  }
  e.gk().eventWriter().flush();

  row = e.store().sessionById(id);
  REQUIRE(row);
  CHECK_FALSE(row->ended_at.empty());
  CHECK(row->end_reason == "client_closed");
  CHECK(row->bytes_from_client > 40);
  CHECK(row->bytes_to_client > 40);
  CHECK(row->recording_bytes > 0);
  CHECK(row->command_count == 3);  // read..., echo..., exit (the masked line is not a command)
  auto ended = e.lastAudit("session_end", id);
  REQUIRE(ended);
  CHECK((*ended)["reason"] == "client_closed");
  CHECK((*ended)["_outcome"] == "ok");

  auto cmds = commandTexts(e, id);
  CHECK(cmds == std::vector<std::string>{"read -s -p 'Pass''word: ' pw; echo", "********", "echo rm -rf /tmp/nothing-here", "exit"});

  // The recording plays, and the password is in none of its events.
  std::error_code ec;
  auto rec = vigil::recorder::readAsciicastFile((e.cfg().recordingsDir() / row->recording_path).string(), ec);
  REQUIRE_FALSE(ec);
  CHECK(rec.header["version"] == 2);
  CHECK(rec.header["width"] == 80);
  CHECK(rec.header["height"] == 24);
  std::string inputs, outputs;
  bool resized = false;
  for (auto& ev : rec.events) {
    if (ev.type == 'i') inputs += ev.data;
    if (ev.type == 'o') outputs += ev.data;
    if (ev.type == 'r' && ev.data == "100x30") resized = true;
  }
  CHECK(resized);
  CHECK(contains(inputs, "echo rm -rf /tmp/nothing-here\r"));
  CHECK(contains(inputs, std::string("********\r")));
  CHECK_FALSE(contains(inputs, "hunter2"));
  CHECK_FALSE(contains(outputs, "hunter2"));
  // Nor anywhere in the database.
  CHECK(e.psql("SELECT count(*) FROM session_events WHERE text LIKE '%hunter2%' OR details::text LIKE '%hunter2%'") == "0");

  // Search: substring (trigram index) and words (full-text index).
  vigil::store::Store::SessionFilter q;
  q.text = "rm -rf";
  auto hits = e.store().listSessions(q);
  CHECK(std::any_of(hits.begin(), hits.end(), [&](auto& h) { return h.id == id; }));
  q.text = "RM -RF /TMP";
  hits = e.store().listSessions(q);
  CHECK(std::any_of(hits.begin(), hits.end(), [&](auto& h) { return h.id == id; }));
  q.text = "100%_";  // LIKE wildcards are taken literally
  CHECK(e.store().listSessions(q).empty());
  vigil::store::Store::SessionFilter w;
  w.words = "echo";
  hits = e.store().listSessions(w);
  CHECK(std::any_of(hits.begin(), hits.end(), [&](auto& h) { return h.id == id; }));
  CHECK(e.psql("SELECT count(*) FROM session_events WHERE kind = 'command' AND text ILIKE '%rm -rf%' AND session_id = '" + id + "'") == "1");
  CHECK(e.psql("SELECT count(*) FROM session_events WHERE kind = 'command' AND to_tsvector('simple', text) @@ "
               "plainto_tsquery('simple', 'rm') AND session_id = '" + id + "'") == "1");

  // Through the API, as the superuser.
  auto& admin = e.admin();
  auto one = admin.http->get("/api/v1/sessions/" + id);
  REQUIRE(one.status == 200);
  CHECK(one.json()["has_recording"] == true);
  CHECK_FALSE(one.json().contains("recording_path"));
  CHECK(one.json()["end_reason"] == "client_closed");
  CHECK(one.json()["command_count"] == 3);
  auto evs = admin.http->get("/api/v1/sessions/" + id + "/events?kind=command");
  REQUIRE(evs.status == 200);
  REQUIRE(evs.json()["items"].size() == 4);
  CHECK(evs.json()["items"][1]["details"]["masked"] == true);
  auto found = admin.http->get("/api/v1/sessions?q=rm%20-rf%20%2Ftmp%2Fnothing");
  REQUIRE(found.status == 200);
  REQUIRE(found.json()["items"].size() >= 1);
  CHECK(found.json()["items"][0]["id"] == id);
  CHECK(admin.http->get("/api/v1/sessions?match=echo").json()["items"][0]["id"] == id);
  auto cast = admin.http->get("/api/v1/sessions/" + id + "/recording");
  REQUIRE(cast.status == 200);
  CHECK(cast.headers["content-type"] == "application/x-asciicast");
  CHECK(cast.body.rfind("{\"", 0) == 0);
  CHECK(contains(cast.body, "\"version\":2"));
  CHECK(contains(cast.body, "nothing-here"));
  CHECK_FALSE(contains(cast.body, "hunter2"));
  CHECK(e.lastAudit("recording_download", id));
}

TEST_CASE("lines sent in one write: a command is recorded as typed, a password at a silent prompt stays masked",
          "[integration][sessions][recording]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto s = start(e, u, f.account.id);
  const std::string id = s.session->id();
  {
    PtyShell sh(*s.session);
    s.session->channelOpened("shell", "", "xterm", 80, 24);
    REQUIRE(sh.pump(5000, "$ "));
    sh.send("stty size\r");  // the echo arrives after the whole line was submitted
    REQUIRE(sh.pump(3000, "24 80"));
    REQUIRE(sh.pump(3000, "$ "));
    sh.type("read -s -p 'Pass''word: ' pw; echo\r");
    REQUIRE(sh.pump(3000, "Password: "));
    sh.send(std::string(kPassword) + "\r");
    REQUIRE(sh.pump(3000, "$ "));
    sh.send("exit\r");
    sh.pump(500);
    s.session->end("client_closed", "", sh.fromClient(), sh.toClient());
  }
  e.gk().eventWriter().flush();
  auto row = e.store().sessionById(id);
  REQUIRE(row);
  std::error_code ec;
  auto rec = vigil::recorder::readAsciicastFile((e.cfg().recordingsDir() / row->recording_path).string(), ec);
  REQUIRE_FALSE(ec);
  std::vector<std::string> inputs;
  std::string all;
  for (auto& ev : rec.events) {
    if (ev.type == 'i') inputs.push_back(ev.data);
    all += ev.data;
  }
  CHECK(std::find(inputs.begin(), inputs.end(), "stty size\r") != inputs.end());
  CHECK(std::find(inputs.begin(), inputs.end(), std::string("********\r")) != inputs.end());
  CHECK_FALSE(contains(all, "hunter2"));
  CHECK(commandTexts(e, id) == std::vector<std::string>{"stty size", "read -s -p 'Pass''word: ' pw; echo", "********", "exit"});
}

TEST_CASE("exec commands, subsystems, file operations and notes become timeline events",
          "[integration][sessions][events]") {
  auto& e = env();
  auto f = e.fixture(false);  // a safe that does not record
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto s = start(e, u, f.account.id);
  const std::string id = s.session->id();
  s.session->channelOpened("exec", "uptime; id", "", 0, 0);
  s.session->output("up 3 days\n");
  s.session->input("ignored stdin secret\n");
  s.session->channelOpened("subsystem", "subsystem:sftp", "", 0, 0);
  s.session->fileOperation({"upload", "/tmp/a b.txt", "", 1234, true});
  s.session->fileOperation({"rename", "/tmp/x", "/tmp/y", 0, false});
  s.session->note("exit_status", "exit status 0");
  std::string nul("path\0with-nul", 13);
  s.session->fileOperation({"remove", nul, "", 0, true});
  s.session->end("target_closed", "exit 0", 11, 10);
  s.session->end("error", "twice", 0, 0);  // idempotent
  e.gk().eventWriter().flush();

  vigil::store::Page p;
  p.limit = 100;
  auto evs = e.store().listSessionEvents(id, std::nullopt, p);
  REQUIRE(evs.size() == 6);
  CHECK(evs[0].kind == "command");
  CHECK(evs[0].text == "uptime; id");
  CHECK(json::parse(evs[0].details_json)["exec"] == true);
  CHECK(evs[1].kind == "lifecycle");
  CHECK(evs[1].text == "subsystem sftp");
  CHECK(evs[2].kind == "file");
  CHECK(evs[2].text == "upload /tmp/a b.txt (1234 bytes)");
  CHECK(json::parse(evs[2].details_json)["bytes"] == 1234);
  CHECK(evs[3].text == "rename /tmp/x -> /tmp/y (failed)");
  CHECK(evs[4].kind == "note");
  CHECK(evs[4].text == "exit status 0");
  CHECK(json::parse(evs[4].details_json)["type"] == "exit_status");
  CHECK(evs[5].kind == "file");
  CHECK(contains(evs[5].text, "with-nul"));
  for (std::size_t i = 1; i < evs.size(); ++i) CHECK(evs[i].offset_ms >= evs[i - 1].offset_ms);

  auto row = e.store().sessionById(id);
  CHECK(row->end_reason == "target_closed");
  CHECK(row->end_detail == "exit 0");
  CHECK(row->recording_path.empty());
  CHECK(row->command_count == 1);
  CHECK(e.psql("SELECT count(*) FROM session_events WHERE text LIKE '%ignored stdin%'") == "0");
  auto api = e.admin().http->get("/api/v1/sessions/" + id);
  CHECK(api.json()["has_recording"] == false);
  CHECK(e.admin().http->get("/api/v1/sessions/" + id + "/recording").status == 404);
}

TEST_CASE("a session whose recording cannot be created does not start, and says why",
          "[integration][sessions][recording]") {
  auto& e = env();
  auto f = e.fixture(true);
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  const std::string blocker = e.dir() + "/not-a-dir";
  std::ofstream(blocker) << "x";
  const std::string saved = e.cfg().recordings.dir;
  e.cfg().recordings.dir = blocker + "/recordings";
  vigil::proto::ClientInfo client{"ssh", "198.51.100.8:1", "ssh"};
  auto g = e.gk().authorizeUser(u.u.id, f.account.id, client);
  REQUIRE(g.status == Status::Ok);
  std::string error;
  auto s = e.gk().startSession(g, client, error);
  e.cfg().recordings.dir = saved;
  CHECK_FALSE(s);
  CHECK(contains(error, "cannot be recorded"));
  CHECK(contains(error, "(session "));
  vigil::store::Store::SessionFilter fl;
  fl.user_id = u.u.id;
  auto rows = e.store().listSessions(fl);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].end_reason == "recording_failed");
  auto a = e.lastAudit("session_refused", "recording_failed");
  REQUIRE(a);
  CHECK((*a)["_actor"] == u.u.username);

  // Without the recording requirement the same start works.
  auto safe = f.safe;
  safe.policy.record_sessions = false;
  e.store().updateSafe(safe);
  e.cfg().recordings.dir = blocker + "/recordings";
  auto s2 = e.gk().startSession(g, client, error);
  e.cfg().recordings.dir = saved;
  CHECK(s2);
}

TEST_CASE("a credential the vault cannot open refuses the start", "[integration][sessions][vault]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  // Sealed for another owner: the associated data does not match, so it cannot be opened.
  e.store().setAccountSecret(f.account.id, "password", e.vault().seal("x", "account:999999999"));
  vigil::proto::ClientInfo client = sshClient();
  auto g = e.gk().authorizeUser(u.u.id, f.account.id, client);
  REQUIRE(g.status == Status::Ok);
  std::string error;
  CHECK_FALSE(e.gk().startSession(g, client, error));
  CHECK(contains(error, "the vault could not provide the credential"));
  CHECK(e.lastAudit("session_refused", "vault_failed"));
}

TEST_CASE("sessions left open by a crash are marked interrupted, and their recording still plays",
          "[integration][sessions][recovery]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto s = start(e, u, f.account.id);
  const std::string id = s.session->id();
  s.session->channelOpened("shell", "", "xterm", 80, 24);
  s.session->output("$ uname -a\r\nLinux box\r\n$ ");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past the 100 ms flush interval

  // As at the next start of `vigil serve` after a crash: the row is still open.
  CHECK(e.gk().closeInterruptedSessions() >= 1);
  auto row = e.store().sessionById(id);
  CHECK(row->end_reason == "interrupted");
  CHECK_FALSE(row->ended_at.empty());
  CHECK(e.lastAudit("sessions_interrupted", "test-node"));
  std::error_code ec;
  auto rec = vigil::recorder::readAsciicastFile((e.cfg().recordingsDir() / row->recording_path).string(), ec);
  REQUIRE_FALSE(ec);
  std::string out;
  for (auto& ev : rec.events) out += ev.data;
  CHECK(contains(out, "Linux box"));
  // Through the API too, while the file is still open.
  auto cast = e.admin().http->get("/api/v1/sessions/" + id + "/recording");
  CHECK(cast.status == 200);
  CHECK(contains(cast.body, "Linux box"));

  s.session->end("client_closed", "", 1, 1);
  e.gk().eventWriter().flush();
  CHECK(e.store().sessionById(id)->end_reason == "interrupted");  // the first end stands
}

TEST_CASE("a session destroyed without end() is ended with reason error", "[integration][sessions]") {
  auto& e = env();
  auto f = e.fixture(false);
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  std::string id;
  {
    auto s = start(e, u, f.account.id);
    id = s.session->id();
  }
  e.gk().eventWriter().flush();
  CHECK(e.store().sessionById(id)->end_reason == "error");
}

TEST_CASE("trust on first use pins a host key once, audited", "[integration][sessions][hostkey]") {
  auto& e = env();
  auto f = e.fixture();
  CHECK(e.gk().pinHostKey(f.target.id, "SHA256:first", "0190a0b0-0000-7000-8000-000000000000"));
  CHECK_FALSE(e.gk().pinHostKey(f.target.id, "SHA256:second", "not-a-uuid"));
  // Another first connection racing with the same key (pinned meanwhile) is not refused.
  CHECK(e.gk().pinHostKey(f.target.id, "SHA256:first", "0190a0b0-0000-7000-8000-000000000001"));
  CHECK(e.store().targetById(f.target.id)->host_key_fingerprint == "SHA256:first");
  auto a = e.lastAudit("host_key_pinned", "SHA256:first");
  REQUIRE(a);
  CHECK((*a)["target"] == f.target.name);
  CHECK((*a)["_outcome"] == "ok");
  auto d = e.lastAudit("host_key_pinned", "SHA256:second");
  REQUIRE(d);
  CHECK((*d)["_outcome"] == "denied");
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  CHECK(e.gk().authorizeUser(u.u.id, f.account.id, sshClient()).target.host_key_fingerprint == "SHA256:first");
}

TEST_CASE("a block rule decides from the keys when the screen has not caught up with them",
          "[integration][sessions][risk]") {
  auto& e = env();
  const std::string rules = e.dir() + "/block-rules.yaml";
  {
    std::ofstream out(rules);
    out << "rules:\n"
           "  - id: block-vigil-x\n"
           "    description: Deleting the protected test directory\n"
           "    match: command\n"
           "    pattern: '^rm (.* )?/tmp/vigil-x'\n"
           "    severity: high\n"
           "    score: 30\n"
           "    actions: [alert, block]\n";
  }
  auto risk = std::make_shared<vigil::services::RiskService>(e.store(), e.gk().eventWriter(),
                                                              vigil::services::RiskService::Options{rules});
  REQUIRE(risk->reload().ok);
  e.gk().setRisk(risk);
  struct Unset {
    Env& e;
    ~Unset() { e.gk().setRisk(nullptr); }
  } unset{e};

  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto s = start(e, u, f.account.id);
  auto& session = *s.session;
  session.channelOpened("shell", "", "xterm", 80, 24);
  session.output("$ ");
  const std::string left16 = [] {
    std::string k;
    for (int i = 0; i < 16; ++i) k += "\x1b[D";
    return k;
  }();

  SECTION("typed, the echo not yet seen, the cursor moved back, Enter") {
    session.input("rm -rf /tmp/vigil-x-1 ; echo left-over");
    auto d = session.screenInput(left16 + "\r");
    CHECK_FALSE(d.forward);
    CHECK(contains(d.notice, "Vigil blocked this command: Deleting the protected test directory"));
  }
  SECTION("a wrong letter erased and retyped, the echo not yet seen") {
    session.input("rm -rf /tmp/vigil-y");
    session.input("\x7f");
    session.input("x-2");
    CHECK_FALSE(session.screenInput("\r").forward);
  }
  SECTION("the path typed first, the command inserted in front of it with Home") {
    session.input("/tmp/vigil-x-3");
    session.input("\x1b[Hrm -rf ");
    CHECK_FALSE(session.screenInput("\r").forward);
  }
  SECTION("the same keys turned into a comment or an echo are not blocked") {
    session.input("rm -rf /tmp/vigil-x-4");
    session.input("\x01# ");
    CHECK(session.screenInput("\r").forward);
    session.input("\r");
    session.input("rm -rf /tmp/vigil-x-5");
    session.input("\x01" "echo ");
    CHECK(session.screenInput(left16 + "\r").forward);
  }
  SECTION("history recall: the keys cannot tell, the screen decides") {
    session.input("\x1b[A");
    CHECK(session.screenInput("\r").forward);  // nothing on the screen: nothing to block
    session.output("rm -rf /tmp/vigil-x-6");     // the shell shows the recalled line
    CHECK_FALSE(session.screenInput("\r").forward);
  }
  session.end("client_closed", "", 0, 0);
}
