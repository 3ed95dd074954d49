// Directory logins end to end: a private slapd (tests/fixtures/slapd.sh) and a real `vigil serve`
// with `ldap:` enabled; users log in through the HTTPS API and get roles from group mapping.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>
#include <memory>
#include <set>

#include "../ldap/slapd_fixture.hpp"
#include "support/https_client.hpp"
#include "support/vigil_server.hpp"

using vigil::test::HttpsClient;
using vigil::test::Slapd;
using vigil::test::VigilServer;
using Catch::Matchers::Contains;

namespace {

Slapd& slapd() {
  Slapd& s = Slapd::instance();
  if (!s.ok()) FAIL("test slapd unavailable: " << s.error());
  return s;
}

// Single-quoted YAML scalar.
std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

VigilServer& server() {
  static std::unique_ptr<VigilServer> s;
  if (!s) {
    Slapd& d = slapd();
    const std::string base = d.get("LDAP_BASE");
    s = std::make_unique<VigilServer>(
        "ldap:\n"
        "  enabled: true\n"
        "  url: " + q(d.get("LDAP_URL")) + "\n"
        "  bind_dn: " + q(d.get("LDAP_ADMIN_DN")) + "\n"
        "  bind_password: " + q(d.get("LDAP_ADMIN_PASSWORD")) + "\n"
        "  user_base_dn: " + q("ou=people," + base) + "\n"
        "  group_base_dn: " + q("ou=groups," + base) + "\n"
        "  timeout_ms: 3000\n"
        "  group_roles:\n"
        "    vigil-admins: [admin]\n"
        "    vigil-auditors: [auditor]\n");
  }
  return *s;
}

nlohmann::json loginOk(HttpsClient& c, const std::string& user, const std::string& pw) {
  auto r = c.login(user, pw);
  INFO(user << ": " << r.body);
  REQUIRE(r.status == 200);
  return r.json()["user"];
}

/// Audit entries for `action=login` (read as the initial admin, who must first set a password).
nlohmann::json loginAudit() {
  static std::unique_ptr<HttpsClient> admin;
  if (!admin) {
    admin = std::make_unique<HttpsClient>(server().port());
    auto r = admin->login("admin", server().adminPassword());
    REQUIRE(r.status == 200);
    r = admin->post("/api/v1/me/password",
                    {{"current_password", server().adminPassword()}, {"new_password", "Admin-Password-For-Ldap-1"}});
    REQUIRE(r.status == 204);
  }
  auto r = admin->get("/api/v1/audit?action=login&limit=500");
  REQUIRE(r.status == 200);
  return r.json()["items"];
}

/// Whether a login entry for `actor` with `outcome` exists whose details.reason contains `reason`.
bool audited(const nlohmann::json& items, const std::string& actor, const std::string& outcome,
             const std::string& reason = "") {
  for (auto& e : items)
    if (e["actor"] == actor && e["outcome"] == outcome &&
        e["details"].value("reason", "").find(reason) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("alice logs in through the API with her directory password and gets admin", "[ldap_login]") {
  HttpsClient c(server().port());
  auto u = loginOk(c, "alice", slapd().get("LDAP_ALICE_PASSWORD"));
  CHECK(u["username"] == "alice");
  CHECK(u["source"] == "ldap");
  CHECK(u["roles"] == nlohmann::json::array({"admin"}));
  CHECK(u["display_name"] == "Alice Liddell");
  CHECK(u["must_change_password"] == false);
  // The session works, and admin is not auditor.
  auto me = c.get("/api/v1/me");
  REQUIRE(me.status == 200);
  CHECK(me.json()["user"]["source"] == "ldap");
  CHECK(c.get("/api/v1/audit").status == 403);
  // A directory user has no local password to change.
  auto r = c.post("/api/v1/me/password", {{"current_password", slapd().get("LDAP_ALICE_PASSWORD")},
                                          {"new_password", "Some-New-Password-1"}});
  CHECK(r.status == 400);
  // Logging in again reuses the same user.
  HttpsClient c2(server().port());
  CHECK(loginOk(c2, "alice", slapd().get("LDAP_ALICE_PASSWORD"))["id"] == u["id"]);
}

TEST_CASE("a wrong directory password is 401", "[ldap_login]") {
  HttpsClient c(server().port());
  for (const std::string& pw : {"not-" + slapd().get("LDAP_ALICE_PASSWORD"), slapd().get("LDAP_BOB_PASSWORD")}) {
    auto r = c.login("alice", pw);
    CHECK(r.status == 401);
    CHECK(r.errorCode() == "invalid_credentials");
  }
  CHECK(c.get("/api/v1/me").status == 401);
  // An unknown user too.
  auto r = c.login("mallory", "whatever-password");
  CHECK(r.status == 401);
  CHECK(r.errorCode() == "invalid_credentials");
  // Still fine with the right one afterwards (two failures are below the lockout threshold).
  HttpsClient ok(server().port());
  loginOk(ok, "alice", slapd().get("LDAP_ALICE_PASSWORD"));
}

TEST_CASE("carol, in no mapped group, cannot log in", "[ldap_login]") {
  HttpsClient c(server().port());
  auto r = c.login("carol", slapd().get("LDAP_CAROL_PASSWORD"));
  CHECK(r.status == 401);
  CHECK(r.errorCode() == "invalid_credentials");
  CHECK(c.get("/api/v1/me").status == 401);
}

TEST_CASE("bob gets auditor and can read the audit log, which shows the logins", "[ldap_login]") {
  // Make sure the other logins happened (the test cases may run alone).
  {
    HttpsClient a(server().port());
    loginOk(a, "alice", slapd().get("LDAP_ALICE_PASSWORD"));
    CHECK(a.login("alice", "wrong-password-xyz").status == 401);
    CHECK(a.login("carol", slapd().get("LDAP_CAROL_PASSWORD")).status == 401);
  }
  HttpsClient bob(server().port());
  auto u = loginOk(bob, "bob", slapd().get("LDAP_BOB_PASSWORD"));
  CHECK(u["source"] == "ldap");
  CHECK(u["roles"] == nlohmann::json::array({"auditor"}));

  auto r = bob.get("/api/v1/audit?action=login&limit=500");
  REQUIRE(r.status == 200);
  auto items = r.json()["items"];
  INFO(items.dump(1));
  CHECK(audited(items, "alice", "ok"));
  CHECK(audited(items, "alice", "failed", "ldap_invalid"));
  CHECK(audited(items, "carol", "failed", "ldap_no"));
  CHECK(audited(items, "bob", "ok"));
  for (auto& e : items) {
    if (e["actor"] == "alice" && e["outcome"] == "ok") CHECK(e["details"].value("source", "") == "ldap");
    // No password ever reaches the audit log.
    for (const char* k : {"LDAP_ALICE_PASSWORD", "LDAP_BOB_PASSWORD", "LDAP_CAROL_PASSWORD", "LDAP_ADMIN_PASSWORD"})
      CHECK_FALSE(Contains(slapd().get(k)).match(e.dump()));
  }
  // bob is not an admin: user administration is closed to him.
  CHECK(bob.get("/api/v1/users").status == 403);
  // The superuser sees the same entries.
  CHECK(audited(loginAudit(), "bob", "ok"));
}

TEST_CASE("the local admin still logs in with LDAP enabled", "[ldap_login]") {
  HttpsClient c(server().port());
  auto r = c.login("admin", server().adminPassword());
  // Either the one-time password (if no other case changed it yet) or the changed one.
  if (r.status != 200) r = c.login("admin", "Admin-Password-For-Ldap-1");
  REQUIRE(r.status == 200);
  CHECK(r.json()["user"]["source"] == "local");
}

namespace {

/// Applies an LDIF change to the test directory as its admin (password through a 0600 file).
/// Returns ldapmodify's output, empty on success.
std::string tryLdapModify(const std::string& ldif) {
  Slapd& d = Slapd::instance();
  char tmpl[] = "/tmp/vigil-ldapmod-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "mkstemp failed";
  const std::string pw = d.get("LDAP_ADMIN_PASSWORD");
  const bool wrote = write(fd, pw.data(), pw.size()) == static_cast<ssize_t>(pw.size());
  close(fd);
  const std::string ldif_file = std::string(tmpl) + ".ldif";
  { std::ofstream(ldif_file) << ldif; }
  auto r = vigil::test::runCommand("ldapmodify -x -H '" + d.get("LDAP_URL") + "' -D '" + d.get("LDAP_ADMIN_DN") +
                                   "' -y " + tmpl + " -f " + ldif_file);
  std::remove(tmpl);
  std::remove(ldif_file.c_str());
  if (!wrote) return "cannot write the password file";
  return r.exit_code == 0 ? std::string() : "ldapmodify failed (" + std::to_string(r.exit_code) + "): " + r.output;
}

void ldapModify(const std::string& ldif) {
  const std::string error = tryLdapModify(ldif);
  INFO(error);
  REQUIRE(error.empty());
}

std::string memberChange(const std::string& op, const std::string& group, const std::string& uid) {
  const std::string base = slapd().get("LDAP_BASE");
  return "dn: cn=" + group + ",ou=groups," + base + "\nchangetype: modify\n" + op + ": member\nmember: uid=" + uid +
         ",ou=people," + base + "\n";
}

}  // namespace

TEST_CASE("roles come from the directory at every login", "[ldap_login]") {
  const std::string pw = slapd().get("LDAP_CAROL_PASSWORD");
  CHECK(HttpsClient(server().port()).login("carol", pw).status == 401);

  ldapModify(memberChange("add", "vigil-auditors", "carol"));
  struct Restore {
    bool auditors = true, admins = false;
    ~Restore() {
      // No REQUIRE here: this may run while a failed assertion unwinds.
      if (auditors) tryLdapModify(memberChange("delete", "vigil-auditors", "carol"));
      if (admins) tryLdapModify(memberChange("delete", "vigil-admins", "carol"));
    }
  } restore;

  HttpsClient c(server().port());
  auto u = loginOk(c, "carol", pw);
  CHECK(u["roles"] == nlohmann::json::array({"auditor"}));
  CHECK(u["source"] == "ldap");
  CHECK(c.get("/api/v1/audit?limit=1").status == 200);

  ldapModify(memberChange("add", "vigil-admins", "carol"));
  restore.admins = true;
  u = loginOk(c, "carol", pw);
  auto roles = u["roles"].get<std::vector<std::string>>();
  CHECK(std::set<std::string>(roles.begin(), roles.end()) == std::set<std::string>{"admin", "auditor"});
  CHECK(roles.size() == 2);

  ldapModify(memberChange("delete", "vigil-auditors", "carol"));
  restore.auditors = false;
  u = loginOk(c, "carol", pw);
  CHECK(u["roles"] == nlohmann::json::array({"admin"}));
  CHECK(c.get("/api/v1/audit?limit=1").status == 403);  // the auditor role is gone with the group

  ldapModify(memberChange("delete", "vigil-admins", "carol"));
  restore.admins = false;
  HttpsClient again(server().port());
  CHECK(again.login("carol", pw).status == 401);
}

TEST_CASE("vigil user lock works on a directory user; passwd refuses one", "[ldap_login]") {
  const std::string pw = slapd().get("LDAP_ALICE_PASSWORD");
  HttpsClient c(server().port());
  loginOk(c, "alice", pw);  // makes sure the user exists in Vigil

  auto r = server().cli("user lock alice");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(c.get("/api/v1/me").status == 401);
  auto res = HttpsClient(server().port()).login("alice", pw);
  CHECK(res.status == 403);
  CHECK(res.errorCode() == "account_locked");

  r = server().cli("user unlock alice");
  REQUIRE(r.exit_code == 0);
  HttpsClient c2(server().port());
  loginOk(c2, "alice", pw);

  r = server().cli("user passwd alice");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("LDAP"));
  loginOk(c2, "alice", pw);  // unchanged
}

TEST_CASE("an unreachable directory is 503; local users still log in", "[ldap_login]") {
  // A loopback port that refuses connections: bound, never listened on, closed.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);

  VigilServer s("ldap:\n  enabled: true\n  url: 'ldap://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) +
                "/'\n  user_base_dn: 'ou=people,dc=vigil,dc=test'\n  timeout_ms: 1000\n"
                "  group_roles: {vigil-admins: [admin]}\n");
  HttpsClient c(s.port());
  auto r = c.login("alice", "some-password-123");
  CHECK(r.status == 503);
  CHECK(r.errorCode() == "directory_unavailable");
  CHECK(c.get("/api/v1/me").status == 401);
  r = c.login("admin", s.adminPassword());
  CHECK(r.status == 200);
  CHECK(r.json()["user"]["source"] == "local");
}
