#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "keyring_fixture.hpp"
#include "server/crypto/aes_gcm.hpp"
#include "server/crypto/envelope.hpp"

using namespace vigil::crypto;
using namespace vigil::crypto::test;

namespace {

bool contains(const Bytes& hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

std::string str(const SecureString& s) { return std::string(s.begin(), s.end()); }

}  // namespace

TEST_CASE("a sealed secret opens for its owner", "[crypto][envelope]") {
  TempDir dir;
  auto ring = MasterKeyring::create(dir / "master.key");
  const EnvelopeCipher cipher(ring);
  for (const std::string& secret : {std::string(), std::string("p"), std::string("hunter2-correct-horse"),
                                   std::string(5000, 'x'), std::string("\0\x01\xff", 3)}) {
    const Envelope env = cipher.seal(secret, "account:42");
    CHECK(env.master_key_id == ring.currentId());
    const auto opened = cipher.open(env, "account:42");
    REQUIRE(opened);
    CHECK(str(*opened) == secret);
  }
  CHECK(&cipher.keyring() == &ring);
}

TEST_CASE("ciphertext and wrapped key do not contain the plaintext", "[crypto][envelope]") {
  TempDir dir;
  auto ring = MasterKeyring::create(dir / "master.key");
  const EnvelopeCipher cipher(ring);
  const std::string secret = "SuperSecretPassword-1234567890";
  const Envelope env = cipher.seal(secret, "account:7");
  CHECK_FALSE(contains(env.ciphertext, secret));
  CHECK_FALSE(contains(env.wrapped_key, secret));
  CHECK_FALSE(contains(env.ciphertext, secret.substr(0, 8)));
  // Two seals of the same secret share nothing (fresh data key and nonces).
  const Envelope again = cipher.seal(secret, "account:7");
  CHECK(again.ciphertext != env.ciphertext);
  CHECK(again.wrapped_key != env.wrapped_key);
}

TEST_CASE("a secret does not open for another owner", "[crypto][envelope]") {
  TempDir dir;
  auto ring = MasterKeyring::create(dir / "master.key");
  const EnvelopeCipher cipher(ring);
  const Envelope env = cipher.seal("secret", "account:42");
  CHECK_FALSE(cipher.open(env, "account:43"));
  CHECK_FALSE(cipher.open(env, "account:4"));
  CHECK_FALSE(cipher.open(env, ""));
  CHECK_FALSE(cipher.rewrap(env, "account:43"));

  // Swapping in another owner's blobs fails too.
  const Envelope other = cipher.seal("other", "account:43");
  Envelope mixed = env;
  mixed.wrapped_key = other.wrapped_key;
  CHECK_FALSE(cipher.open(mixed, "account:42"));
  CHECK_FALSE(cipher.open(mixed, "account:43"));
}

TEST_CASE("tampered envelopes fail to open", "[crypto][envelope]") {
  TempDir dir;
  auto ring = MasterKeyring::create(dir / "master.key");
  const EnvelopeCipher cipher(ring);
  const Envelope env = cipher.seal("secret value", "account:1");

  for (std::size_t i = 0; i < env.ciphertext.size(); ++i) {
    Envelope bad = env;
    bad.ciphertext[i] ^= 0x01;
    CHECK_FALSE(cipher.open(bad, "account:1"));
  }
  for (std::size_t i = 0; i < env.wrapped_key.size(); ++i) {
    Envelope bad = env;
    bad.wrapped_key[i] ^= 0x01;
    CHECK_FALSE(cipher.open(bad, "account:1"));
  }
  for (std::size_t len = 0; len < env.wrapped_key.size(); ++len) {
    Envelope bad = env;
    bad.wrapped_key.resize(len);
    CHECK_FALSE(cipher.open(bad, "account:1"));
    bad = env;
    bad.ciphertext.resize(std::min(len, env.ciphertext.size() - 1));
    CHECK_FALSE(cipher.open(bad, "account:1"));
  }
  Envelope unknownKey = env;
  unknownKey.master_key_id = "nope";
  CHECK_FALSE(cipher.open(unknownKey, "account:1"));
}

TEST_CASE("rewrap after addKey moves the data key to the new master key", "[crypto][envelope]") {
  TempDir dir;
  auto ring = MasterKeyring::create(dir / "master.key");
  const EnvelopeCipher cipher(ring);
  const std::string oldId = ring.currentId();
  const Envelope env = cipher.seal("rotate me", "account:9");

  const std::string newId = ring.addKey();
  const auto rewrapped = cipher.rewrap(env, "account:9");
  REQUIRE(rewrapped);
  CHECK(rewrapped->master_key_id == newId);
  CHECK(rewrapped->ciphertext == env.ciphertext);
  CHECK(rewrapped->wrapped_key != env.wrapped_key);

  ring.retireOldKeys();
  CHECK(ring.key(oldId) == nullptr);
  const auto opened = cipher.open(*rewrapped, "account:9");
  REQUIRE(opened);
  CHECK(str(*opened) == "rotate me");
  CHECK_FALSE(cipher.open(env, "account:9"));  // old master key is gone

  // A fresh process with only the new keyring file opens it as well.
  auto fresh = MasterKeyring::load(dir / "master.key");
  CHECK(EnvelopeCipher(fresh).open(*rewrapped, "account:9"));
}

TEST_CASE("a key check value proves the right master key", "[crypto][envelope]") {
  const SecureBytes key = randomSecureBytes(32);
  const Bytes check = makeKeyCheck(key, "k1");
  CHECK(check.size() == kGcmNonceSize + std::string_view("vigil-master-key-check").size() + kGcmTagSize);
  CHECK(verifyKeyCheck(key, "k1", check));
  CHECK_FALSE(verifyKeyCheck(key, "k2", check));
  CHECK_FALSE(verifyKeyCheck(randomSecureBytes(32), "k1", check));
  CHECK_FALSE(verifyKeyCheck(SecureBytes(16, 0), "k1", check));
  Bytes bad = check;
  bad.back() ^= 0x01;
  CHECK_FALSE(verifyKeyCheck(key, "k1", bad));
  for (std::size_t len = 0; len < check.size(); ++len)
    CHECK_FALSE(verifyKeyCheck(key, "k1", Bytes(check.begin(), check.begin() + static_cast<std::ptrdiff_t>(len))));
}
