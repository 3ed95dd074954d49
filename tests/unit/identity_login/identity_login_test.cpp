// The identity login name shared by the SSH, PostgreSQL and RDP proxies, and RDP's password+TOTP.
#include <catch2/catch.hpp>

#include "protocols/net/identity_login.hpp"

using vigil::proto::IdentityLogin;
using vigil::proto::parseIdentityLogin;
using vigil::proto::splitTotpSuffix;

TEST_CASE("vigiluser%account%target splits into its three parts", "[identity]") {
  IdentityLogin id;
  REQUIRE(parseIdentityLogin("alice%administrator%win01.corp", id));
  CHECK(id.vigil_user == "alice");
  CHECK(id.account_user == "administrator");
  CHECK(id.target_name == "win01.corp");
}

TEST_CASE("anything else is not an identity login", "[identity]") {
  IdentityLogin id;
  for (const char* name : {"", "token-abc", "%root%web01", "alice%%web01", "alice%root%", "alice%root",
                           "alice%root%web01%extra", "%", "%%"}) {
    INFO(name);
    CHECK_FALSE(parseIdentityLogin(name, id));
  }
}

TEST_CASE("the TOTP code is the last six digits of what was typed in the password field", "[identity]") {
  std::string_view pw, code;
  REQUIRE(splitTotpSuffix("S3cret-pw123456", pw, code));
  CHECK(pw == "S3cret-pw");
  CHECK(code == "123456");
  CHECK_FALSE(splitTotpSuffix("123456", pw, code));      // no password before the code
  CHECK_FALSE(splitTotpSuffix("S3cret-pw12345", pw, code)); // five digits and a letter before
  CHECK_FALSE(splitTotpSuffix("S3cret-pw12a456", pw, code));
  CHECK_FALSE(splitTotpSuffix("", pw, code));
}
