// TOTP enrolment and login (codes computed here, RFC 6238), replay refusal, MFA reset; lockout
// after consecutive failures and unlocking by a superuser.
#include "support/api_env.hpp"

using namespace api_test;

namespace {

std::string S(std::int64_t v) { return std::to_string(v); }

HttpResult loginAs(const Principal& p, const std::string& password, const std::string& totp = "") {
  return env().newClient()->login(p.username, password, totp);
}

/// A six-digit string that is not a valid code for any step in the server's window.
std::string wrongCode(const std::vector<unsigned char>& key) {
  const auto now = nowStep();
  for (int candidate = 0;; ++candidate) {
    std::string c = std::to_string(100000 + candidate * 7919 % 900000);
    bool valid = false;
    for (std::uint64_t s = now - 2; s <= now + 2; ++s) valid = valid || c == totpAt(key, s);
    if (!valid) return c;
  }
}

}  // namespace

TEST_CASE("own TOTP implementation matches the RFC 6238 test vector", "[api][totp]") {
  const std::string ascii = "12345678901234567890";
  std::vector<unsigned char> key(ascii.begin(), ascii.end());
  CHECK(totpAt(key, 59 / 30) == "287082");          // RFC 6238: T=59 -> 94287082 (8 digits)
  CHECK(totpAt(key, 1111111109 / 30) == "081804");  // T=1111111109 -> 07081804
  CHECK(base32Decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == key);
}

TEST_CASE("TOTP: enrol, confirm, login needs a valid fresh code, replay refused, reset", "[api][totp]") {
  Env& e = env();
  Principal p = e.makeUser({"admin"});

  auto en = p.http().post("/api/v1/me/mfa/enroll", json::object());
  INFO(en.body);
  REQUIRE(en.status == 200);
  const std::string secret = en.json()["secret"].get<std::string>();
  const std::string uri = en.json()["otpauth_uri"].get<std::string>();
  CHECK(uri.rfind("otpauth://totp/", 0) == 0);
  CHECK(contains(uri, "secret=" + secret));
  const auto key = base32Decode(secret);
  REQUIRE(key.size() >= 16);

  // Pending until confirmed: a wrong code is refused and the user is not yet enrolled.
  checkError(p.http().post("/api/v1/me/mfa/confirm", {{"code", wrongCode(key)}}), 400, "validation_failed");
  CHECK(p.http().get("/api/v1/me").json()["user"]["mfa_enrolled"] == false);
  CHECK(loginAs(p, p.password).status == 200);  // not enrolled yet: no code needed

  const std::uint64_t confirmStep = nowStep();
  auto cf = p.http().post("/api/v1/me/mfa/confirm", {{"code", totpAt(key, confirmStep)}});
  INFO(cf.body);
  REQUIRE(cf.status == 200);
  CHECK(cf.json()["user"]["mfa_enrolled"] == true);

  // Enrolling again while enrolled: 409.
  checkError(p.http().post("/api/v1/me/mfa/enroll", json::object()), 409, "conflict");

  // Password alone: 401 mfa_required, no session.
  auto noCode = loginAs(p, p.password);
  checkError(noCode, 401, "mfa_required");
  CHECK(header(noCode, "set-cookie").empty());
  // Wrong code: 401 mfa_required, no session.
  auto bad = loginAs(p, p.password, wrongCode(key));
  checkError(bad, 401, "mfa_required");
  CHECK(header(bad, "set-cookie").empty());
  // Not six digits: refused the same way.
  checkError(loginAs(p, p.password, "12345"), 401, "mfa_required");
  // Right code but wrong password: still 401 invalid_credentials.
  checkError(loginAs(p, "Wrong-password-123", totpAt(key, nowStep())), 401, "invalid_credentials");

  // The confirmation consumed its time step: use a later one still inside the +-1 window.
  const std::uint64_t step = std::max(nowStep(), confirmStep + 1);
  const std::string code = totpAt(key, step);
  auto c1 = e.newClient();
  auto ok = c1->login(p.username, p.password, code);
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  CHECK(c1->get("/api/v1/me").status == 200);

  // Replay of the same code: refused, even with the right password.
  auto replay = loginAs(p, p.password, code);
  checkError(replay, 401, "mfa_required");
  CHECK(header(replay, "set-cookie").empty());
  // The code used for confirmation cannot be replayed for a login either.
  CHECK(loginAs(p, p.password, totpAt(key, confirmStep)).status == 401);

  // Superuser reset: the user logs in with the password alone again and may enrol anew.
  auto reset = e.admin().post("/api/v1/users/" + S(p.id) + "/mfa-reset", json::object());
  INFO(reset.body);
  REQUIRE(reset.status == 200);
  CHECK(reset.json()["mfa_enrolled"] == false);
  auto after = e.newClient();
  CHECK(after->login(p.username, p.password).status == 200);
  CHECK(after->post("/api/v1/me/mfa/enroll", json::object()).status == 200);

  // Audited: enrolment started/confirmed, login failures, reset.
  int enroll = 0, reset_rows = 0, failed = 0;
  for (auto& a : e.audit(p.username)) {
    enroll += a["action"] == "mfa_enroll";
    failed += a["action"] == "login" && a["outcome"] == "failed";
  }
  for (auto& a : e.audit("", "mfa_reset")) reset_rows += a["object_id"] == S(p.id);
  CHECK(enroll >= 3);  // started, wrong code, confirmed (+ started again)
  CHECK(failed >= 6);
  CHECK(reset_rows == 1);
}

