#include "server/crypto/envelope.hpp"

#include <openssl/crypto.h>

#include <stdexcept>

#include "server/crypto/aes_gcm.hpp"
#include "server/crypto/random.hpp"

namespace vigil::crypto {

namespace {

constexpr std::string_view kCheckPlaintext = "vigil-master-key-check";

// Associated data binds each blob to its context, so a wrapped key or ciphertext copied onto
// another owner's row (or a different master key id) fails authentication. Key ids cannot
// contain '|' (the keyring refuses them), which keeps these strings unambiguous.
std::string dekAad(const std::string& keyId, const std::string& owner) {
  return "vigil-dek|" + keyId + "|" + owner;
}
std::string secretAad(const std::string& owner) { return "vigil-secret|" + owner; }
std::string checkAad(const std::string& keyId) { return "vigil-check|" + keyId; }

std::optional<SecureBytes> unwrapDataKey(const MasterKeyring& ring, const Envelope& env,
                                         const std::string& owner) {
  const SecureBytes* master = ring.key(env.master_key_id);
  if (master == nullptr) return std::nullopt;
  auto sealed = unpackSealed(env.wrapped_key);
  if (!sealed) return std::nullopt;
  auto dek = gcmDecrypt(*master, *sealed, dekAad(env.master_key_id, owner));
  if (!dek || dek->size() != kAesKeySize) return std::nullopt;
  return dek;
}

Bytes wrapDataKey(const MasterKeyring& ring, const SecureBytes& dek, const std::string& owner,
                  std::string& keyIdOut) {
  keyIdOut = ring.currentId();
  const SecureBytes* master = ring.key(keyIdOut);
  // The current key always exists once a keyring is loaded; anything else is a broken invariant.
  if (master == nullptr) throw std::runtime_error("master keyring: current key missing");
  return packSealed(gcmEncrypt(*master, dek.data(), dek.size(), dekAad(keyIdOut, owner)));
}

}  // namespace

Envelope EnvelopeCipher::seal(std::string_view plaintext, const std::string& owner) const {
  const SecureBytes dek = randomSecureBytes(kAesKeySize);
  Envelope env;
  env.ciphertext = packSealed(gcmEncrypt(dek, reinterpret_cast<const std::uint8_t*>(plaintext.data()),
                                         plaintext.size(), secretAad(owner)));
  env.wrapped_key = wrapDataKey(keyring_, dek, owner, env.master_key_id);
  return env;
}

std::optional<SecureString> EnvelopeCipher::open(const Envelope& env, const std::string& owner) const {
  auto dek = unwrapDataKey(keyring_, env, owner);
  if (!dek) return std::nullopt;
  auto sealed = unpackSealed(env.ciphertext);
  if (!sealed) return std::nullopt;
  auto plain = gcmDecrypt(*dek, *sealed, secretAad(owner));
  if (!plain) return std::nullopt;
  return SecureString(plain->begin(), plain->end());
}

std::optional<Envelope> EnvelopeCipher::rewrap(const Envelope& env, const std::string& owner) const {
  auto dek = unwrapDataKey(keyring_, env, owner);
  if (!dek) return std::nullopt;
  Envelope out;
  out.ciphertext = env.ciphertext;
  out.wrapped_key = wrapDataKey(keyring_, *dek, owner, out.master_key_id);
  return out;
}

Bytes makeKeyCheck(const SecureBytes& masterKey, const std::string& keyId) {
  return packSealed(gcmEncrypt(masterKey, reinterpret_cast<const std::uint8_t*>(kCheckPlaintext.data()),
                               kCheckPlaintext.size(), checkAad(keyId)));
}

bool verifyKeyCheck(const SecureBytes& masterKey, const std::string& keyId, const Bytes& check) {
  if (masterKey.size() != kAesKeySize) return false;
  auto sealed = unpackSealed(check);
  if (!sealed) return false;
  auto plain = gcmDecrypt(masterKey, *sealed, checkAad(keyId));
  return plain && plain->size() == kCheckPlaintext.size() &&
         CRYPTO_memcmp(plain->data(), kCheckPlaintext.data(), plain->size()) == 0;
}

}  // namespace vigil::crypto
