#pragma once
// Envelope encryption for vault secrets: a random 256-bit data key per secret encrypts the
// secret with AES-256-GCM (associated data = the owner's id, e.g. "account:42"); the data key
// is itself wrapped with AES-256-GCM under the current master key (associated data = key id +
// owner id). Only ciphertext ever leaves this module.
#include <optional>
#include <string>

#include "server/crypto/master_keyring.hpp"

namespace vigil::crypto {

struct Envelope {
  std::string master_key_id;
  Bytes wrapped_key;  // packSealed(data key under master key)
  Bytes ciphertext;   // packSealed(secret under data key)
};

class EnvelopeCipher {
 public:
  explicit EnvelopeCipher(MasterKeyring& keyring) : keyring_(keyring) {}

  /// Encrypts plaintext bound to `owner` (associated data). Thread-safe.
  Envelope seal(std::string_view plaintext, const std::string& owner) const;
  /// Decrypts; std::nullopt if the master key is unknown or anything fails authentication.
  std::optional<SecureString> open(const Envelope& env, const std::string& owner) const;
  /// Unwraps the data key with its old master key and wraps it under the current one; the
  /// secret's ciphertext is untouched. std::nullopt on failure.
  std::optional<Envelope> rewrap(const Envelope& env, const std::string& owner) const;

  MasterKeyring& keyring() const { return keyring_; }

 private:
  MasterKeyring& keyring_;
};

/// A check value proving a master key is the right one: GCM of a fixed string under the key.
Bytes makeKeyCheck(const SecureBytes& masterKey, const std::string& keyId);
bool verifyKeyCheck(const SecureBytes& masterKey, const std::string& keyId, const Bytes& check);

}  // namespace vigil::crypto