TEST_CASE("TOTP: wrong codes count as failed logins and lead to a lockout", "[api][totp][lockout]") {
  Env& e = env();
  Principal p = e.makeUser({"admin"});
  auto en = p.http().post("/api/v1/me/mfa/enroll", json::object());
  REQUIRE(en.status == 200);
  const auto key = base32Decode(en.json()["secret"].get<std::string>());
  const std::uint64_t confirmStep = nowStep();
  REQUIRE(p.http().post("/api/v1/me/mfa/confirm", {{"code", totpAt(key, confirmStep)}}).status == 200);
  for (int i = 0; i < 5; ++i) checkError(loginAs(p, p.password, wrongCode(key)), 401, "mfa_required");
  checkError(loginAs(p, p.password, totpAt(key, std::max(nowStep(), confirmStep + 1))), 403, "account_locked");
  int lockouts = 0;
  for (auto& a : e.audit(p.username, "login")) lockouts += a["details"].value("reason", "") == "lockout_started";
  CHECK(lockouts == 1);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}}).status == 200);
  CHECK(loginAs(p, p.password, totpAt(key, std::max(nowStep(), confirmStep + 1))).status == 200);
}

TEST_CASE("lockout: 5 wrong passwords lock the account, audited; a superuser unlocks", "[api][lockout]") {
  Env& e = env();
  Principal p = e.makeUser({"soc"});

  // Failures must be consecutive: a success in between resets the count.
  for (int i = 0; i < 4; ++i) checkError(loginAs(p, "Wrong-password-" + S(i)), 401, "invalid_credentials");
  REQUIRE(loginAs(p, p.password).status == 200);
  for (int i = 0; i < 4; ++i) checkError(loginAs(p, "Wrong-password-" + S(i)), 401, "invalid_credentials");
  REQUIRE(loginAs(p, p.password).status == 200);

  for (int i = 0; i < 5; ++i) checkError(loginAs(p, "Wrong-again-" + S(i)), 401, "invalid_credentials");
  auto locked = loginAs(p, p.password);
  checkError(locked, 403, "account_locked");
  CHECK(header(locked, "set-cookie").empty());
  // A temporary lockout stops logins, not the user's existing session (an attacker guessing
  // passwords must not be able to throw the real user out); it is shown apart from an
  // administrative lock.
  CHECK(p.http().get("/api/v1/me").status == 200);
  auto shown = e.admin().get("/api/v1/users/" + S(p.id)).json();
  CHECK(shown["locked"] == false);
  CHECK(shown["lockout_active"] == true);

  int failedRows = 0, lockoutRows = 0, deniedRows = 0;
  for (auto& a : e.audit(p.username, "login")) {
    CHECK(a["source_addr"] == "127.0.0.1");
    if (a["outcome"] == "failed") ++failedRows;
    if (a["outcome"] == "denied" && a["details"].value("reason", "") == "lockout_started") ++lockoutRows;
    if (a["outcome"] == "denied") ++deniedRows;
  }
  CHECK(failedRows == 13);
  CHECK(lockoutRows == 1);
  CHECK(deniedRows == 2);  // the lockout itself and the refused right password

  auto un = e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}});
  INFO(un.body);
  REQUIRE(un.status == 200);
  CHECK(un.json()["locked"] == false);
  int unlockRows = 0;
  for (auto& a : e.audit("admin", "user_unlock")) unlockRows += a["object_id"] == S(p.id);
  CHECK(unlockRows == 1);
  auto c = e.newClient();
  REQUIRE(c->login(p.username, p.password).status == 200);
  CHECK(c->get("/api/v1/me").status == 200);
  // The failure count was cleared as well: one wrong password does not lock again.
  checkError(loginAs(p, "Wrong-once-more"), 401, "invalid_credentials");
  CHECK(loginAs(p, p.password).status == 200);
}

