#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "server/auth/password.hpp"

using namespace vigil::auth;

namespace {

const Argon2Params kFast{1, 1024, 1};  // keeps the suite quick; defaults are tested once below

}  // namespace

TEST_CASE("a password hash verifies the password and nothing else", "[auth][argon2]") {
  const std::string encoded = hashPassword("correct horse battery staple", kFast);
  CHECK(encoded.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0) == 0);
  CHECK(encoded.find("correct") == std::string::npos);
  CHECK(verifyPassword("correct horse battery staple", encoded));
  CHECK_FALSE(verifyPassword("correct horse battery stapl", encoded));
  CHECK_FALSE(verifyPassword("Correct horse battery staple", encoded));
  CHECK_FALSE(verifyPassword("", encoded));
}

TEST_CASE("two hashes of the same password differ by salt", "[auth][argon2]") {
  const std::string a = hashPassword("same password here", kFast);
  const std::string b = hashPassword("same password here", kFast);
  CHECK(a != b);
  CHECK(verifyPassword("same password here", a));
  CHECK(verifyPassword("same password here", b));
}

TEST_CASE("malformed or foreign hashes do not verify and do not crash", "[auth][argon2]") {
  const std::string good = hashPassword("pw-pw-pw-pw-pw", kFast);
  std::set<std::string> bad = {
      "",
      "$",
      "$argon2id$",
      "$argon2id$v=19$m=1024,t=1,p=1$",
      "$argon2id$v=19$m=1024,t=1,p=1$$",
      "$argon2id$v=19$m=abc,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
      "$argon2id$v=19$m=1024,t=1,p=1$!!!!$@@@@",
      "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$2b$12$abcdefghijklmnopqrstuuJ6gk3k5mUPw1A4HMRb2rHh6m9dkS7Cy",
      "plaintext-password",
      std::string(5000, '$'),
      good.substr(0, good.size() - 5),
      good + "AAAA",
      std::string("$argon2id$\0junk", 15),
  };
  std::string flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  bad.insert(flipped);
  for (const auto& encoded : bad) {
    INFO(encoded.substr(0, 60));
    CHECK_FALSE(verifyPassword("pw-pw-pw-pw-pw", encoded));
  }
}

TEST_CASE("the default Argon2id parameters hash and verify", "[auth][argon2][slow]") {
  const std::string encoded = hashPassword("default-params-password");
  CHECK(encoded.rfind("$argon2id$v=19$m=65536,t=3,p=1$", 0) == 0);
  CHECK(verifyPassword("default-params-password", encoded));
  CHECK_FALSE(verifyPassword("default-params-passwore", encoded));
}

TEST_CASE("generated passwords have the requested length and an unambiguous alphabet",
          "[auth][password]") {
  const std::string allowed = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";
  CHECK(generatePassword().size() == 20);
  CHECK(generatePassword(64).size() == 64);
  CHECK(generatePassword(0).empty());
  std::set<char> seen;
  std::set<std::string> distinct;
  for (int i = 0; i < 200; ++i) {
    const std::string p = generatePassword();
    distinct.insert(p);
    for (char c : p) {
      CHECK(allowed.find(c) != std::string::npos);
      seen.insert(c);
    }
    CHECK(passwordPolicyViolation(p).empty());
  }
  CHECK(distinct.size() == 200);
  CHECK(seen.size() == allowed.size());  // 4000 draws over 55 symbols reach them all
  for (char c : std::string("0O1lIio")) CHECK(seen.count(c) == 0);
}

TEST_CASE("the password policy names what is wrong", "[auth][password]") {
  CHECK(passwordPolicyViolation("twelve chars").empty());
  CHECK(passwordPolicyViolation("correct horse battery staple").empty());
  CHECK_FALSE(passwordPolicyViolation("").empty());
  CHECK_FALSE(passwordPolicyViolation("eleven char").empty());
  CHECK(passwordPolicyViolation("eleven char").find("12") != std::string::npos);
  CHECK_FALSE(passwordPolicyViolation("aaaaaaaaaaaaaaaa").empty());
  CHECK_FALSE(passwordPolicyViolation("ééééééééééééé").empty());
  // Characters, not bytes: 12 two-byte characters pass, 11 do not.
  CHECK(passwordPolicyViolation("ééééééééééé\xc3\xa8").empty());
  CHECK_FALSE(passwordPolicyViolation("éééééééééé\xc3\xa8").empty());
  CHECK(passwordPolicyViolation(std::string(1024, 'a') .replace(0, 1, "b")).empty());
  CHECK_FALSE(passwordPolicyViolation(std::string(1025, 'a').replace(0, 1, "b")).empty());
  CHECK(passwordPolicyViolation(std::string(1025, 'a').replace(0, 1, "b")).find("1024") !=
        std::string::npos);
}

TEST_CASE("the password policy refuses invalid UTF-8", "[auth][password]") {
  const std::string base = "valid prefix ";
  for (const std::string& bad :
       {std::string("\xff"), std::string("\xc3"), std::string("\xc0\xaf"), std::string("\xe0\x80\xaf"),
        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"), std::string("\x80"),
        std::string("\xe2\x82")}) {
    CHECK(passwordPolicyViolation(base + bad).find("UTF-8") != std::string::npos);
  }
  CHECK(passwordPolicyViolation(base + "\xf0\x9f\x94\x92").empty());  // 4-byte emoji is fine
}
