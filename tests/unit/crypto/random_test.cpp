#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>

#include "server/crypto/random.hpp"

using namespace vigil::crypto;

namespace {

std::string b64(std::string_view s) {
  return base64Encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST_CASE("random bytes have the requested length and differ between calls", "[crypto][random]") {
  CHECK(randomBytes(0).empty());
  CHECK(randomBytes(33).size() == 33);
  CHECK(randomSecureBytes(32).size() == 32);
  std::set<Bytes> seen;
  for (int i = 0; i < 100; ++i) seen.insert(randomBytes(16));
  CHECK(seen.size() == 100);
}

TEST_CASE("random tokens are unpadded base64url of n bytes", "[crypto][random]") {
  const std::string t = randomToken(32);
  CHECK(t.size() == 43);
  for (char c : t) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    CHECK(ok);
  }
  CHECK(randomToken(32) != t);
}

TEST_CASE("base64 matches the RFC 4648 vectors", "[crypto][base64]") {
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("fooba") == "Zm9vYmE=");
  CHECK(b64("foobar") == "Zm9vYmFy");
  CHECK(str(base64Decode("")) == "");
  CHECK(str(base64Decode("Zg==")) == "f");
  CHECK(str(base64Decode("Zm8=")) == "fo");
  CHECK(str(base64Decode("Zm9vYmFy")) == "foobar");
}

TEST_CASE("base64 and base64url round-trip every length and byte value", "[crypto][base64]") {
  for (std::size_t len = 0; len <= 70; ++len) {
    const Bytes data = randomBytes(len);
    CHECK(base64Decode(base64Encode(data.data(), data.size())) == data);
    const std::string url = base64UrlEncode(data.data(), data.size());
    CHECK(url.find_first_of("+/=") == std::string::npos);
  }
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  CHECK(base64Decode(base64Encode(all.data(), all.size())) == all);
  const std::uint8_t hi[] = {0xfb, 0xff, 0xbf};
  CHECK(base64Encode(hi, 3) == "+/+/");
  CHECK(base64UrlEncode(hi, 3) == "-_-_");
  CHECK(base64UrlEncode(hi, 1) == "-w");
}

TEST_CASE("malformed base64 is refused with invalid_argument", "[crypto][base64]") {
  for (const char* bad : {"Zg", "Zg=", "Zm9vY", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zm 9v",
                          " Zm9v", "Zm9v\n", "Zm9-", "Zm9_"}) {
    INFO(bad);
    CHECK_THROWS_AS(base64Decode(bad), std::invalid_argument);
  }
}

TEST_CASE("hex round-trips and refuses bad input", "[crypto][hex]") {
  const std::uint8_t data[] = {0x00, 0x01, 0xab, 0xff};
  CHECK(hexEncode(data, 4) == "0001abff");
  CHECK(hexDecode("0001abff") == Bytes(data, data + 4));
  CHECK(hexDecode("0001ABFF") == Bytes(data, data + 4));
  CHECK(hexDecode("").empty());
  CHECK_THROWS_AS(hexDecode("abc"), std::invalid_argument);
  CHECK_THROWS_AS(hexDecode("zz"), std::invalid_argument);
  CHECK_THROWS_AS(hexDecode("0x00"), std::invalid_argument);
  const Bytes r = randomBytes(50);
  CHECK(hexDecode(hexEncode(r.data(), r.size())) == r);
}

TEST_CASE("sha256 matches the FIPS 180 examples", "[crypto][hash]") {
  const Bytes empty = sha256("");
  CHECK(hexEncode(empty.data(), empty.size()) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const Bytes abc = sha256("abc");
  CHECK(hexEncode(abc.data(), abc.size()) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("constantTimeEqual compares contents and length", "[crypto][random]") {
  CHECK(constantTimeEqual("", ""));
  CHECK(constantTimeEqual("abc", "abc"));
  CHECK_FALSE(constantTimeEqual("abc", "abd"));
  CHECK_FALSE(constantTimeEqual("abc", "ab"));
  CHECK_FALSE(constantTimeEqual("", "a"));
  CHECK(constantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  CHECK_FALSE(constantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}
