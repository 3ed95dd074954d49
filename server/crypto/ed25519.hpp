#pragma once
// Ed25519 signatures (OpenSSL EVP_PKEY_ED25519) for recording manifests. The private key lives
// in a PEM file outside the database (mode 0600, generated at first start); the public key is
// exported next to it (<file>.pub, base64 of the 32 raw bytes) for auditors.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::crypto {

class Ed25519Signer {
 public:
  /// Loads the key file, or creates it (0600, atomic) when it does not exist; also (re)writes
  /// <file>.pub. Throws std::runtime_error naming the file (unreadable, wrong type, too open).
  static std::unique_ptr<Ed25519Signer> loadOrCreate(const std::filesystem::path& file);
  /// A fresh key in memory (tests).
  static std::unique_ptr<Ed25519Signer> generate();
  ~Ed25519Signer();

  Bytes sign(std::string_view message) const;
  /// Base64 of the raw 32-byte public key.
  std::string publicKeyBase64() const;

 private:
  struct Key;
  explicit Ed25519Signer(std::unique_ptr<Key> k);
  std::unique_ptr<Key> key_;
};

/// Verifies a signature against a base64 raw public key; false on any failure.
bool ed25519Verify(const std::string& public_key_b64, std::string_view message, const Bytes& signature);
/// Reads a public key written by Ed25519Signer (<key file>.pub); throws if missing or malformed.
std::string readEd25519PublicKey(const std::filesystem::path& pub_file);

}  // namespace vigil::crypto
