// Session cookie attributes, forged and logged-out cookies, CSRF, the one-time-password gate,
// and security headers on API and static answers.
#include <set>

#include "support/api_env.hpp"

using namespace api_test;

namespace {

std::string S(std::int64_t v) { return std::to_string(v); }

std::set<std::string> cookieAttributes(const std::string& setCookie) {
  std::set<std::string> out;
  std::size_t pos = setCookie.find(';');
  while (pos != std::string::npos) {
    std::size_t next = setCookie.find(';', pos + 1);
    std::string a = setCookie.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    while (!a.empty() && a.front() == ' ') a.erase(0, 1);
    while (!a.empty() && a.back() == ' ') a.pop_back();
    for (auto& ch : a) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.insert(a);
    pos = next;
  }
  return out;
}

std::set<std::string> safeNames() {
  std::set<std::string> out;
  for (auto& s : env().listAll("/api/v1/safes")) out.insert(s["name"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("the initial superuser must replace the one-time password first", "[api][sessions]") {
  Env& e = env();
  CHECK(e.initial_must_change);
  CHECK(e.gate_status == 403);
  CHECK(e.gate_code == "password_change_required");
  CHECK(e.me_status_before_change == 200);
  CHECK(e.admin().get("/api/v1/me").json()["user"]["must_change_password"] == false);
  CHECK(e.admin().get("/api/v1/safes").status == 200);

  // A new user is gated the same way, on every endpoint but /me, password and logout.
  Principal p = e.makeUser({"vault_admin"}, false);
  auto c = e.newClient();
  REQUIRE(c->login(p.username, p.password).status == 200);
  checkError(c->get("/api/v1/users"), 403, "password_change_required");
  checkError(c->post("/api/v1/safes", {{"name", uniq("gate-safe")}}), 403, "password_change_required");
  checkError(c->post("/api/v1/me/mfa/enroll", json::object()), 403, "password_change_required");
  CHECK(c->get("/api/v1/me").status == 200);
  // The new password must satisfy the policy and differ from the old one.
  checkError(c->post("/api/v1/me/password", {{"current_password", p.password}, {"new_password", "short"}}), 400,
             "validation_failed");
  checkError(c->post("/api/v1/me/password", {{"current_password", p.password}, {"new_password", p.password}}), 400,
             "validation_failed");
  checkError(c->post("/api/v1/me/password", {{"current_password", "Not-the-current-1"}, {"new_password", "Good-new-password-1"}}),
             400, "validation_failed");
  CHECK(c->post("/api/v1/me/password", {{"current_password", p.password}, {"new_password", "Good-new-password-1"}}).status == 204);
  CHECK(c->get("/api/v1/users").status == 200);
  // The old password no longer works, the new one does.
  checkError(e.newClient()->login(p.username, p.password), 401, "invalid_credentials");
  CHECK(e.newClient()->login(p.username, "Good-new-password-1").status == 200);
}

TEST_CASE("session cookie: attributes, forged cookie, logout", "[api][sessions]") {
  Env& e = env();
  Principal p = e.makeUser({"admin"}, false);
  auto c = e.newClient();
  auto r = c->login(p.username, p.password);
  REQUIRE(r.status == 200);
  const std::string sc = header(r, "set-cookie");
  INFO("Set-Cookie: " << sc);
  REQUIRE(sc.rfind("vigil_session=", 0) == 0);
  auto attrs = cookieAttributes(sc);
  CHECK(attrs.count("httponly") == 1);
  CHECK(attrs.count("secure") == 1);
  CHECK(attrs.count("samesite=strict") == 1);
  CHECK(attrs.count("path=/") == 1);
  const std::string token = c->cookie();
  CHECK(token.size() >= 32);
  CHECK(r.json()["csrf_token"].get<std::string>().size() >= 32);
  CHECK(r.json()["csrf_token"] != token);
  CHECK_FALSE(r.json()["user"].contains("password_hash"));

  // Forged, truncated, altered, empty and oversized cookies: 401 unauthenticated.
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& forged : {std::string("forged-") + randomHex(16), token.substr(0, token.size() - 1), altered,
                                    std::string(), std::string(4096, 'A'), std::string("' OR '1'='1")}) {
    HttpsClient f(e.port());
    f.cookie() = forged;
    f.csrf() = c->csrf();
    INFO("forged cookie: " << forged.substr(0, 60));
    checkError(f.get("/api/v1/me"), 401, "unauthenticated");
    checkError(f.post("/api/v1/safes", {{"name", uniq("forged")}}), 401, "unauthenticated");
  }
  CHECK(c->get("/api/v1/me").status == 200);

  // Logout: 204, the cookie is cleared, and the old cookie is dead server-side.
  auto out = c->post("/api/v1/auth/logout", json::object());
  CHECK(out.status == 204);
  auto cleared = cookieAttributes(header(out, "set-cookie"));
  CHECK(header(out, "set-cookie").rfind("vigil_session=;", 0) == 0);
  CHECK(cleared.count("max-age=0") == 1);
  HttpsClient old(e.port());
  old.cookie() = token;
  checkError(old.get("/api/v1/me"), 401, "unauthenticated");
  checkError(old.post("/api/v1/auth/logout", json::object()), 401, "unauthenticated");
  int logouts = 0;
  for (auto& a : e.audit(p.username, "logout")) logouts += a["outcome"] == "ok";
  CHECK(logouts == 1);
}

TEST_CASE("CSRF: state-changing requests need the session's X-CSRF-Token", "[api][sessions]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  Principal other = e.makeUser({"vault_admin"});
  const std::string good = va.http().csrf();
  REQUIRE(!good.empty());

  auto before = safeNames();
  const std::string n1 = uniq("csrf-safe");
  va.http().csrf().clear();
  checkError(va.http().post("/api/v1/safes", {{"name", n1}}), 403, "csrf_failed");
  va.http().csrf() = "wrong-" + randomHex(16);
  checkError(va.http().post("/api/v1/safes", {{"name", n1}}), 403, "csrf_failed");
  va.http().csrf() = other.http().csrf();  // a valid token, but of another session
  checkError(va.http().post("/api/v1/safes", {{"name", n1}}), 403, "csrf_failed");
  va.http().csrf() = good.substr(0, good.size() - 1);
  checkError(va.http().post("/api/v1/safes", {{"name", n1}}), 403, "csrf_failed");
  CHECK(safeNames() == before);

  // GET needs no token; PATCH, PUT and DELETE do.
  va.http().csrf() = good;
  auto s = va.http().post("/api/v1/safes", {{"name", n1}});
  REQUIRE(s.status == 201);
  const auto sid = s.json()["id"].get<std::int64_t>();
  va.http().csrf().clear();
  CHECK(va.http().get("/api/v1/safes/" + S(sid)).status == 200);
  checkError(va.http().patch("/api/v1/safes/" + S(sid), {{"description", "csrf"}}), 403, "csrf_failed");
  checkError(va.http().put("/api/v1/safes/" + S(sid) + "/members/" + S(other.id), {{"permissions", {"connect"}}}), 403,
             "csrf_failed");
  checkError(va.http().del("/api/v1/safes/" + S(sid)), 403, "csrf_failed");
  checkError(va.http().post("/api/v1/auth/logout", json::object()), 403, "csrf_failed");
  va.http().csrf() = good;
  auto got = va.http().get("/api/v1/safes/" + S(sid));
  REQUIRE(got.status == 200);
  CHECK(got.json()["description"] == "");
  CHECK(va.http().get("/api/v1/safes/" + S(sid) + "/members").json()["items"].empty());
  CHECK(va.http().get("/api/v1/me").status == 200);  // still logged in
  // /me hands out the same token.
  CHECK(va.http().get("/api/v1/me").json()["csrf_token"] == good);
  CHECK(va.http().del("/api/v1/safes/" + S(sid)).status == 204);
}

TEST_CASE("locking a user or resetting their password ends their sessions", "[api][sessions]") {
  Env& e = env();
  Principal p = e.makeUser({"admin"});
  auto second = e.newClient();
  REQUIRE(second->login(p.username, p.password).status == 200);
  REQUIRE(p.http().get("/api/v1/me").status == 200);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", true}}).status == 200);
  checkError(p.http().get("/api/v1/me"), 401, "unauthenticated");
  checkError(second->get("/api/v1/targets"), 401, "unauthenticated");
  int locks = 0;
  for (auto& a : e.audit("admin", "user_lock")) locks += a["object_id"] == S(p.id);
  CHECK(locks == 1);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}}).status == 200);

  auto third = e.newClient();
  REQUIRE(third->login(p.username, p.password).status == 200);
  const std::string reset = "Reset-by-admin-" + randomHex(4);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"password", reset}}).status == 200);
  checkError(third->get("/api/v1/me"), 401, "unauthenticated");
  auto fourth = e.newClient();
  auto l = fourth->login(p.username, reset);
  REQUIRE(l.status == 200);
  CHECK(l.json()["user"]["must_change_password"] == true);

  // Deleting a user ends their sessions too.
  REQUIRE(e.admin().del("/api/v1/users/" + S(p.id)).status == 204);
  checkError(fourth->get("/api/v1/me"), 401, "unauthenticated");
  checkError(e.newClient()->login(p.username, reset), 401, "invalid_credentials");
}

