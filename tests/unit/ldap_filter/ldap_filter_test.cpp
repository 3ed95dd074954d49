#include <catch2/catch.hpp>

#include "server/auth/ldap_filter.hpp"

using vigil::auth::escapeFilterValue;
using vigil::auth::expandFilter;
using namespace std::string_literals;

TEST_CASE("escapeFilterValue escapes the RFC 4515 specials") {
  CHECK(escapeFilterValue("*") == "\\2a");
  CHECK(escapeFilterValue("(") == "\\28");
  CHECK(escapeFilterValue(")") == "\\29");
  CHECK(escapeFilterValue("\\") == "\\5c");
  CHECK(escapeFilterValue("\0"s) == "\\00");
  CHECK(escapeFilterValue("a\0b"s) == "a\\00b");
}

TEST_CASE("escapeFilterValue keeps ordinary values") {
  CHECK(escapeFilterValue("") == "");
  CHECK(escapeFilterValue("alice.smith-1_x@example.org") == "alice.smith-1_x@example.org");
  CHECK(escapeFilterValue("Zoë 日本") == "Zoë 日本");  // UTF-8 is valid in filter values
  CHECK(escapeFilterValue("a=b,c") == "a=b,c");
}

TEST_CASE("escapeFilterValue neutralises injection attempts") {
  CHECK(escapeFilterValue("*)(uid=*") == "\\2a\\29\\28uid=\\2a");
  CHECK(escapeFilterValue("alice)(|(uid=*") == "alice\\29\\28|\\28uid=\\2a");
  // An escape sequence in the input must not survive as one.
  CHECK(escapeFilterValue("\\2a") == "\\5c2a");
}

TEST_CASE("escapeFilterValue escapes DNs used as assertion values") {
  CHECK(escapeFilterValue("cn=Smith\\, John (ops),ou=people,dc=x") ==
        "cn=Smith\\5c, John \\28ops\\29,ou=people,dc=x");
}

TEST_CASE("expandFilter substitutes escaped values") {
  CHECK(expandFilter("(uid={username})", {{"username", "bob"}}) == "(uid=bob)");
  CHECK(expandFilter("(uid={username})", {{"username", "*"}}) == "(uid=\\2a)");
  CHECK(expandFilter("(|(member={dn})(memberUid={username}))",
                     {{"dn", "uid=a(1),dc=x"}, {"username", "a(1)"}}) ==
        "(|(member=uid=a\\281\\29,dc=x)(memberUid=a\\281\\29))");
  CHECK(expandFilter("(|(cn={username})(mail={username}))", {{"username", "x"}}) ==
        "(|(cn=x)(mail=x))");
}

TEST_CASE("expandFilter is a single pass and keeps unknown placeholders") {
  // A value that looks like a placeholder must not be expanded again.
  CHECK(expandFilter("(&(uid={username})(member={dn}))", {{"username", "{dn}"}, {"dn", "D"}}) ==
        "(&(uid={dn})(member=D))");
  CHECK(expandFilter("(x={other})", {{"username", "u"}}) == "(x={other})");
  CHECK(expandFilter("({{username})", {{"username", "u"}}) == "({u)");
  CHECK(expandFilter("(uid={username", {{"username", "u"}}) == "(uid={username");
  CHECK(expandFilter("", {{"username", "u"}}) == "");
}