TEST_CASE("an administrative lock is permanent and ends sessions; unlocking does not revive them", "[api][lockout]") {
  Env& e = env();
  Principal p = e.makeUser({"auditor"});
  REQUIRE(p.http().get("/api/v1/me").status == 200);
  auto l = e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", true}});
  REQUIRE(l.status == 200);
  CHECK(l.json()["locked"] == true);
  CHECK(p.http().get("/api/v1/me").status == 401);
  checkError(loginAs(p, p.password), 403, "account_locked");
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}}).status == 200);
  CHECK(p.http().get("/api/v1/me").status == 401);  // the old session was deleted, not suspended
  CHECK(loginAs(p, p.password).status == 200);
  // A superuser cannot lock themselves out.
  checkError(e.admin().patch("/api/v1/users/" + S(e.su().id), {{"locked", true}}), 400, "validation_failed");
}

// Regression test (fixed): PATCH /api/v1/users/{id} reads `locked` as "locked OR lockout active"
// (server/store/users.cpp kUserColumns) and writes it back (web/api/user_routes.cpp update ->
// Store::updateUser), so any edit of a user during a temporary lockout (here: display_name)
// turns the 15-minute lockout into a permanent administrative lock.
TEST_CASE("editing a temporarily locked-out user does not make the lock permanent", "[api][lockout]") {
  Env& e = env();
  Principal p = e.makeUser({"soc"});
  for (int i = 0; i < 5; ++i) loginAs(p, "Wrong-password-" + S(i));
  checkError(loginAs(p, p.password), 403, "account_locked");
  REQUIRE(e.psql("SELECT locked FROM users WHERE id = " + S(p.id)) == "f");  // temporary only

  auto r = e.admin().patch("/api/v1/users/" + S(p.id), {{"display_name", "Renamed during lockout"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  // Still only the temporary lockout: no administrative lock appeared.
  CHECK(e.psql("SELECT locked FROM users WHERE id = " + S(p.id)) == "f");
  CHECK(e.psql("SELECT locked_until > now() FROM users WHERE id = " + S(p.id)) == "t");
}

// Regression test (fixed): same root cause. An explicit lock of a user who is in a temporary
// lockout is not seen as a change (lock_changed = false in web/api/user_routes.cpp update), so
// the user's sessions are not deleted and the audit says user_update instead of user_lock; after
// a later unlock the old session cookie works again.
TEST_CASE("explicitly locking a locked-out user ends their sessions and is audited as user_lock", "[api][lockout]") {
  Env& e = env();
  Principal p = e.makeUser({"soc"});
  REQUIRE(p.http().get("/api/v1/me").status == 200);
  for (int i = 0; i < 5; ++i) loginAs(p, "Wrong-password-" + S(i));
  checkError(loginAs(p, p.password), 403, "account_locked");

  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", true}}).status == 200);
  int lockRows = 0;
  for (auto& a : e.audit("admin", "user_lock")) lockRows += a["object_id"] == S(p.id);
  CHECK(lockRows == 1);
  REQUIRE(e.admin().patch("/api/v1/users/" + S(p.id), {{"locked", false}}).status == 200);
  // The session that existed when the administrator locked the account must stay dead.
  CHECK(p.http().get("/api/v1/me").status == 401);
}