TEST_CASE("security headers on API, error and static responses", "[api][headers]") {
  Env& e = env();
  auto anon = e.newClient();
  Principal p = e.makeUser({"soc"});
  struct Case {
    std::string what;
    HttpResult r;
    bool api;
  };
  std::vector<Case> cases{
      {"GET /api/v1/me", p.http().get("/api/v1/me"), true},
      {"GET /api/v1/targets", p.http().get("/api/v1/targets"), true},
      {"POST login 401", anon->login("nobody-" + randomHex(3), "Wrong-password-1"), true},
      {"GET /api/v1/me 401", anon->get("/api/v1/me"), true},
      {"GET /api/v1/nope 404", p.http().get("/api/v1/nope"), true},
      {"DELETE /api/v1/targets 405", p.http().del("/api/v1/targets"), true},
      {"GET /healthz", anon->get("/healthz"), true},
      {"GET / (portal)", anon->get("/"), false},
      {"GET /js/app.js", anon->get("/js/app.js"), false},
      {"GET /css/app.css", anon->get("/css/app.css"), false},
      {"GET /missing.js 404", anon->get("/missing.js"), false},
      {"POST / 405", anon->request("POST", "/", "{}"), false},
  };
  for (auto& c : cases) {
    INFO(c.what << " -> " << c.r.status);
    const std::string hsts = header(c.r, "strict-transport-security");
    CHECK(hsts.rfind("max-age=", 0) == 0);
    CHECK(std::atol(hsts.c_str() + 8) >= 15552000);  // at least 180 days
    const std::string csp = header(c.r, "content-security-policy");
    CHECK(contains(csp, "default-src 'self'"));
    CHECK(contains(csp, "frame-ancestors 'none'"));
    CHECK_FALSE(contains(csp, "unsafe-inline"));
    CHECK(header(c.r, "x-frame-options") == "DENY");
    CHECK(header(c.r, "x-content-type-options") == "nosniff");
    if (c.api) CHECK(contains(header(c.r, "cache-control"), "no-store"));
  }
  CHECK(cases[7].r.status == 200);
  CHECK(contains(header(cases[7].r, "content-type"), "text/html"));
  CHECK(cases[8].r.status == 200);
  CHECK(contains(header(cases[8].r, "content-type"), "javascript"));
  checkError(cases[10].r, 404, "not_found");
  checkError(cases[11].r, 405, "method_not_allowed");
}

TEST_CASE("static files never escape the web root", "[api][headers]") {
  auto anon = env().newClient();
  for (const char* path : {"/../../../../etc/passwd", "/..%2f..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                           "/js/../../../../../etc/passwd", "/....//....//etc/passwd", "/%00", "/\\..\\..\\etc\\passwd"}) {
    INFO(path);
    HttpResult r;
    REQUIRE_NOTHROW(r = anon->get(path));
    CHECK((r.status == 200 || r.status == 400 || r.status == 404));
    CHECK_FALSE(contains(r.body, "root:x:0:0"));
    CHECK_FALSE(contains(r.body, "BEGIN PRIVATE KEY"));
  }
  checkAlive();
}
