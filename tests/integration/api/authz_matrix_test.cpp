// Authorization matrix: every endpoint of docs/api.md, every role (plus safe members with and
// without `manage`, and no session at all). Refused requests must change nothing.
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "support/api_env.hpp"

using namespace api_test;

namespace {

// Columns of the table.
enum Who { SU, VA, AD, AU, SOC, MGR, VW, NONE, kWho };
const char* const kWhoName[kWho] = {"superuser", "vault_admin", "admin", "auditor", "soc",
                                    "admin+manage member", "admin+connect/view member", "no session"};

struct Cast {
  std::array<Principal, kWho> p;  // p[NONE] is unused
  Principal bystander;            // a user that members are added/removed for
  Cast() {
    Env& e = env();
    p[SU] = e.su();
    p[VA] = e.makeUser({"vault_admin"});
    p[AD] = e.makeUser({"admin"});
    p[AU] = e.makeUser({"auditor"});
    p[SOC] = e.makeUser({"soc"});
    p[MGR] = e.makeUser({"admin"});  // gets `manage` on every matrix safe
    p[VW] = e.makeUser({"admin"});   // gets `connect` + `view_recordings` on every matrix safe
    bystander = e.makeUser({"admin"}, false);
  }
};

Cast& cast() {
  static Cast c;
  return c;
}

/// Objects an endpoint acts on, created lazily by the superuser. Each mutating cell gets its own.
struct World {
  std::optional<std::int64_t> safe_, esafe_, target_, ftarget_, account_, user_;
  std::string account_username;

