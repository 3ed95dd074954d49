// Dual authorization end to end (issue 8): a real `vigil serve`, a real sshd and the real ssh
// client. Access requests are made, decided and expired through the REST API; launches and
// identity logins are refused until an approved request's window contains now.
#include <algorithm>
#include <ctime>
#include <sstream>

#include "integration/ssh_e2e/ssh_env.hpp"

namespace {

using namespace ssh_e2e;

std::string rfc3339(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
long long now() { return static_cast<long long>(std::time(nullptr)); }

struct DualWorld {
  // An unreachable SIEM receiver keeps events in the outbox, where the test can see them.
  DualWorld()
      : env("siem: {destinations: [{name: held, transport: tcp, host: 127.0.0.1, port: " +
            std::to_string(vigil::test::freeLoopbackPort()) + "}]}\n"),
        sshd(Sshd::instance()) {
    if (!sshd.ok()) throw std::runtime_error("sshd fixture: " + sshd.error());
    tmp = vigil::test::makeTempDir("vigil-dual-auth");
    alice = env.makeUser({"admin"});  // requester
    bob = env.makeUser({"admin"});    // approver (manage)
    carol = env.makeUser({"admin"});  // approver (manage)
    dave = env.makeUser({"admin"});   // connect only: not an approver
    auto r = env.admin().post("/api/v1/safes", {{"name", uniq("vendor")}, {"policy", {{"require_dual_authorization", true}}}});
    REQUIRE(r.status == 201);
    safe = r.json()["id"];
    member(alice.id, {"connect", "view_recordings"});
    member(bob.id, {"manage"});
    member(carol.id, {"manage", "connect"});
    member(dave.id, {"connect"});
    auto t = env.admin().post("/api/v1/targets", {{"name", uniq("vendor-t")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                                  {"port", sshd.port()}, {"host_key_fingerprint", sshd.hostKeyFingerprint()}});
    REQUIRE(t.status == 201);
    target_name = t.json()["name"];
    auto a = env.admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", t.json()["id"]}, {"username", sshd.user()},
                                                   {"secret_kind", "password"}, {"secret", sshd.password()}});
    REQUIRE(a.status == 201);
    account = a.json()["id"];
    // A plain safe, for the "does not require approval" case.
    auto p = env.admin().post("/api/v1/safes", {{"name", uniq("plain")}});
    REQUIRE(p.status == 201);
    auto pa = env.admin().post("/api/v1/accounts", {{"safe_id", p.json()["id"]}, {"target_id", t.json()["id"]},
                                                    {"username", "other"}, {"secret_kind", "password"}, {"secret", "x"}});
    REQUIRE(pa.status == 201);
    plain_account = pa.json()["id"];
    REQUIRE(env.admin().put("/api/v1/safes/" + S(p.json()["id"]) + "/members/" + S(alice.id), {{"permissions", {"connect"}}}).status == 200);
  }
  void member(std::int64_t user, const std::vector<std::string>& perms) {
    auto r = env.admin().put("/api/v1/safes/" + S(safe) + "/members/" + S(user), {{"permissions", perms}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  /// POST /access-requests as `p` for the vendor account, window now-1m .. now+1h.
  json request(Principal& p, const std::string& reason = "patch CVE-2026-1234") {
    auto r = p.http().post("/api/v1/access-requests", {{"account_id", account}, {"reason", reason}, {"ticket_id", "CHG-42"},
                                                       {"window_from", rfc3339(now() - 60)}, {"window_to", rfc3339(now() + 3600)}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json();
  }
  vigil::test::HttpResult decide(Principal& p, std::int64_t id, const std::string& what, const std::string& comment = "") {
    return p.http().post("/api/v1/access-requests/" + S(id) + "/" + what, {{"comment", comment}});
  }
  vigil::test::HttpResult launch(Principal& p) {
    return p.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
  }
  ClientRun sshToken(const std::string& token, const std::string& cmd) {
    return runSplit("ssh -p " + S(env.server().sshPort()) +
                        " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 -o BatchMode=yes " +
                        token + "@127.0.0.1 '" + cmd + "'",
                    tmp);
  }
  ClientRun sshIdentity(Principal& p, const std::string& cmd) {
    setenv("SSHPASS", p.password.c_str(), 1);
    auto r = runSplit("sshpass -e ssh -p " + S(env.server().sshPort()) +
                          " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 '" +
                          p.username + "%" + sshd.user() + "%" + target_name + "'@127.0.0.1 '" + cmd + "'",
                      tmp);
    unsetenv("SSHPASS");
    return r;
  }
  /// The audit rows of `action` about access request `id`.
  std::vector<json> auditOf(const std::string& action, std::int64_t id) {
    std::vector<json> out;
    for (auto& row : env.audit("", action))
      if (row.value("object_type", "") == "access_request" && row.value("object_id", "") == S(id)) out.push_back(row);
    return out;
  }
  json newestSession() {
    for (int i = 0; i < 100; ++i) {
      auto r = env.admin().get("/api/v1/sessions?account_id=" + S(account) + "&limit=5");
      REQUIRE(r.status == 200);
      const json body = r.json();
      if (!body["items"].empty() && !body["items"][0]["ended_at"].is_null()) return body["items"][0];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("no ended session");
    return {};
  }

  Env env;
  Sshd& sshd;
  std::string tmp;
  Principal alice, bob, carol, dave;
  std::int64_t safe = 0, account = 0, plain_account = 0;
  std::string target_name;
};

bool refusedForApproval(const vigil::test::HttpResult& r) {
  INFO("launch: " << r.status << " " << r.body.substr(0, 300));
  CHECK(r.status == 403);
  return r.errorCode() == "approval_required";
}

DualWorld& dualWorld() {
  static DualWorld w;
  return w;
}

}  // namespace

TEST_CASE("request, refusal, approval by another person, a real ssh session, then expiry refuses again",
          "[dual_auth][integration][ssh]") {
  auto& w = dualWorld();
  // Without a request: the launch and the identity login are refused with the same clear words.
  auto refused = w.launch(w.alice);
  CHECK(refused.status == 403);
  CHECK(refused.errorCode() == "approval_required");
  CHECK(contains(refused.body, "approval required: request access in the portal"));
  auto id_refused = w.sshIdentity(w.alice, "echo should-not-run");
  CHECK(id_refused.exit_code != 0);
  CHECK_FALSE(contains(id_refused.out, "should-not-run"));
  CHECK(contains(id_refused.err, "approval required: request access in the portal"));

  auto req = w.request(w.alice);
  const std::int64_t id = req["id"];
  CHECK(req["status"] == "pending");
  CHECK(req["reason"] == "patch CVE-2026-1234");
  CHECK(req["ticket_id"] == "CHG-42");
  CHECK(req["approvals_needed"] == 1);
  CHECK(w.auditOf("access_request_create", id).size() == 1);

  // Pending is not enough.
  CHECK(refusedForApproval(w.launch(w.alice)));

  // The requester cannot approve their own request (even as a member with connect); audited.
  auto own = w.decide(w.alice, id, "approve");
  CHECK(own.status == 403);
  CHECK(contains(own.body, "your own"));
  auto own_audit = w.auditOf("access_request_approve", id);
  REQUIRE(own_audit.size() == 1);
  CHECK(own_audit[0]["outcome"] == "denied");
  // A member without the approver permission cannot either (nor see it).
  CHECK(w.decide(w.dave, id, "approve").status == 404);

  // Bob sees it waiting for him, with can_decide; Alice does not see it there.
  auto awaiting = w.bob.http().get("/api/v1/access-requests?view=awaiting");
  REQUIRE(awaiting.status == 200);
  const json aw = awaiting.json();
  bool found = false;
  for (auto& it : aw["items"])
    if (it["id"] == id) found = it["can_decide"] == true;
  CHECK(found);
  const json alice_awaiting = w.alice.http().get("/api/v1/access-requests?view=awaiting").json();
  for (auto& it : alice_awaiting["items"]) CHECK(it["id"] != id);

  auto ok = w.decide(w.bob, id, "approve", "go ahead, change window agreed");
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  CHECK(ok.json()["status"] == "approved");
  CHECK(ok.json()["decisions"][0]["approver"] == w.bob.username);
  CHECK(ok.json()["decisions"][0]["comment"] == "go ahead, change window agreed");
  CHECK(w.auditOf("access_request_approve", id).size() == 2);
  // The decision reached the SIEM outbox through the audit_log trigger.
  CHECK(w.env.psql("SELECT count(*) FROM siem_outbox WHERE kind = 'access_request_approve' AND payload->>'object_id' = '" +
                   S(id) + "'") != "0");

  // Now the launch works and the real ssh session runs, linked to the request.
  auto l = w.launch(w.alice);
  INFO(l.body);
  REQUIRE(l.status == 201);
  auto run = w.sshToken(l.json()["token"], "echo approved-$((6*7))");
  INFO(run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out == "approved-42\n");
  auto s = w.newestSession();
  CHECK(s["access_request_id"] == id);
  auto one = w.env.admin().get("/api/v1/sessions/" + s["id"].get<std::string>());
  CHECK(one.json()["access_request_id"] == id);
  vigil::test::HttpResult search;
  for (int i = 0; i < 30; ++i) {  // the command event is written off the session thread
    search = w.env.admin().get("/api/v1/search?text=approved-&account_id=" + S(w.account));
    if (search.status == 200 && contains(search.body, "\"access_request_id\":" + S(id))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(search.body.substr(0, 500));
  CHECK(contains(search.body, "\"access_request_id\":" + S(id)));
  // The identity login honours the same approval.
  auto ident = w.sshIdentity(w.alice, "echo identity-ok");
  INFO(ident.err);
  CHECK(ident.exit_code == 0);
  CHECK(ident.out == "identity-ok\n");

  // The window ends: refused again, the request reads expired, and the expiry is audited.
  w.env.psql("UPDATE access_requests SET window_from = now() - interval '2 hours', window_to = now() - interval '1 second'"
             " WHERE id = " + S(id));
  auto after = w.launch(w.alice);
  CHECK(after.status == 403);
  CHECK(after.errorCode() == "approval_required");
  auto mine = w.alice.http().get("/api/v1/access-requests/" + S(id));
  REQUIRE(mine.status == 200);
  // GET of one request does not sweep; the listing does.
  auto list = w.alice.http().get("/api/v1/access-requests?view=mine");
  const json lj = list.json();
  for (auto& it : lj["items"])
    if (it["id"] == id) CHECK(it["status"] == "expired");
  CHECK(w.auditOf("access_request_expire", id).size() == 1);
  auto late = w.sshIdentity(w.alice, "echo should-not-run");
  CHECK(late.exit_code != 0);
  CHECK_FALSE(contains(late.out, "should-not-run"));
  // An expired request cannot be approved any more.
  CHECK(w.decide(w.carol, id, "approve").status == 409);
}

TEST_CASE("N of M: two approvals need two distinct approvers", "[dual_auth][integration][ssh]") {
  auto& w = dualWorld();
  auto put = w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"approvals_needed", 2}});
  INFO(put.body);
  REQUIRE(put.status == 200);
  CHECK(put.json()["approvals_needed"] == 2);
  auto req = w.request(w.alice, "quarterly patching");
  const std::int64_t id = req["id"];
  CHECK(req["approvals_needed"] == 2);
  auto first = w.decide(w.bob, id, "approve", "one");
  REQUIRE(first.status == 200);
  CHECK(first.json()["status"] == "pending");
  CHECK(first.json()["approvals"] == 1);
  CHECK(refusedForApproval(w.launch(w.alice)));
  // The same person twice is still one approval.
  auto again = w.decide(w.bob, id, "approve", "one more time");
  CHECK(again.status == 409);
  CHECK(refusedForApproval(w.launch(w.alice)));
  auto second = w.decide(w.carol, id, "approve", "two");
  REQUIRE(second.status == 200);
  CHECK(second.json()["status"] == "approved");
  CHECK(second.json()["approvals"] == 2);
  auto l = w.launch(w.alice);
  REQUIRE(l.status == 201);
  auto run = w.sshToken(l.json()["token"], "echo n-of-m-ok");
  CHECK(run.out == "n-of-m-ok\n");
  CHECK(w.newestSession()["access_request_id"] == id);
  // Back to one approval for the other cases; the requester cancels what is left.
  REQUIRE(w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"approvals_needed", 1}}).status == 200);
  auto cancel = w.alice.http().post("/api/v1/access-requests/" + S(id) + "/cancel", json::object());
  CHECK(cancel.status == 200);
  CHECK(cancel.json()["status"] == "cancelled");
  CHECK(refusedForApproval(w.launch(w.alice)));
}

TEST_CASE("a rejection with a comment ends the request; the launch stays refused", "[dual_auth][integration]") {
  auto& w = dualWorld();
  auto req = w.request(w.alice, "just looking");
  const std::int64_t id = req["id"];
  auto no = w.decide(w.carol, id, "reject", "no ticket for this");
  REQUIRE(no.status == 200);
  CHECK(no.json()["status"] == "rejected");
  CHECK(no.json()["decisions"][0]["decision"] == "reject");
  CHECK(refusedForApproval(w.launch(w.alice)));
  CHECK(w.decide(w.bob, id, "approve").status == 409);
  auto rows = w.auditOf("access_request_reject", id);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["details"]["comment"] == "no ticket for this");
}

TEST_CASE("bad access requests get clear errors and the server keeps serving", "[dual_auth][integration][validation]") {
  auto& w = dualWorld();
  auto post = [&](const json& body) { return w.alice.http().post("/api/v1/access-requests", body); };
  const std::string to = rfc3339(now() + 3600);
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "x"}, {"window_to", "tomorrow"}}), 400, "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "   "}, {"window_to", to}}), 400, "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"window_to", to}}), 400, "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "x"}, {"window_to", rfc3339(now() - 10)}}), 400,
                       "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "x"}, {"window_from", to}, {"window_to", rfc3339(now() + 60)}}),
                       400, "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "x"}, {"window_to", rfc3339(now() + 30 * 86400)}}), 400,
                       "validation_failed");
  api_test::checkError(post(json{{"account_id", w.account}, {"reason", "x"}, {"window_to", to}, {"colour", "red"}}), 400,
                       "validation_failed");
  auto plain = post({{"account_id", w.plain_account}, {"reason", "x"}, {"window_to", to}});
  api_test::checkError(plain, 400, "validation_failed");
  CHECK(contains(plain.body, "does not require approval"));
  api_test::checkError(post(json{{"account_id", 999999}, {"reason", "x"}, {"window_to", to}}), 404, "not_found");
  api_test::checkError(w.alice.http().get("/api/v1/access-requests?view=everything"), 400, "validation_failed");
  api_test::checkError(w.alice.http().get("/api/v1/access-requests?view=all"), 403, "forbidden");
  api_test::checkError(w.decide(w.bob, 999999, "approve"), 404, "not_found");
  api_test::checkError(w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"approvals_needed", 0}}), 400,
                       "validation_failed");
  api_test::checkError(w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"retention_class", "forever"}}), 400,
                       "validation_failed");
  // Someone outside the safe learns nothing about a request.
  auto outsider = w.env.makeUser({"admin"});
  auto req = w.request(w.alice, "for the outsider check");
  api_test::checkError(outsider.http().get("/api/v1/access-requests/" + S(req["id"].get<std::int64_t>())), 404, "not_found");
  api_test::checkError(w.decide(outsider, req["id"], "approve"), 404, "not_found");
  auto h = w.env.newClient()->get("/healthz");
  CHECK(h.status == 200);
}

