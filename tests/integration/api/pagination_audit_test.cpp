// Keyset pagination, and the audit trail of everything done through the API.
#include <regex>
#include <set>

#include "support/api_env.hpp"

using namespace api_test;

namespace {

std::string S(std::int64_t v) { return std::to_string(v); }

const std::set<std::string> kDocumentedActions{
    "login", "logout", "mfa_enroll", "mfa_reset", "password_change", "user_create", "user_update", "user_delete",
    "user_lock", "user_unlock", "safe_create", "safe_update", "safe_delete", "member_set", "member_remove", "target_create",
    "target_update", "target_delete", "account_create", "account_update", "account_secret_set", "account_delete",
    "vault_rekey"};

struct Expected {
  std::string action, object_type, object_id, outcome;
};

}  // namespace

TEST_CASE("pagination: limit=3 pages through every target exactly once, in id order", "[api][pagination]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  std::vector<std::int64_t> mine;
  for (int i = 0; i < 7; ++i) {
    auto r = va.http().post("/api/v1/targets", {{"name", uniq("page-target")}, {"protocol", "postgres"}, {"address", "db.example"}});
    REQUIRE(r.status == 201);
    CHECK(r.json()["port"] == 5432);  // the protocol's default port
    mine.push_back(r.json()["id"].get<std::int64_t>());
  }
  // The complete list, for comparison.
  std::vector<std::int64_t> all;
  for (auto& t : e.listAll(va.http(), "/api/v1/targets")) all.push_back(t["id"].get<std::int64_t>());

  std::vector<std::int64_t> seen;
  std::string url = "/api/v1/targets?limit=3";
  int pages = 0;
  for (;; ++pages) {
    REQUIRE(pages < 10000);
    auto r = va.http().get(url);
    INFO(url << " -> " << r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    auto j = r.json();
    REQUIRE(j["items"].is_array());
    CHECK(j["items"].size() <= 3);
    for (auto& t : j["items"]) seen.push_back(t["id"].get<std::int64_t>());
    if (j["next_after"].is_null()) break;
    REQUIRE(j["items"].size() == 3);  // a continuation only after a full page
    CHECK(j["next_after"] == j["items"].back()["id"]);
    url = "/api/v1/targets?limit=3&after=" + S(j["next_after"].get<std::int64_t>());
  }
  CHECK(seen == all);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  for (auto id : mine) CHECK(std::count(seen.begin(), seen.end(), id) == 1);

  // Starting right before our own targets: exactly 3 + 3 + 1.
  auto p1 = va.http().get("/api/v1/targets?limit=3&after=" + S(mine[0] - 1)).json();
  REQUIRE(p1["items"].size() == 3);
  CHECK(p1["items"][0]["id"] == mine[0]);
  auto p2 = va.http().get("/api/v1/targets?after=" + S(p1["next_after"].get<std::int64_t>()) + "&limit=3").json();
  REQUIRE(p2["items"].size() == 3);
  CHECK(p2["items"][0]["id"] == mine[3]);
  auto p3 = va.http().get("/api/v1/targets?limit=3&after=" + S(p2["next_after"].get<std::int64_t>())).json();
  CHECK(p3["items"].size() >= 1);
  CHECK(p3["items"][0]["id"] == mine[6]);

  // Out-of-range and malformed limits are refused on every list endpoint.
  for (const char* path : {"/api/v1/targets", "/api/v1/safes", "/api/v1/accounts", "/api/v1/my/accounts", "/api/v1/users",
                           "/api/v1/audit"}) {
    for (const char* q : {"limit=0", "limit=501", "limit=-1", "limit=abc", "limit=", "limit=3.0", "after=x"}) {
      INFO(path << "?" << q);
      checkError(e.admin().get(std::string(path) + "?" + q), 400, "validation_failed");
    }
    CHECK(e.admin().get(std::string(path) + "?limit=500").status == 200);
    CHECK(e.admin().get(std::string(path) + "?limit=1").json()["items"].size() <= 1);
  }
  // Default limit is 100.
  CHECK(va.http().get("/api/v1/targets").json()["items"].size() == std::min<std::size_t>(all.size(), 100));
}

TEST_CASE("audit: every change and login is recorded with actor, action, object and outcome", "[api][audit]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  Principal member = e.makeUser({"admin"}, false);
  auto& V = va.http();
  std::vector<Expected> exp{
      {"login", "user", S(va.id), "ok"},              // by makeUser
      {"password_change", "user", S(va.id), "ok"},    // by makeUser
  };

  auto s = V.post("/api/v1/safes", {{"name", uniq("aud-safe")}});
  REQUIRE(s.status == 201);
  const std::string sid = S(s.json()["id"].get<std::int64_t>());
  exp.push_back({"safe_create", "safe", sid, "ok"});
  REQUIRE(V.patch("/api/v1/safes/" + sid, {{"description", "audited"}, {"policy", {{"retention_days", 30}}}}).status == 200);
  exp.push_back({"safe_update", "safe", sid, "ok"});
  REQUIRE(V.put("/api/v1/safes/" + sid + "/members/" + S(member.id), {{"permissions", {"connect"}}}).status == 200);
  exp.push_back({"member_set", "safe", sid, "ok"});
  REQUIRE(V.del("/api/v1/safes/" + sid + "/members/" + S(member.id)).status == 204);
  exp.push_back({"member_remove", "safe", sid, "ok"});
  auto t = V.post("/api/v1/targets", {{"name", uniq("aud-target")}, {"protocol", "tds"}, {"address", "sql.example"}});
  REQUIRE(t.status == 201);
  const std::string tid = S(t.json()["id"].get<std::int64_t>());
  exp.push_back({"target_create", "target", tid, "ok"});
  REQUIRE(V.patch("/api/v1/targets/" + tid, {{"port", 14330}}).status == 200);
  exp.push_back({"target_update", "target", tid, "ok"});
  auto a = V.post("/api/v1/accounts", {{"safe_id", std::stoll(sid)}, {"target_id", std::stoll(tid)}, {"username", "sa"},
                                       {"secret_kind", "password"}, {"secret", "Audit-secret-1"}});
  REQUIRE(a.status == 201);
  const std::string aid = S(a.json()["id"].get<std::int64_t>());
  exp.push_back({"account_create", "account", aid, "ok"});
  REQUIRE(V.patch("/api/v1/accounts/" + aid, {{"description", "db owner"}}).status == 200);
  exp.push_back({"account_update", "account", aid, "ok"});
  REQUIRE(V.put("/api/v1/accounts/" + aid + "/secret", {{"secret_kind", "password"}, {"secret", "Audit-secret-2"}}).status == 204);
  exp.push_back({"account_secret_set", "account", aid, "ok"});
  REQUIRE(V.del("/api/v1/accounts/" + aid).status == 204);
  exp.push_back({"account_delete", "account", aid, "ok"});
  REQUIRE(V.del("/api/v1/targets/" + tid).status == 204);
  exp.push_back({"target_delete", "target", tid, "ok"});
  REQUIRE(V.del("/api/v1/safes/" + sid).status == 204);
  exp.push_back({"safe_delete", "safe", sid, "ok"});
  REQUIRE(V.post("/api/v1/me/mfa/enroll", json::object()).status == 200);
  exp.push_back({"mfa_enroll", "user", S(va.id), "ok"});
  REQUIRE(V.post("/api/v1/auth/logout", json::object()).status == 204);
  exp.push_back({"logout", "user", S(va.id), "ok"});
  // Failed logins: wrong password (known user) and unknown user, from 127.0.0.1.
  REQUIRE(e.newClient()->login(va.username, "Wrong-password-1").status == 401);
  exp.push_back({"login", "user", S(va.id), "failed"});

  auto rows = e.audit(va.username);
  REQUIRE(rows.size() == exp.size());
  for (std::size_t i = 0; i < exp.size(); ++i) {
    INFO("row " << i << ": " << rows[i].dump());
    CHECK(rows[i]["actor"] == va.username);
    CHECK(rows[i]["actor_id"] == va.id);
    CHECK(rows[i]["action"] == exp[i].action);
    CHECK(rows[i]["object_type"] == exp[i].object_type);
    CHECK(rows[i]["object_id"] == exp[i].object_id);
    CHECK(rows[i]["outcome"] == exp[i].outcome);
    CHECK(rows[i]["source_addr"] == "127.0.0.1");
    CHECK(rows[i]["details"].is_object());
    CHECK(std::regex_match(rows[i]["at"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00))")));
    if (i > 0) CHECK(rows[i]["id"].get<std::int64_t>() > rows[i - 1]["id"].get<std::int64_t>());
  }
  CHECK(rows[0]["details"].value("reason", "") == "password");
  CHECK(rows.back()["details"].value("reason", "") == "bad_password");
  CHECK(rows[3]["details"]["policy"]["retention_days"] == 30);  // safe_update carries the new policy

  const std::string ghost = uniq("ghost");
  REQUIRE(e.newClient()->login(ghost, "Wrong-password-1").status == 401);
  auto g = e.audit(ghost);
  REQUIRE(g.size() == 1);
  CHECK(g[0]["action"] == "login");
  CHECK(g[0]["outcome"] == "failed");
  CHECK(g[0]["actor_id"].is_null());
  CHECK(g[0]["source_addr"] == "127.0.0.1");

  // Superuser actions on users.
  Principal victim = e.makeUser({"soc"}, false);
  const std::string vid = S(victim.id);
  REQUIRE(e.admin().patch("/api/v1/users/" + vid, {{"display_name", "Victim"}, {"roles", {"soc", "auditor"}}}).status == 200);
  REQUIRE(e.admin().patch("/api/v1/users/" + vid, {{"locked", true}}).status == 200);
  REQUIRE(e.admin().post("/api/v1/users/" + vid + "/mfa-reset", json::object()).status == 200);
  REQUIRE(e.admin().del("/api/v1/users/" + vid).status == 204);
  std::vector<std::string> actions;
  for (auto& r : e.audit("admin")) {
    if (r["object_id"] != vid || r["object_type"] != "user") continue;
    actions.push_back(r["action"].get<std::string>());
    CHECK(r["actor_id"] == e.su().id);
    CHECK(r["outcome"] == "ok");
    CHECK(r["object_type"] == "user");
  }
  CHECK(actions == std::vector<std::string>{"user_create", "user_update", "user_lock", "mfa_reset", "user_delete"});

  // The audit log is read-only: no method but GET.
  checkError(e.admin().del("/api/v1/audit"), 405, "method_not_allowed");
  checkError(e.admin().post("/api/v1/audit", json::object()), 405, "method_not_allowed");
  // Filters are exact.
  for (auto& r : e.audit("", "safe_delete")) CHECK(r["action"] == "safe_delete");
}

TEST_CASE("audit: every recorded action and outcome is one documented in docs/api.md", "[api][audit]") {
  Env& e = env();
  Principal p = e.makeUser({"soc"}, false);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", true}}).status == 200);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}}).status == 200);
  std::vector<std::string> lockRows;
  for (auto& r : e.audit("admin"))
    if (r["object_type"] == "user" && r["object_id"] == S(p.id)) lockRows.push_back(r["action"].get<std::string>());
  CHECK(lockRows == std::vector<std::string>{"user_create", "user_lock", "user_unlock"});
  std::set<std::string> undocumented;
  for (auto& r : e.audit()) {
    const std::string a = r["action"].get<std::string>();
    if (!kDocumentedActions.count(a)) undocumented.insert(a);
    CHECK((r["outcome"] == "ok" || r["outcome"] == "failed" || r["outcome"] == "denied"));
  }
  INFO("undocumented audit actions seen: " << json(undocumented).dump());
  CHECK(undocumented.empty());
}