  std::int64_t makeSafe() {
    auto r = env().admin().post("/api/v1/safes", {{"name", uniq("mx-safe")}});
    REQUIRE(r.status == 201);
    auto id = r.json()["id"].get<std::int64_t>();
    auto m1 = env().admin().put("/api/v1/safes/" + std::to_string(id) + "/members/" + std::to_string(cast().p[MGR].id),
                                {{"permissions", {"manage"}}});
    REQUIRE(m1.status == 200);
    auto m2 = env().admin().put("/api/v1/safes/" + std::to_string(id) + "/members/" + std::to_string(cast().p[VW].id),
                                {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(m2.status == 200);
    return id;
  }
  std::int64_t makeTarget() {
    auto r = env().admin().post("/api/v1/targets", {{"name", uniq("mx-target")}, {"protocol", "ssh"}, {"address", "10.9.8.7"}});
    REQUIRE(r.status == 201);
    return r.json()["id"].get<std::int64_t>();
  }
  std::int64_t safe() { return safe_ ? *safe_ : *(safe_ = makeSafe()); }
  std::int64_t esafe() { return esafe_ ? *esafe_ : *(esafe_ = makeSafe()); }  // never holds accounts
  std::int64_t target() { return target_ ? *target_ : *(target_ = makeTarget()); }
  std::int64_t ftarget() { return ftarget_ ? *ftarget_ : *(ftarget_ = makeTarget()); }  // no accounts
  std::int64_t account() {
    if (account_) return *account_;
    account_username = uniq("mx-acct");
    auto r = env().admin().post("/api/v1/accounts", {{"safe_id", safe()}, {"target_id", target()},
                                                     {"username", account_username}, {"secret_kind", "password"},
                                                     {"secret", "matrix-secret-" + randomHex(8)}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return *(account_ = r.json()["id"].get<std::int64_t>());
  }
  std::int64_t user() {
    if (user_) return *user_;
    return *(user_ = env().makeUser({"soc"}, false).id);
  }

  std::string path(std::string t) {
    auto sub = [&](const std::string& key, const std::function<std::int64_t()>& f) {
      for (auto pos = t.find(key); pos != std::string::npos; pos = t.find(key)) t.replace(pos, key.size(), std::to_string(f()));
    };
    sub("{safe}", [&] { return safe(); });
    sub("{esafe}", [&] { return esafe(); });
    sub("{target}", [&] { return target(); });
    sub("{ftarget}", [&] { return ftarget(); });
    sub("{account}", [&] { return account(); });
    sub("{user}", [&] { return user(); });
    sub("{bystander}", [&] { return cast().bystander.id; });
    return t;
  }
};

using BodyFn = std::function<json(World&, Who)>;
using SetupFn = std::function<void(World&)>;
using VerifyFn = std::function<void(World&, Who, bool allowed, const HttpResult&)>;

struct Row {
  std::string method;
  std::string path;
  // Expected per column: "200"/"201"/"204" allowed; "400" validation_failed (allowed, bad input on
  // purpose); "401" unauthenticated; "403" forbidden; "404" not_found; "<status>:<code>" overrides.
  std::array<const char*, kWho> expect;
  BodyFn body = nullptr;
  SetupFn setup = nullptr;
  VerifyFn verify = nullptr;
  bool own_session = false;  // run with a fresh login of the principal (logout)
  bool anonymous = false;    // run with a fresh client without cookie (login, healthz)
};

std::string defaultCode(int status) {
  switch (status) {
    case 400: return "validation_failed";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 409: return "conflict";
    default: return "";
  }
}

bool hasId(const json& page, std::int64_t id) {
  for (auto& i : page["items"])
    if (i.value("id", std::int64_t{0}) == id) return true;
  return false;
}

std::string S(std::int64_t v) { return std::to_string(v); }

// Superuser views used to prove that a refused request stored nothing.
HttpResult suGet(const std::string& p) { return env().admin().get(p); }

std::vector<Row> matrix() {
  const std::array<const char*, kWho> ALL200{"200", "200", "200", "200", "200", "200", "200", "401"};
  std::vector<Row> rows;
  // clang-format off
  //                                                          su     va     ad     au     soc    mgr    vw     none
  // ---- health and authentication
  rows.push_back({"GET", "/healthz",                          {"200", "200", "200", "200", "200", "200", "200", "200"},
                  nullptr, nullptr, nullptr, false, true});
  rows.push_back({"POST", "/api/v1/auth/login",               {"200", "200", "200", "200", "200", "200", "200", "401:invalid_credentials"},
                  [](World&, Who w) {
                    if (w == NONE) return json{{"username", uniq("nobody")}, {"password", "Not-the-password-1"}};
                    return json{{"username", cast().p[w].username}, {"password", cast().p[w].password}};
                  }, nullptr, nullptr, false, true});
  rows.push_back({"POST", "/api/v1/auth/logout",              {"204", "204", "204", "204", "204", "204", "204", "401"},
                  nullptr, nullptr, nullptr, true});
  rows.push_back({"GET", "/api/v1/me",                        ALL200});
  rows.push_back({"POST", "/api/v1/me/password",              {"400", "400", "400", "400", "400", "400", "400", "401"},
                  [](World&, Who) { return json{{"current_password", "Definitely-wrong-1"}, {"new_password", "Another-password-2"}}; }});
  rows.push_back({"POST", "/api/v1/me/mfa/enroll",            {"200", "200", "200", "200", "200", "200", "200", "401"}});
  rows.push_back({"POST", "/api/v1/me/mfa/confirm",           {"400", "400", "400", "400", "400", "400", "400", "401"},
                  [](World&, Who) { return json{{"code", "abcdef"}}; }});

  // ---- users (superuser; vault_admin may list)
  rows.push_back({"GET", "/api/v1/users",                     {"200", "200", "403", "403", "403", "403", "403", "401"}});
  rows.push_back({"POST", "/api/v1/users",                    {"201", "403", "403", "403", "403", "403", "403", "401"},
                  [](World&, Who w) {
                    return json{{"username", std::string("mx-new-") + std::to_string(w) + "-" + uniq("u")},
                                {"roles", {"soc"}}, {"password", "Created-password-1"}};
                  }, nullptr,
                  [](World&, Who w, bool allowed, const HttpResult&) {
                    const std::string prefix = std::string("mx-new-") + std::to_string(w) + "-";
                    int n = 0;
                    for (auto& u : env().listAll("/api/v1/users")) n += u["username"].get<std::string>().rfind(prefix, 0) == 0;
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"GET", "/api/v1/users/{user}",              {"200", "403", "403", "403", "403", "403", "403", "401"}});
  rows.push_back({"PATCH", "/api/v1/users/{user}",            {"200", "403", "403", "403", "403", "403", "403", "401"},
                  [](World&, Who w) { return json{{"display_name", std::string("patched-") + kWhoName[w]}}; }, nullptr,
                  [](World& wd, Who w, bool allowed, const HttpResult&) {
                    auto u = suGet("/api/v1/users/" + S(wd.user()));
                    REQUIRE(u.status == 200);
                    CHECK(u.json()["display_name"] == (allowed ? std::string("patched-") + kWhoName[w] : std::string()));
                  }});
  rows.push_back({"POST", "/api/v1/users/{user}/mfa-reset",   {"200", "403", "403", "403", "403", "403", "403", "401"},
                  nullptr, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    int n = 0;
                    for (auto& a : env().audit("", "mfa_reset")) n += a["object_id"] == S(wd.user());
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"DELETE", "/api/v1/users/{user}",           {"204", "403", "403", "403", "403", "403", "403", "401"},
                  nullptr, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    CHECK(suGet("/api/v1/users/" + S(wd.user())).status == (allowed ? 404 : 200));
                  }});

  // ---- safes and members
  rows.push_back({"GET", "/api/v1/safes",                     ALL200, nullptr, [](World& wd) { wd.safe(); },
                  [](World& wd, Who w, bool, const HttpResult& r) {
                    // vault_admin/superuser see every safe; others only safes they are members of.
                    const bool sees = w == SU || w == VA || w == MGR || w == VW;
                    if (w != NONE) CHECK(hasId(r.json(), wd.safe()) == sees);
                  }});
  rows.push_back({"POST", "/api/v1/safes",                    {"201", "201", "403", "403", "403", "403", "403", "401"},
                  [](World&, Who w) { return json{{"name", std::string("mx-created-") + std::to_string(w) + "-" + uniq("s")}}; },
                  nullptr,
                  [](World&, Who w, bool allowed, const HttpResult&) {
                    const std::string prefix = std::string("mx-created-") + std::to_string(w) + "-";
                    int n = 0;
                    for (auto& s : env().listAll("/api/v1/safes")) n += s["name"].get<std::string>().rfind(prefix, 0) == 0;
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"GET", "/api/v1/safes/{safe}",              {"200", "200", "404", "404", "404", "200", "200", "401"}});
  rows.push_back({"PATCH", "/api/v1/safes/{safe}",            {"200", "200", "404", "404", "404", "200", "403", "401"},
                  [](World&, Who w) { return json{{"description", std::string("patched by ") + kWhoName[w]}}; }, nullptr,
                  [](World& wd, Who w, bool allowed, const HttpResult&) {
                    auto s = suGet("/api/v1/safes/" + S(wd.safe()));
                    CHECK(s.json()["description"] == (allowed ? std::string("patched by ") + kWhoName[w] : std::string()));
                  }});
  // Deleting a safe is for vault administrators only, even for a member with `manage`.
  rows.push_back({"DELETE", "/api/v1/safes/{esafe}",          {"204", "204", "403", "403", "403", "403", "403", "401"},
                  nullptr, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    CHECK(suGet("/api/v1/safes/" + S(wd.esafe())).status == (allowed ? 404 : 200));
                  }});
  rows.push_back({"GET", "/api/v1/safes/{safe}/members",      {"200", "200", "404", "404", "404", "200", "403", "401"}, nullptr, nullptr,
                  [](World&, Who, bool allowed, const HttpResult& r) {
                    if (allowed) CHECK(r.json()["items"].size() == 2);  // the manager and the viewer
                  }});
  rows.push_back({"PUT", "/api/v1/safes/{safe}/members/{bystander}", {"200", "200", "404", "404", "404", "200", "403", "401"},
                  [](World&, Who) { return json{{"permissions", {"connect"}}}; }, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    auto m = suGet("/api/v1/safes/" + S(wd.safe()) + "/members");
                    bool present = false;
                    const json members = m.json();
                    for (auto& i : members["items"]) present = present || i["user_id"] == cast().bystander.id;
                    CHECK(present == allowed);
                  }});
  rows.push_back({"DELETE", "/api/v1/safes/{safe}/members/{bystander}", {"204", "204", "404", "404", "404", "204", "403", "401"},
                  nullptr,
                  [](World& wd) {
                    auto r = env().admin().put("/api/v1/safes/" + S(wd.safe()) + "/members/" + S(cast().bystander.id),
                                               {{"permissions", {"view_recordings"}}});
                    REQUIRE(r.status == 200);
                  },
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    auto m = suGet("/api/v1/safes/" + S(wd.safe()) + "/members");
                    bool present = false;
                    const json members = m.json();
                    for (auto& i : members["items"]) present = present || i["user_id"] == cast().bystander.id;
                    CHECK(present == !allowed);
                  }});

  // ---- targets (vault_admin; any logged-in user may read)
  rows.push_back({"GET", "/api/v1/targets",                   ALL200, nullptr, [](World& wd) { wd.target(); },
                  [](World& wd, Who w, bool, const HttpResult& r) {
                    if (w != NONE) CHECK(hasId(r.json(), wd.target()));
                  }});
  rows.push_back({"POST", "/api/v1/targets",                  {"201", "201", "403", "403", "403", "403", "403", "401"},
                  [](World&, Who w) {
                    return json{{"name", std::string("mx-new-target-") + std::to_string(w) + "-" + uniq("t")},
                                {"protocol", "rdp"}, {"address", "host.example"}};
                  }, nullptr,
                  [](World&, Who w, bool allowed, const HttpResult&) {
                    const std::string prefix = std::string("mx-new-target-") + std::to_string(w) + "-";
                    int n = 0;
                    for (auto& t : env().listAll("/api/v1/targets")) n += t["name"].get<std::string>().rfind(prefix, 0) == 0;
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"GET", "/api/v1/targets/{target}",          ALL200});
  rows.push_back({"PATCH", "/api/v1/targets/{ftarget}",       {"200", "200", "403", "403", "403", "403", "403", "401"},
                  [](World&, Who) { return json{{"port", 2222}}; }, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    CHECK(suGet("/api/v1/targets/" + S(wd.ftarget())).json()["port"] == (allowed ? 2222 : 22));
                  }});
  rows.push_back({"DELETE", "/api/v1/targets/{ftarget}",      {"204", "204", "403", "403", "403", "403", "403", "401"},
                  nullptr, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    CHECK(suGet("/api/v1/targets/" + S(wd.ftarget())).status == (allowed ? 404 : 200));
                  }});

  // ---- accounts
  rows.push_back({"GET", "/api/v1/accounts",                  ALL200, nullptr, [](World& wd) { wd.account(); },
                  [](World& wd, Who w, bool, const HttpResult& r) {
                    const bool sees = w == SU || w == VA || w == MGR || w == VW;
                    if (w != NONE) CHECK(hasId(r.json(), wd.account()) == sees);
                  }});
  // A caller who is not a member of the safe is told the safe does not exist (400 on safe_id).
  rows.push_back({"POST", "/api/v1/accounts",                 {"201", "201", "400", "400", "400", "201", "403", "401"},
                  [](World& wd, Who w) {
                    return json{{"safe_id", wd.safe()}, {"target_id", wd.target()},
                                {"username", std::string("mx-new-acct-") + std::to_string(w)},
                                {"secret_kind", "password"}, {"secret", "matrix-secret-" + randomHex(6)}};
                  }, nullptr,
                  [](World& wd, Who w, bool allowed, const HttpResult&) {
                    int n = 0;
                    for (auto& a : env().listAll("/api/v1/accounts?safe_id=" + S(wd.safe())))
                      n += a["username"] == std::string("mx-new-acct-") + std::to_string(w);
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"GET", "/api/v1/accounts/{account}",        {"200", "200", "404", "404", "404", "200", "200", "401"}});
  rows.push_back({"PATCH", "/api/v1/accounts/{account}",      {"200", "200", "404", "404", "404", "200", "403", "401"},
                  [](World&, Who w) { return json{{"description", std::string("patched by ") + kWhoName[w]}}; }, nullptr,
                  [](World& wd, Who w, bool allowed, const HttpResult&) {
                    auto a = suGet("/api/v1/accounts/" + S(wd.account()));
                    CHECK(a.json()["description"] == (allowed ? std::string("patched by ") + kWhoName[w] : std::string()));
                  }});
  rows.push_back({"PUT", "/api/v1/accounts/{account}/secret", {"204", "204", "404", "404", "404", "204", "403", "401"},
                  [](World&, Who) { return json{{"secret_kind", "password"}, {"secret", "rotated-" + randomHex(6)}}; }, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    int n = 0;
                    for (auto& a : env().audit("", "account_secret_set")) n += a["object_id"] == S(wd.account());
                    CHECK(n == (allowed ? 1 : 0));
                  }});
  rows.push_back({"DELETE", "/api/v1/accounts/{account}",     {"204", "204", "404", "404", "404", "204", "403", "401"},
                  nullptr, nullptr,
                  [](World& wd, Who, bool allowed, const HttpResult&) {
                    CHECK(suGet("/api/v1/accounts/" + S(wd.account())).status == (allowed ? 404 : 200));
                  }});
  rows.push_back({"GET", "/api/v1/my/accounts",               ALL200, nullptr, [](World& wd) { wd.account(); },
                  [](World& wd, Who w, bool, const HttpResult& r) {
                    // Only a member with `connect` may connect; `manage` alone is not enough.
                    if (w == AD || w == AU || w == SOC || w == MGR) CHECK_FALSE(hasId(r.json(), wd.account()));
                    if (w == VW) CHECK(hasId(r.json(), wd.account()));
                  }});

  // ---- audit log (auditor, superuser)
  rows.push_back({"GET", "/api/v1/audit",                     {"200", "403", "403", "200", "403", "403", "403", "401"}});
  // clang-format on
  return rows;
}

}  // namespace

TEST_CASE("authorization matrix: every endpoint x every role", "[api][authz]") {
  Cast& c = cast();
  int cells = 0;
  for (Row& row : matrix()) {
    const bool mutating = row.method != "GET";
    World shared;
    for (int wi = 0; wi < kWho; ++wi) {
      const Who w = static_cast<Who>(wi);
      World fresh;
      World& wd = mutating ? fresh : shared;
      if (row.setup) row.setup(wd);
      const std::string path = wd.path(row.path);
      std::shared_ptr<HttpsClient> client;
      if (w == NONE || row.anonymous) {
        client = env().newClient();
      } else if (row.own_session) {
        client = env().newClient();
        REQUIRE(client->login(c.p[w].username, c.p[w].password).status == 200);
      } else {
        client = c.p[w].client;
      }
      const std::string body = row.body ? row.body(wd, w).dump() : "";
      HttpResult r = client->request(row.method, path, body);

      std::string exp = row.expect[wi];
      const int status = std::stoi(exp.substr(0, 3));
      const std::string code = exp.size() > 4 ? exp.substr(4) : defaultCode(status);
      const bool allowed = status >= 200 && status < 300;
      INFO(row.method << " " << row.path << " as " << kWhoName[wi] << " (" << path << ") -> " << r.status << " "
                      << r.body.substr(0, 200));
      CHECK(r.status == status);
      if (!code.empty()) CHECK(r.errorCode() == code);
      if (allowed && r.status != 204) CHECK(r.json().is_object());
      if (row.verify) row.verify(wd, w, allowed, r);
      if (row.own_session && allowed) CHECK(client->get("/api/v1/me").status == 401);  // logged out
      ++cells;
    }
  }
  CHECK(cells > 200);
}

TEST_CASE("my/accounts lists exactly the connectable accounts whose protocol the safe allows", "[api][authz]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  Principal u = e.makeUser({"admin"});
  auto& V = va.http();

  auto mkTarget = [&](const char* proto) {
    auto r = V.post("/api/v1/targets", {{"name", uniq("ma-target")}, {"protocol", proto}, {"address", "192.0.2.10"}});
    REQUIRE(r.status == 201);
    return r.json()["id"].get<std::int64_t>();
  };
  auto mkSafe = [&](const json& policy) {
    json body{{"name", uniq("ma-safe")}};
    if (!policy.is_null()) body["policy"] = policy;
    auto r = V.post("/api/v1/safes", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"].get<std::int64_t>();
  };
  auto member = [&](std::int64_t safe, std::vector<std::string> perms) {
    auto r = V.put("/api/v1/safes/" + S(safe) + "/members/" + S(u.id), {{"permissions", perms}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  };
  auto mkAccount = [&](std::int64_t safe, std::int64_t target) {
    auto r = V.post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", target}, {"username", uniq("ma-acct")},
                                         {"secret_kind", "password"}, {"secret", "pw-" + randomHex(8)}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"].get<std::int64_t>();
  };
  auto ids = [&](const std::string& path) {
    std::set<std::int64_t> out;
    for (auto& a : e.listAll(u.http(), path)) out.insert(a["id"].get<std::int64_t>());
    return out;
  };

  const auto tSsh = mkTarget("ssh"), tRdp = mkTarget("rdp");
  const auto s1 = mkSafe(nullptr);                                   // connect, all protocols
  const auto s2 = mkSafe(nullptr);                                   // view_recordings only
  const auto s3 = mkSafe(json{{"allowed_protocols", {"rdp"}}});      // connect, rdp only
  const auto s4 = mkSafe(nullptr);                                   // not a member
  member(s1, {"connect"});
  member(s2, {"view_recordings"});
  member(s3, {"connect", "view_recordings"});
  const auto a1 = mkAccount(s1, tSsh), a2 = mkAccount(s1, tRdp);
  const auto a3 = mkAccount(s2, tSsh);
  const auto a4 = mkAccount(s3, tSsh), a5 = mkAccount(s3, tRdp);
  const auto a6 = mkAccount(s4, tSsh);

  CHECK(ids("/api/v1/my/accounts") == std::set<std::int64_t>{a1, a2, a5});
  // Any permission shows the account (but not a connection right).
  CHECK(ids("/api/v1/accounts") == std::set<std::int64_t>{a1, a2, a3, a4, a5});
  CHECK(ids("/api/v1/accounts?safe_id=" + S(s2)) == std::set<std::int64_t>{a3});
  CHECK(ids("/api/v1/accounts?safe_id=" + S(s4)).empty());
  CHECK(u.http().get("/api/v1/accounts/" + S(a3)).status == 200);
  checkError(u.http().get("/api/v1/accounts/" + S(a6)), 404, "not_found");
  checkError(u.http().get("/api/v1/safes/" + S(s4)), 404, "not_found");

  // The safes list shows exactly the safes of membership, with the caller's own permissions.
  std::map<std::int64_t, json> safes;
  for (auto& s : e.listAll(u.http(), "/api/v1/safes")) safes[s["id"].get<std::int64_t>()] = s["my_permissions"];
  CHECK(safes.size() == 3);
  CHECK(safes[s1] == json{"connect"});
  CHECK(safes[s2] == json{"view_recordings"});
  CHECK(safes.count(s4) == 0);

  // Policy and permission changes take effect at once.
  REQUIRE(V.patch("/api/v1/safes/" + S(s3), {{"policy", {{"allowed_protocols", {"ssh", "rdp"}}}}}).status == 200);
  CHECK(ids("/api/v1/my/accounts") == std::set<std::int64_t>{a1, a2, a4, a5});
  member(s1, {"view_recordings"});
  CHECK(ids("/api/v1/my/accounts") == std::set<std::int64_t>{a4, a5});
  REQUIRE(V.patch("/api/v1/safes/" + S(s3), {{"policy", {{"allowed_protocols", json::array()}}}}).status == 200);
  CHECK(ids("/api/v1/my/accounts").empty());
}

TEST_CASE("a member with manage may manage the safe's members and accounts but not delete it", "[api][authz]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  Principal m = e.makeUser({"soc"});
  Principal other = e.makeUser({"auditor"}, false);
  auto s = va.http().post("/api/v1/safes", {{"name", uniq("mg-safe")}});
  REQUIRE(s.status == 201);
  const auto sid = s.json()["id"].get<std::int64_t>();
  REQUIRE(va.http().put("/api/v1/safes/" + S(sid) + "/members/" + S(m.id), {{"permissions", {"manage"}}}).status == 200);
  auto& M = m.http();

  auto p = M.patch("/api/v1/safes/" + S(sid), {{"policy", {{"retention_days", 7}}}});
  INFO(p.body);
  REQUIRE(p.status == 200);
  CHECK(p.json()["policy"]["retention_days"] == 7);
  CHECK(p.json()["policy"]["record_sessions"] == true);  // partial policy: the rest is kept
  CHECK(M.put("/api/v1/safes/" + S(sid) + "/members/" + S(other.id), {{"permissions", {"view_recordings"}}}).status == 200);
  CHECK(M.get("/api/v1/safes/" + S(sid) + "/members").json()["items"].size() == 2);
  checkError(M.del("/api/v1/safes/" + S(sid)), 403, "forbidden");
  CHECK(va.http().get("/api/v1/safes/" + S(sid)).status == 200);
  // Not a vault administrator: still no right to create safes or targets.
  checkError(M.post("/api/v1/safes", {{"name", uniq("mg-nope")}}), 403, "forbidden");
  CHECK(M.del("/api/v1/safes/" + S(sid) + "/members/" + S(other.id)).status == 204);
  CHECK(M.get("/api/v1/safes/" + S(sid) + "/members").json()["items"].size() == 1);
}
