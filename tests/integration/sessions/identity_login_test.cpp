// Identity logins at the proxy ("alice%root%web01"): the person's Vigil password or a
// registered public key, TOTP when enrolled, the same lockout as the portal, one message for
// every credential failure.
#include <ctime>

#include "server/auth/totp.hpp"
#include "sessions_env.hpp"
#include "support/vigil_server.hpp"

using namespace sessions_test;
using Status = vigil::proto::Grant::Status;
using vigil::proto::IdentityLogin;

namespace {

/// Generates an SSH key pair with ssh-keygen in a fresh directory; returns the public key line.
std::string generatePublicKey(const std::string& type, const std::string& bits = "") {
  const std::string dir = vigil::test::makeTempDir("vigil-keys");
  auto r = vigil::test::runCommand("ssh-keygen -q -N '' -t " + type + (bits.empty() ? "" : " -b " + bits) +
                                   " -C test@example -f " + dir + "/id");
  REQUIRE(r.exit_code == 0);
  auto pub = vigil::test::runCommand("cat " + dir + "/id.pub").output;
  std::filesystem::remove_all(dir);
  while (!pub.empty() && pub.back() == '\n') pub.pop_back();
  return pub;
}

}  // namespace

TEST_CASE("an identity login with the right password opens the named account", "[integration][sessions][identity]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto g = e.gk().loginWithPassword({u.u.username, "root", f.target.name}, u.password, "", sshClient());
  INFO(g.message);
  REQUIRE(g.status == Status::Ok);
  CHECK(g.account_id == f.account.id);
  CHECK(g.username == u.u.username);
}

TEST_CASE("wrong passwords, unknown users and unknown accounts are refused with clear messages",
          "[integration][sessions][identity]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(f.safe.id, u.u.id, {"connect"});

  auto wrong = e.gk().loginWithPassword({u.u.username, "root", f.target.name}, "not-the-password", "", sshClient());
  CHECK(wrong.status == Status::Denied);
  CHECK(wrong.message == "invalid user name or password");
  CHECK(e.store().userById(u.u.id)->failed_logins == 1);
  CHECK(e.lastAudit("session_refused", "bad_password"));

  auto nobody = e.gk().loginWithPassword({"nobody-" + uniq("x"), "root", f.target.name}, "pw", "", sshClient());
  CHECK(nobody.status == Status::Denied);
  CHECK(nobody.message == wrong.message);  // never says which users exist
  CHECK(e.lastAudit("session_refused", "unknown_user"));

  auto noacct = e.gk().loginWithPassword({u.u.username, "oracle", f.target.name}, u.password, "", sshClient());
  CHECK(noacct.status == Status::Denied);
  CHECK(noacct.message == "no account oracle on target " + f.target.name);
  // A right password resets the failure count, as a portal login does.
  CHECK(e.store().userById(u.u.id)->failed_logins == 0);
}

TEST_CASE("repeated wrong passwords at the proxy lock the user as in the portal", "[integration][sessions][identity]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  IdentityLogin login{u.u.username, "root", f.target.name};
  for (int i = 0; i < 5; ++i) e.gk().loginWithPassword(login, "wrong", "", sshClient());
  CHECK(e.store().userById(u.u.id)->lockout_active);
  auto g = e.gk().loginWithPassword(login, u.password, "", sshClient());
  CHECK(g.status == Status::Denied);
  CHECK(g.message == "your Vigil user is locked");
  auto lockedWrong = e.gk().loginWithPassword(login, "wrong", "", sshClient());
  CHECK(lockedWrong.message == "invalid user name or password");
  e.store().clearLockout(u.u.id);
  CHECK(e.gk().loginWithPassword(login, u.password, "", sshClient()).status == Status::Ok);
}

TEST_CASE("a user with TOTP is asked for the code, a wrong code counts as a failure, a right one passes",
          "[integration][sessions][identity][totp]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  auto enr = e.auth().beginMfaEnrollment(u.u, "127.0.0.1");
  REQUIRE(enr);
  auto key = vigil::auth::base32Decode(std::string_view(enr->secret_base32.data(), enr->secret_base32.size()));
  REQUIRE(key);
  const std::uint64_t step = static_cast<std::uint64_t>(std::time(nullptr)) / 30;
  REQUIRE(e.auth().confirmMfaEnrollment(u.u, vigil::auth::totpCode(*key, step), "127.0.0.1"));

  IdentityLogin login{u.u.username, "root", f.target.name};
  auto need = e.gk().loginWithPassword(login, u.password, "", sshClient());
  CHECK(need.status == Status::NeedTotp);
  // The password is checked before TOTP is asked for.
  CHECK(e.gk().loginWithPassword(login, "wrong", "", sshClient()).status == Status::Denied);

  auto bad = e.gk().loginWithPassword(login, u.password, "000000", sshClient());
  CHECK(bad.status == Status::Denied);
  CHECK(bad.message == "invalid TOTP code");
  CHECK(e.lastAudit("session_refused", "bad_totp"));
  CHECK(e.store().userById(u.u.id)->failed_logins == 2);

  // The enrolment used this step's code; the next step's code is valid and new.
  auto ok = e.gk().loginWithPassword(login, u.password, vigil::auth::totpCode(*key, step + 1), sshClient());
  INFO(ok.message);
  CHECK(ok.status == Status::Ok);
  // The same code again is a replay.
  auto replay = e.gk().loginWithPassword(login, u.password, vigil::auth::totpCode(*key, step + 1), sshClient());
  CHECK(replay.status == Status::Denied);
}

TEST_CASE("a public key registered through the API logs its owner in", "[integration][sessions][identity][keys]") {
  auto& e = env();
  auto f = e.fixture();
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  const std::string pub = generatePublicKey("ed25519");
  auto r = u.http->post("/api/v1/me/ssh-keys", json{{"public_key", pub}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  const std::string fp = r.json()["fingerprint"];

  CHECK(e.gk().userHasPublicKey(u.u.username, fp));
  CHECK_FALSE(e.gk().userHasPublicKey(e.admin().u.username, fp));
  CHECK_FALSE(e.gk().userHasPublicKey(u.u.username, "SHA256:AAAA"));

  IdentityLogin login{u.u.username, "root", f.target.name};
  auto g = e.gk().loginWithPublicKey(login, fp, "", sshClient());
  INFO(g.message);
  CHECK(g.status == Status::Ok);
  auto other = e.makeUser({"admin"}, false);
  auto g2 = e.gk().loginWithPublicKey({other.u.username, "root", f.target.name}, fp, "", sshClient());
  CHECK(g2.status == Status::Denied);
  CHECK(g2.message == "invalid user name or password");
  CHECK(e.lastAudit("session_refused", "unknown_key"));
}
