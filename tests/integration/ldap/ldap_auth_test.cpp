#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "server/auth/ldap_auth.hpp"
#include "slapd_fixture.hpp"

using namespace vigil::auth;
using vigil::test::Slapd;
using Clock = std::chrono::steady_clock;

namespace {

Slapd& server() {
  Slapd& s = Slapd::instance();
  if (!s.ok()) FAIL("test slapd unavailable: " << s.error());
  return s;
}

LdapConfig config() {
  Slapd& s = server();
  LdapConfig cfg;
  cfg.enabled = true;
  cfg.url = s.get("LDAP_URL");
  cfg.bind_dn = s.get("LDAP_ADMIN_DN");
  cfg.bind_password = s.get("LDAP_ADMIN_PASSWORD");
  cfg.user_base_dn = "ou=people," + s.get("LDAP_BASE");
  cfg.group_base_dn = "ou=groups," + s.get("LDAP_BASE");
  cfg.group_roles = {{"vigil-admins", {"admin"}}, {"vigil-auditors", {"auditor"}}};
  cfg.timeout = std::chrono::milliseconds(3000);
  return cfg;
}

// Every call goes through here so that no outcome can leak the password into `detail`.
LdapResult login(const LdapConfig& cfg, const std::string& user, const std::string& password) {
  LdapResult r = ldapAuthenticate(cfg, user, password);
  CHECK(r.user.has_value() != r.error.has_value());
  if (!password.empty()) CHECK(r.detail.find(password) == std::string::npos);
  return r;
}

std::string alicePassword() { return server().get("LDAP_ALICE_PASSWORD"); }

// A loopback port that refuses connections: bound, never listened on, closed.
int closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("alice logs in with the role of vigil-admins", "[ldap]") {
  auto r = login(config(), "alice", alicePassword());
  REQUIRE(r.user);
  CHECK(r.user->dn == "uid=alice,ou=people," + server().get("LDAP_BASE"));
  CHECK(r.user->username == "alice");
  CHECK(r.user->display_name == "Alice Liddell");
  CHECK(r.user->groups == std::vector<std::string>{"vigil-admins"});
  CHECK(r.user->roles == std::vector<std::string>{"admin"});
}

TEST_CASE("bob gets auditor, roles deduplicated in order", "[ldap]") {
  auto cfg = config();
  cfg.group_roles["vigil-auditors"] = {"auditor", "viewer", "auditor"};
  auto r = login(cfg, "bob", server().get("LDAP_BOB_PASSWORD"));
  REQUIRE(r.user);
  CHECK(r.user->roles == std::vector<std::string>{"auditor", "viewer"});
}

TEST_CASE("an anonymous service search works too", "[ldap]") {
  auto cfg = config();
  cfg.bind_dn.clear();
  cfg.bind_password.clear();
  auto r = login(cfg, "alice", alicePassword());
  REQUIRE(r.user);
  CHECK(r.user->roles == std::vector<std::string>{"admin"});
}

TEST_CASE("a wrong password is InvalidCredentials", "[ldap]") {
  auto r = login(config(), "alice", "not-" + alicePassword());
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::InvalidCredentials);
  // Another user's valid password must not open alice's account.
  r = login(config(), "alice", server().get("LDAP_BOB_PASSWORD"));
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::InvalidCredentials);
}

TEST_CASE("an unknown user is NoSuchUser", "[ldap]") {
  auto r = login(config(), "mallory", "whatever-pass");
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::NoSuchUser);
}

TEST_CASE("an empty password is refused before any network traffic", "[ldap]") {
  auto cfg = config();
  cfg.url = "ldap://127.0.0.1:" + std::to_string(closedPort()) + "/";
  auto r = login(cfg, "alice", "");
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::InvalidCredentials);  // not Unavailable: never connected
  r = login(config(), "alice", "");
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::InvalidCredentials);
}

TEST_CASE("carol, in no mapped group, is NoRoles", "[ldap]") {
  auto r = login(config(), "carol", server().get("LDAP_CAROL_PASSWORD"));
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::NoRoles);
}

TEST_CASE("filter injection in the username finds nobody", "[ldap]") {
  for (const char* name : {"*", "*)(uid=*", "alice)(|(uid=*", "al*", "alice)", "alice\\29"}) {
    INFO(name);
    auto r = login(config(), name, alicePassword());
    REQUIRE(r.error);
    CHECK(*r.error == LdapError::NoSuchUser);
  }
}

TEST_CASE("a filter matching several entries is refused", "[ldap]") {
  auto cfg = config();
  cfg.user_filter = "(|(uid={username})(objectClass=inetOrgPerson))";
  auto r = login(cfg, "alice", alicePassword());
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::NoSuchUser);
}

TEST_CASE("a wrong service password is BadConfig, not the user's fault", "[ldap]") {
  auto cfg = config();
  cfg.bind_password = "wrong-service-password";
  auto r = login(cfg, "alice", alicePassword());
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::BadConfig);
  CHECK(r.detail.find("wrong-service-password") == std::string::npos);
}

TEST_CASE("missing url or base is BadConfig", "[ldap]") {
  LdapConfig cfg;
  cfg.enabled = true;
  cfg.user_base_dn = cfg.group_base_dn = "dc=x";
  CHECK(*login(cfg, "alice", "pw").error == LdapError::BadConfig);
  cfg.url = "ldap://127.0.0.1:1/";
  cfg.user_base_dn.clear();
  CHECK(*login(cfg, "alice", "pw").error == LdapError::BadConfig);
}

TEST_CASE("a closed port is Unavailable within the timeout", "[ldap]") {
  LdapConfig cfg;
  cfg.enabled = true;
  cfg.url = "ldap://127.0.0.1:" + std::to_string(closedPort()) + "/";
  cfg.user_base_dn = cfg.group_base_dn = "dc=vigil,dc=test";
  cfg.timeout = std::chrono::milliseconds(1000);
  auto start = Clock::now();
  auto r = login(cfg, "alice", "some-password");
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::Unavailable);
  CHECK(Clock::now() - start < std::chrono::milliseconds(1500));
}

TEST_CASE("a server that never answers is Unavailable after the timeout", "[ldap]") {
  // The kernel completes the TCP handshake into the backlog; nobody ever reads the request.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  REQUIRE(listen(fd, 4) == 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);

  LdapConfig cfg;
  cfg.enabled = true;
  cfg.url = "ldap://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  cfg.user_base_dn = cfg.group_base_dn = "dc=vigil,dc=test";
  cfg.timeout = std::chrono::milliseconds(500);
  auto start = Clock::now();
  auto r = login(cfg, "alice", "some-password");
  auto elapsed = Clock::now() - start;
  close(fd);
  REQUIRE(r.error);
  CHECK(*r.error == LdapError::Unavailable);
  CHECK(elapsed < std::chrono::milliseconds(2000));
}
