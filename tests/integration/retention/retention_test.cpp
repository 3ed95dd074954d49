// Retention and legal holds end to end (issue 8): real ssh sessions through a real `vigil serve`
// and sshd, back-dated with SQL, then deleted by `vigil retention run` and POST /retention/run —
// recording files and timeline rows gone, one audit row per session — unless a legal hold on the
// session, its user or its safe stops it. The cold tier moves an old recording and playback
// still finds it.
#include <sys/stat.h>

#include <filesystem>

#include "integration/ssh_e2e/ssh_env.hpp"

namespace {

using namespace ssh_e2e;
namespace fs = std::filesystem;

struct RetentionWorld {
  RetentionWorld()
      : cold(vigil::test::makeTempDir("vigil-cold")),
        // An unreachable SIEM receiver keeps events in the outbox, where the test can see them.
        env("retention: {cold_dir: " + cold + ", batch_size: 2}\nsiem: {destinations: [{name: held, transport: tcp, "
            "host: 127.0.0.1, port: " + std::to_string(vigil::test::freeLoopbackPort()) + "}]}\n"),
        sshd(Sshd::instance()) {
    if (!sshd.ok()) throw std::runtime_error("sshd fixture: " + sshd.error());
    tmp = vigil::test::makeTempDir("vigil-retention");
    alice = env.makeUser({"admin"});
    bob = env.makeUser({"admin"});
    auditor = env.makeUser({"auditor"});
  }
  /// A safe with one account on the sshd, alice and bob members; `compliance` is PUT as given.
  std::pair<std::int64_t, std::int64_t> safeWithAccount(const json& compliance) {
    auto s = env.admin().post("/api/v1/safes", {{"name", uniq("ret-safe")}});
    REQUIRE(s.status == 201);
    const std::int64_t safe = s.json()["id"];
    auto c = env.admin().put("/api/v1/safes/" + S(safe) + "/compliance", compliance);
    INFO(c.body);
    REQUIRE(c.status == 200);
    for (auto id : {alice.id, bob.id})
      REQUIRE(env.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(id), {{"permissions", {"connect"}}}).status == 200);
    // Accounts are unique per (target, login): each safe gets its own target on the same sshd.
    auto t = env.admin().post("/api/v1/targets", {{"name", uniq("ret-t")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                                  {"port", sshd.port()}, {"host_key_fingerprint", sshd.hostKeyFingerprint()}});
    REQUIRE(t.status == 201);
    auto a = env.admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t.json()["id"]}, {"username", sshd.user()},
                                                   {"secret_kind", "password"}, {"secret", sshd.password()}});
    REQUIRE(a.status == 201);
    return {safe, a.json()["id"]};
  }
  /// One real ssh session of `p` on the account; returns its ended session row.
  json session(Principal& p, std::int64_t account, const std::string& marker) {
    auto l = p.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO(l.body);
    REQUIRE(l.status == 201);
    auto r = runSplit("ssh -p " + S(env.server().sshPort()) +
                          " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes " +
                          l.json()["token"].get<std::string>() + "@127.0.0.1 'echo " + marker + "'",
                      tmp);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (int i = 0; i < 100; ++i) {
      const json body = env.admin().get("/api/v1/sessions?account_id=" + S(account) + "&limit=1").json();
      if (!body["items"].empty() && !body["items"][0]["ended_at"].is_null() && body["items"][0]["recording_bytes"] > 0) {
        // The command event is written off the session thread: wait for it too.
        const std::string id = body["items"][0]["id"];
        for (int k = 0; k < 50 && events(id) == 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return body["items"][0];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("the session did not end");
    return {};
  }
  void backdate(const std::string& id, int days) {
    env.psql("UPDATE sessions SET started_at = now() - make_interval(days => " + std::to_string(days) +
             ") - interval '1 minute', ended_at = now() - make_interval(days => " + std::to_string(days) +
             ") WHERE id = '" + id + "'");
  }
  std::string file(const std::string& id) {
    return env.server().dataDir() + "/recordings/" + env.psql("SELECT recording_path FROM sessions WHERE id = '" + id + "'");
  }
  int events(const std::string& id) {
    return std::stoi(env.psql("SELECT count(*) FROM session_events WHERE session_id = '" + id + "'"));
  }
  bool purged(const std::string& id) {
    return env.psql("SELECT purged_at IS NOT NULL FROM sessions WHERE id = '" + id + "'") == "t";
  }
  int deleteAudits(const std::string& id) {
    int n = 0;
    for (auto& row : env.audit("", "retention_delete"))
      if (row["object_id"] == id && row["object_type"] == "session") ++n;
    return n;
  }
  json cliRun(bool dry) {
    auto r = env.server().cli(std::string("retention run --json") + (dry ? " --dry-run" : ""));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto pos = r.output.rfind("{\"");
    REQUIRE(pos != std::string::npos);
    return json::parse(r.output.substr(pos));
  }
  json apiRun() {
    auto r = env.admin().post("/api/v1/retention/run", json::object());
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json();
  }
  std::int64_t hold(const json& body) {
    auto r = auditor.http().post("/api/v1/legal-holds", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  void release(std::int64_t id) {
    auto r = auditor.http().post("/api/v1/legal-holds/" + S(id) + "/release", json::object());
    INFO(r.body);
    REQUIRE(r.status == 200);
  }

  std::string cold;
  Env env;
  Sshd& sshd;
  std::string tmp;
  Principal alice, bob, auditor;
};

RetentionWorld& retentionWorld() {
  static RetentionWorld w;
  return w;
}

bool has(const json& ids, const std::string& id) {
  for (auto& v : ids)
    if (v == id) return true;
  return false;
}

}  // namespace

TEST_CASE("sessions past retention are deleted with an audit row each; held ones are kept until released",
          "[retention][integration][ssh]") {
  auto& w = retentionWorld();
  auto [safe, account] = w.safeWithAccount({{"retention_class", "custom"}, {"retention_days", 30}});
  [[maybe_unused]] auto [sox_safe, sox_account] = w.safeWithAccount({{"retention_class", "sox"}});
  const std::string s1 = w.session(w.alice, account, "first")["id"];
  const std::string s2 = w.session(w.alice, account, "second")["id"];
  const std::string s3 = w.session(w.bob, account, "third")["id"];
  const std::string s4 = w.session(w.alice, sox_account, "fourth")["id"];
  const std::string recent = w.session(w.alice, account, "recent")["id"];
  for (auto& id : {s1, s2, s3}) w.backdate(id, 40);
  w.backdate(s4, 400);  // SOX keeps 7 years
  const std::string f1 = w.file(s1), f2 = w.file(s2), f3 = w.file(s3);
  REQUIRE(fs::exists(f1));
  REQUIRE(w.events(s1) > 0);

  const std::int64_t h2 = w.hold({{"scope", "session"}, {"session_id", s2}, {"reason", "litigation 2026-17"}});
  const std::int64_t h3 = w.hold({{"scope", "user"}, {"user_id", w.bob.id}, {"reason", "HR investigation"}});
  CHECK(w.env.audit(w.auditor.username, "legal_hold_create").size() >= 2);

  // A dry run lists, touches nothing.
  auto dry = w.cliRun(true);
  CHECK(dry["dry_run"] == true);
  CHECK(has(dry["session_ids"], s1));
  CHECK_FALSE(has(dry["session_ids"], s2));
  CHECK_FALSE(has(dry["session_ids"], s3));
  CHECK_FALSE(has(dry["session_ids"], s4));
  CHECK_FALSE(has(dry["session_ids"], recent));
  CHECK(fs::exists(f1));
  CHECK_FALSE(w.purged(s1));

  auto real = w.cliRun(false);
  CHECK(has(real["session_ids"], s1));
  CHECK_FALSE(fs::exists(f1));
  CHECK(w.events(s1) == 0);
  CHECK(w.purged(s1));
  CHECK(w.deleteAudits(s1) == 1);
  // The row stays as evidence that the session happened; the API says it was purged.
  auto row = w.env.admin().get("/api/v1/sessions/" + s1);
  REQUIRE(row.status == 200);
  CHECK_FALSE(row.json()["purged_at"].is_null());
  CHECK(row.json()["has_recording"] == false);
  // Held, not due and recent sessions are untouched.
  for (auto& id : {s2, s3, s4, recent}) {
    CHECK_FALSE(w.purged(id));
    CHECK(w.events(id) > 0);
  }
  CHECK(fs::exists(f2));
  CHECK(fs::exists(f3));

  // Releasing the session hold: the next run deletes it; the user hold still protects s3.
  w.release(h2);
  CHECK(w.env.audit(w.auditor.username, "legal_hold_release").size() >= 1);
  auto second = w.apiRun();
  CHECK(has(second["session_ids"], s2));
  CHECK_FALSE(fs::exists(f2));
  CHECK(w.deleteAudits(s2) == 1);
  CHECK(fs::exists(f3));

  // A safe hold protects s3 once the user hold is released; releasing it lets s3 go.
  const std::int64_t hs = w.hold({{"scope", "safe"}, {"safe_id", safe}, {"reason", "audit of the vendor safe"}});
  w.release(h3);
  auto third = w.apiRun();
  CHECK_FALSE(has(third["session_ids"], s3));
  CHECK(fs::exists(f3));
  w.release(hs);
  auto fourth = w.apiRun();
  CHECK(has(fourth["session_ids"], s3));
  CHECK_FALSE(fs::exists(f3));
  CHECK(w.deleteAudits(s3) == 1);
  // Each deletion went to the SIEM outbox through the audit_log trigger.
  CHECK(w.env.psql("SELECT count(*) FROM siem_outbox WHERE kind = 'retention_delete' AND session_id = '" + s3 + "'") == "1");
  CHECK_FALSE(w.purged(s4));
  CHECK_FALSE(w.purged(recent));
  // Nothing left to do: a run deletes nothing and audits no session twice.
  auto idle = w.apiRun();
  CHECK(idle["deleted"] == 0);
  CHECK(w.deleteAudits(s1) == 1);
}

TEST_CASE("an old recording moves to the cold tier and still plays; past retention both copies go",
          "[retention][integration][cold]") {
  auto& w = retentionWorld();
  auto [safe, account] = w.safeWithAccount({{"retention_class", "custom"}, {"retention_days", 3650}, {"hot_days", 1}});
  auto s = w.session(w.alice, account, "cold-marker-7");
  const std::string id = s["id"];
  const std::string hot = w.file(id);
  auto before = w.env.admin().get("/api/v1/sessions/" + id + "/recording");
  REQUIRE(before.status == 200);
  w.backdate(id, 2);
  auto run = w.apiRun();
  CHECK(run["moved_cold"].get<int>() >= 1);
  CHECK(w.env.psql("SELECT recording_tier FROM sessions WHERE id = '" + id + "'") == "cold");
  CHECK(fs::is_symlink(hot));
  const std::string rel = w.env.psql("SELECT recording_path FROM sessions WHERE id = '" + id + "'");
  const std::string cold_file = w.cold + "/" + rel;
  CHECK(fs::is_regular_file(cold_file));
  auto after = w.env.admin().get("/api/v1/sessions/" + id + "/recording");
  REQUIRE(after.status == 200);
  CHECK(after.body == before.body);
  // Now past retention: the link and the cold copy are both deleted.
  REQUIRE(w.env.admin().put("/api/v1/safes/" + S(safe) + "/compliance", {{"retention_days", 1}}).status == 200);
  auto del = w.apiRun();
  CHECK(has(del["session_ids"], id));
  CHECK_FALSE(fs::exists(fs::symlink_status(hot)));
  CHECK_FALSE(fs::exists(cold_file));
}

TEST_CASE("legal holds: bad input gets clear errors, only auditors and superusers place them",
          "[retention][integration][validation]") {
  auto& w = retentionWorld();
  auto post = [&](const json& b) { return w.auditor.http().post("/api/v1/legal-holds", b); };
  api_test::checkError(post(json{{"scope", "galaxy"}, {"reason", "x"}}), 400, "validation_failed");
  api_test::checkError(post(json{{"scope", "session"}, {"session_id", "not-a-uuid"}, {"reason", "x"}}), 404, "not_found");
  api_test::checkError(post(json{{"scope", "user"}, {"reason", "x"}}), 400, "validation_failed");
  api_test::checkError(post(json{{"scope", "user"}, {"user_id", w.bob.id}, {"reason", "  "}}), 400, "validation_failed");
  api_test::checkError(post(json{{"scope", "user"}, {"user_id", w.bob.id}, {"safe_id", 1}, {"reason", "x"}}), 400,
                       "validation_failed");
  api_test::checkError(w.alice.http().post("/api/v1/legal-holds", {{"scope", "user"}, {"user_id", w.bob.id}, {"reason", "x"}}),
                       403, "forbidden");
  api_test::checkError(w.alice.http().post("/api/v1/retention/run", json::object()), 403, "forbidden");
  api_test::checkError(w.auditor.http().post("/api/v1/legal-holds/999999/release", json::object()), 404, "not_found");
  auto cli = w.env.server().cli("retention run --bogus");
  CHECK(cli.exit_code != 0);
  CHECK(w.env.newClient()->get("/healthz").status == 200);
}
