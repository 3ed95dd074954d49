#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "server/crypto/aes_gcm.hpp"
#include "server/crypto/random.hpp"

using namespace vigil::crypto;

namespace {

SecureBytes secureHex(std::string_view hex) {
  const Bytes b = hexDecode(hex);
  return SecureBytes(b.begin(), b.end());
}

std::string hexOf(const Bytes& b) { return hexEncode(b.data(), b.size()); }

struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 13-16 (256-bit keys).
constexpr const char* kKey15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char* kIv15 = "cafebabefacedbaddecaf888";
const GcmVector kVectors[] = {
    {"test case 13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"test case 14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"test case 15", kKey15, kIv15,
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"test case 16", kKey15, kIv15,
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

std::string aadOf(const GcmVector& v) {
  const Bytes a = hexDecode(v.aad);
  return std::string(a.begin(), a.end());
}

}  // namespace

TEST_CASE("AES-256-GCM matches the GCM specification vectors 13-16", "[crypto][gcm]") {
  for (const auto& v : kVectors) {
    SECTION(v.name) {
      const SecureBytes key = secureHex(v.key);
      const Bytes plain = hexDecode(v.plaintext);
      const std::string aad = aadOf(v);

      const GcmSealed sealed = gcmEncrypt(key, hexDecode(v.iv), plain.data(), plain.size(), aad);
      CHECK(hexOf(sealed.nonce) == v.iv);
      CHECK(hexOf(sealed.ciphertext) == v.ciphertext);
      CHECK(hexOf(sealed.tag) == v.tag);

      const auto opened = gcmDecrypt(key, sealed, aad);
      REQUIRE(opened);
      CHECK(Bytes(opened->begin(), opened->end()) == plain);
    }
  }
}

TEST_CASE("AES-256-GCM refuses any tampering", "[crypto][gcm]") {
  const auto& v = kVectors[3];  // has both ciphertext and aad
  const SecureBytes key = secureHex(v.key);
  const std::string aad = aadOf(v);
  const GcmSealed good{hexDecode(v.iv), hexDecode(v.ciphertext), hexDecode(v.tag)};
  REQUIRE(gcmDecrypt(key, good, aad));

  SECTION("a flipped ciphertext bit") {
    for (std::size_t i = 0; i < good.ciphertext.size(); ++i) {
      GcmSealed bad = good;
      bad.ciphertext[i] ^= 0x01;
      CHECK_FALSE(gcmDecrypt(key, bad, aad));
    }
  }
  SECTION("a flipped tag bit") {
    for (std::size_t i = 0; i < good.tag.size(); ++i) {
      GcmSealed bad = good;
      bad.tag[i] ^= 0x80;
      CHECK_FALSE(gcmDecrypt(key, bad, aad));
    }
  }
  SECTION("a flipped nonce bit") {
    GcmSealed bad = good;
    bad.nonce[0] ^= 0x01;
    CHECK_FALSE(gcmDecrypt(key, bad, aad));
  }
  SECTION("different or missing associated data") {
    std::string other = aad;
    other[0] ^= 0x01;
    CHECK_FALSE(gcmDecrypt(key, good, other));
    CHECK_FALSE(gcmDecrypt(key, good, ""));
    CHECK_FALSE(gcmDecrypt(key, good, aad + "x"));
  }
  SECTION("another key") {
    SecureBytes otherKey = key;
    otherKey[31] ^= 0x01;
    CHECK_FALSE(gcmDecrypt(otherKey, good, aad));
  }
  SECTION("a truncated ciphertext") {
    GcmSealed bad = good;
    bad.ciphertext.pop_back();
    CHECK_FALSE(gcmDecrypt(key, bad, aad));
  }
}

TEST_CASE("AES-256-GCM throws invalid_argument only for a bad key or nonce size", "[crypto][gcm]") {
  const SecureBytes key(32, 0x11);
  const std::uint8_t data[4] = {1, 2, 3, 4};
  CHECK_THROWS_AS(gcmEncrypt(SecureBytes(16, 0), data, sizeof data, ""), std::invalid_argument);
  CHECK_THROWS_AS(gcmEncrypt(key, Bytes(16, 0), data, sizeof data, ""), std::invalid_argument);
  CHECK_THROWS_AS(gcmEncrypt(key, Bytes(), data, sizeof data, ""), std::invalid_argument);
  const GcmSealed sealed = gcmEncrypt(key, data, sizeof data, "a");
  CHECK_THROWS_AS(gcmDecrypt(SecureBytes(31, 0), sealed, "a"), std::invalid_argument);
  GcmSealed shortNonce = sealed;
  shortNonce.nonce.pop_back();
  CHECK_FALSE(gcmDecrypt(key, shortNonce, "a"));
}

TEST_CASE("random-nonce encryption never repeats a nonce and round-trips", "[crypto][gcm]") {
  const SecureBytes key = randomSecureBytes(32);
  const std::string msg = "the same message twice";
  const auto* p = reinterpret_cast<const std::uint8_t*>(msg.data());
  const GcmSealed a = gcmEncrypt(key, p, msg.size(), "ctx");
  const GcmSealed b = gcmEncrypt(key, p, msg.size(), "ctx");
  CHECK(a.nonce.size() == kGcmNonceSize);
  CHECK(a.nonce != b.nonce);
  CHECK(a.ciphertext != b.ciphertext);
  const auto opened = gcmDecrypt(key, b, "ctx");
  REQUIRE(opened);
  CHECK(std::string(opened->begin(), opened->end()) == msg);
}

TEST_CASE("packSealed and unpackSealed round-trip", "[crypto][gcm]") {
  const SecureBytes key = randomSecureBytes(32);
  for (std::size_t len : {0u, 1u, 15u, 16u, 17u, 1000u}) {
    const Bytes plain = randomBytes(len);
    const Bytes blob = packSealed(gcmEncrypt(key, plain.data(), plain.size(), "aad"));
    CHECK(blob.size() == kGcmNonceSize + len + kGcmTagSize);
    const auto sealed = unpackSealed(blob);
    REQUIRE(sealed);
    const auto opened = gcmDecrypt(key, *sealed, "aad");
    REQUIRE(opened);
    CHECK(Bytes(opened->begin(), opened->end()) == plain);
  }
}

TEST_CASE("truncated sealed blobs of every length 0..40 are refused without crashing",
          "[crypto][gcm][hostile]") {
  const SecureBytes key = randomSecureBytes(32);
  const Bytes plain(12, 0x42);  // packed blob is 40 bytes
  const Bytes blob = packSealed(gcmEncrypt(key, plain.data(), plain.size(), "aad"));
  REQUIRE(blob.size() == 40);
  REQUIRE(gcmDecrypt(key, *unpackSealed(blob), "aad"));

  for (std::size_t len = 0; len < blob.size(); ++len) {
    INFO("prefix length " << len);
    const Bytes prefix(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(len));
    const auto sealed = unpackSealed(prefix);
    if (len < kGcmNonceSize + kGcmTagSize) {
      CHECK_FALSE(sealed);
    } else {
      REQUIRE(sealed);
      CHECK_FALSE(gcmDecrypt(key, *sealed, "aad"));
    }
    // Arbitrary bytes of the same length must fail too.
    const auto junk = unpackSealed(randomBytes(len));
    if (junk) CHECK_FALSE(gcmDecrypt(key, *junk, "aad"));
  }
  for (std::size_t len = 0; len <= 40; ++len) {
    const auto zeros = unpackSealed(Bytes(len, 0));
    if (zeros) CHECK_FALSE(gcmDecrypt(key, *zeros, "aad"));
  }
}