TEST_CASE("the access report lists each session with its approval, as CSV and as a printable HTML page",
          "[dual_auth][integration][report]") {
  auto& w = dualWorld();
  // At least one approved session exists (earlier cases); if run alone, make one.
  auto list = w.env.admin().get("/api/v1/sessions?account_id=" + S(w.account) + "&limit=200");
  json sessions = list.json()["items"];
  if (sessions.empty()) {
    auto req = w.request(w.alice, "report check");
    REQUIRE(w.decide(w.bob, req["id"], "approve", "for the report").status == 200);
    auto l = w.launch(w.alice);
    REQUIRE(l.status == 201);
    w.sshToken(l.json()["token"], "true");
    w.newestSession();
    sessions = w.env.admin().get("/api/v1/sessions?account_id=" + S(w.account) + "&limit=200").json()["items"];
  }
  const std::string today = rfc3339(now()).substr(0, 10);
  auto csv = w.env.admin().get("/api/v1/reports/access?from=" + today + "&to=" + today + "&safe=" + S(w.safe));
  INFO(csv.body.substr(0, 800));
  REQUIRE(csv.status == 200);
  CHECK(contains(api_test::header(csv, "content-type"), "text/csv"));
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in(csv.body);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) lines.push_back(line);
    }
  }
  REQUIRE(!lines.empty());
  CHECK(lines[0] == "session_id,started_at,ended_at,duration_s,user,account,target,target_address,safe,protocol,client_addr,"
                    "access_request_id,request_reason,request_ticket,approved_by,risk_score,risk_events,review_status,"
                    "reviewer,recording_deleted");
  // Exactly the sessions of the safe's account, each with its request and approver.
  CHECK(lines.size() == sessions.size() + 1);
  for (auto& s : sessions) {
    const std::string id = s["id"];
    bool row_found = false;
    for (auto& l : lines) {
      if (l.rfind(id + ",", 0) != 0) continue;
      row_found = true;
      CHECK(contains(l, "," + w.alice.username + "," + w.sshd.user() + "," + w.target_name + ","));
      if (!s["access_request_id"].is_null()) {
        CHECK(contains(l, "," + S(s["access_request_id"].get<std::int64_t>()) + ","));
        CHECK(contains(l, "CHG-42"));
        CHECK((contains(l, w.bob.username) || contains(l, w.carol.username)));
      }
    }
    CHECK(row_found);
  }
  auto page = w.env.admin().get("/api/v1/reports/access?from=" + today + "&to=" + today + "&safe=" + S(w.safe) + "&format=html");
  REQUIRE(page.status == 200);
  CHECK(contains(api_test::header(page, "content-type"), "text/html"));
  CHECK(contains(page.body, "<table id=\"access-report\">"));
  CHECK(contains(page.body, sessions[0]["id"].get<std::string>()));
  // Another safe's filter gives an empty report; bad input is refused; only auditors/superusers.
  auto other = w.env.admin().get("/api/v1/reports/access?from=" + today + "&to=" + today + "&safe=999999");
  CHECK(other.status == 200);
  CHECK(std::count(other.body.begin(), other.body.end(), '\n') == 1);
  api_test::checkError(w.env.admin().get("/api/v1/reports/access?from=yesterday&to=" + today), 400, "validation_failed");
  api_test::checkError(w.env.admin().get("/api/v1/reports/access?from=" + today), 400, "validation_failed");
  api_test::checkError(w.env.admin().get("/api/v1/reports/access?from=" + today + "&to=" + today + "&safe=1;drop"), 400,
                       "validation_failed");
  api_test::checkError(w.alice.http().get("/api/v1/reports/access?from=" + today + "&to=" + today), 403, "forbidden");
  CHECK(!w.env.audit(w.env.su().username, "report_access").empty());
}

