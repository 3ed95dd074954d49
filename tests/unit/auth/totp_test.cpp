#include <catch2/catch.hpp>

#include <string>

#include "server/auth/totp.hpp"

using namespace vigil::auth;
using vigil::crypto::SecureBytes;

namespace {

SecureBytes ascii(std::string_view s) { return SecureBytes(s.begin(), s.end()); }

std::string b32(std::string_view s) {
  return base32Encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

std::string decoded(std::string_view text) {
  const auto d = base32Decode(text);
  REQUIRE(d);
  return std::string(d->begin(), d->end());
}

const SecureBytes kSha1Seed = ascii("12345678901234567890");

}  // namespace

TEST_CASE("TOTP matches every RFC 6238 appendix B vector", "[auth][totp]") {
  const SecureBytes sha1 = kSha1Seed;
  const SecureBytes sha256 = ascii("12345678901234567890123456789012");
  const SecureBytes sha512 =
      ascii("1234567890123456789012345678901234567890123456789012345678901234");
  struct Row {
    std::uint64_t time;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const Row rows[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000ULL, "65353130", "77737706", "47863826"},
  };
  for (const auto& r : rows) {
    INFO("T = " << r.time);
    const std::uint64_t step = r.time / 30;
    CHECK(totpCode(sha1, step, 8, "SHA1") == r.sha1);
    CHECK(totpCode(sha256, step, 8, "SHA256") == r.sha256);
    CHECK(totpCode(sha512, step, 8, "SHA512") == r.sha512);
    // Six digits are the low six of the eight.
    CHECK(totpCode(sha1, step) == std::string(r.sha1).substr(2));
  }
}

TEST_CASE("totpCode refuses unsupported digits and algorithms", "[auth][totp]") {
  CHECK_THROWS_AS(totpCode(kSha1Seed, 1, 5), std::invalid_argument);
  CHECK_THROWS_AS(totpCode(kSha1Seed, 1, 9), std::invalid_argument);
  CHECK_THROWS_AS(totpCode(kSha1Seed, 1, 6, "MD5"), std::invalid_argument);
  CHECK(totpCode(kSha1Seed, 1, 7).size() == 7);
}

TEST_CASE("a code from the previous, current or next step is accepted", "[auth][totp]") {
  const std::uint64_t now = 1111111111;
  const std::uint64_t step = now / 30;
  for (int delta : {-1, 0, 1}) {
    const std::uint64_t s = step + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
    const auto got = verifyTotp(kSha1Seed, totpCode(kSha1Seed, s), now, std::nullopt);
    REQUIRE(got);
    CHECK(*got == s);
  }
}

TEST_CASE("a code two steps away is refused", "[auth][totp]") {
  const std::uint64_t now = 1111111111;
  const std::uint64_t step = now / 30;
  CHECK_FALSE(verifyTotp(kSha1Seed, totpCode(kSha1Seed, step - 2), now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, totpCode(kSha1Seed, step + 2), now, std::nullopt));
}

TEST_CASE("a used code or an older step is refused (no replay)", "[auth][totp]") {
  const std::uint64_t now = 1234567890;
  const std::uint64_t step = now / 30;
  const std::string code = totpCode(kSha1Seed, step);
  const auto used = verifyTotp(kSha1Seed, code, now, std::nullopt);
  REQUIRE(used);
  CHECK_FALSE(verifyTotp(kSha1Seed, code, now, used));
  CHECK_FALSE(verifyTotp(kSha1Seed, code, now + 10, used));
  CHECK_FALSE(verifyTotp(kSha1Seed, totpCode(kSha1Seed, step - 1), now, used));
  CHECK(verifyTotp(kSha1Seed, code, now, step - 1) == step);
  CHECK(verifyTotp(kSha1Seed, totpCode(kSha1Seed, step + 1), now, used) == step + 1);
}

TEST_CASE("codes that are not exactly six ASCII digits are refused", "[auth][totp]") {
  const std::uint64_t now = 1234567890;
  const std::string code = totpCode(kSha1Seed, now / 30);
  CHECK(verifyTotp(kSha1Seed, code, now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, code.substr(0, 5), now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, code + "0", now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, "", now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, " " + code.substr(1), now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, code.substr(0, 5) + "a", now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, "+" + code.substr(1), now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, std::string(1, '\0') + code.substr(1), now, std::nullopt));
  CHECK_FALSE(verifyTotp(kSha1Seed, code, now, std::nullopt, 0));
  CHECK_FALSE(verifyTotp(SecureBytes(), code, now, std::nullopt));
}

TEST_CASE("verification near the epoch does not wrap to a huge step", "[auth][totp]") {
  const auto got = verifyTotp(kSha1Seed, totpCode(kSha1Seed, 0), 5, std::nullopt);
  REQUIRE(got);
  CHECK(*got == 0);
}

TEST_CASE("base32 matches the RFC 4648 vectors without padding", "[auth][base32]") {
  CHECK(b32("") == "");
  CHECK(b32("f") == "MY");
  CHECK(b32("fo") == "MZXQ");
  CHECK(b32("foo") == "MZXW6");
  CHECK(b32("foob") == "MZXW6YQ");
  CHECK(b32("fooba") == "MZXW6YTB");
  CHECK(b32("foobar") == "MZXW6YTBOI");
  CHECK(decoded("MY") == "f");
  CHECK(decoded("MY======") == "f");
  CHECK(decoded("MZXW6YTBOI") == "foobar");
  CHECK(decoded("MZXW6YTBOI======") == "foobar");
  CHECK(decoded("") == "");
}

TEST_CASE("base32 decoding accepts lowercase and spaces", "[auth][base32]") {
  CHECK(decoded("mzxw6ytboi") == "foobar");
  CHECK(decoded("MZXW 6YTB OI") == "foobar");
  CHECK(decoded(" mzXw 6ytb oi ") == "foobar");
}

TEST_CASE("base32 decoding refuses invalid characters and impossible lengths", "[auth][base32]") {
  for (const char* bad : {"MZXW6YTB0I", "MZXW6YTB1I", "MZXW8", "MZ-XW", "MZ=XW", "M", "MZX",
                          "MZXW6Y", "MZXW\t6YTB"}) {
    INFO(bad);
    CHECK_FALSE(base32Decode(bad));
  }
}

TEST_CASE("new TOTP secrets are 160-bit base32 and unique", "[auth][totp]") {
  const auto a = newTotpSecret();
  const auto b = newTotpSecret();
  CHECK(a.size() == 32);
  CHECK(a != b);
  const auto raw = base32Decode(std::string_view(a.data(), a.size()));
  REQUIRE(raw);
  CHECK(raw->size() == 20);
}

TEST_CASE("otpauth URIs percent-encode issuer and account", "[auth][totp]") {
  CHECK(otpauthUri("Vigil", "alice", "JBSWY3DPEHPK3PXP") ==
        "otpauth://totp/Vigil:alice?secret=JBSWY3DPEHPK3PXP&issuer=Vigil&algorithm=SHA1&digits=6&period=30");
  const std::string uri = otpauthUri("ACME Corp: PAM", "bob@example.org/é", "MZXW6");
  CHECK(uri.rfind("otpauth://totp/ACME%20Corp%3A%20PAM:bob%40example.org%2F%C3%A9?secret=MZXW6&", 0) == 0);
  CHECK(uri.find("&issuer=ACME%20Corp%3A%20PAM&") != std::string::npos);
  CHECK(otpauthUri("a&b", "c?d", "X").find("a%26b:c%3Fd?") != std::string::npos);
}