TEST_CASE("a moderated safe still needs the approval: moderation holds the session, it does not replace approval",
          "[dual_auth][integration][moderated]") {
  auto& w = dualWorld();
  REQUIRE(w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"moderated", true}}).status == 200);
  auto before = w.launch(w.alice);
  CHECK(before.status == 403);
  CHECK(contains(before.body, "approval"));
  auto req = w.request(w.alice, "moderated check");
  REQUIRE(w.decide(w.bob, req["id"], "approve").status == 200);
  // Approved: the launch goes ahead (the live tests show the session held until a SOC watcher joins).
  CHECK(w.launch(w.alice).status == 201);
  REQUIRE(w.env.admin().put("/api/v1/safes/" + S(w.safe) + "/compliance", {{"moderated", false}}).status == 200);
  CHECK(w.launch(w.alice).status == 201);
}

TEST_CASE("a session opened under an approval ends when the approval's window does", "[dual_auth][integration][window]") {
  auto& w = dualWorld();
  auto r = w.alice.http().post("/api/v1/access-requests",
                               {{"account_id", w.account}, {"reason", "short change window"},
                                {"window_from", rfc3339(now() - 60)}, {"window_to", rfc3339(now() + 6)}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  const std::int64_t id = r.json()["id"];
  // Only this approval may be usable (earlier cases leave longer ones behind).
  w.env.psql("UPDATE access_requests SET window_from = now() - interval '2 hours', window_to = now() - interval '1 second'"
             " WHERE status IN ('approved', 'pending') AND id <> " + S(id));
  REQUIRE(w.decide(w.bob, id, "approve").status == 200);
  auto l = w.launch(w.alice);
  INFO(l.body);
  REQUIRE(l.status == 201);
  const auto t0 = std::chrono::steady_clock::now();
  auto run = w.sshToken(l.json()["token"], "echo started; sleep 40; echo never");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(run.out << run.err);
  CHECK(contains(run.out, "started"));
  CHECK_FALSE(contains(run.out, "never"));
  CHECK(took < 30);
  CHECK(contains(run.out + run.err, "approved access window ended"));
  json s = w.newestSession();
  for (int i = 0; i < 50 && s["end_reason"].is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = w.newestSession();
  }
  CHECK(s["access_request_id"] == id);
  CHECK(s["end_reason"] == "terminated");
  CHECK(contains(s.value("end_detail", ""), "access request " + S(id)));
}
