#pragma once
// AES-256-GCM with a 96-bit nonce and 128-bit tag (OpenSSL EVP).
#include <optional>
#include <string_view>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::crypto {

inline constexpr std::size_t kAesKeySize = 32;
inline constexpr std::size_t kGcmNonceSize = 12;
inline constexpr std::size_t kGcmTagSize = 16;

struct GcmSealed {
  Bytes nonce;       // 12 bytes
  Bytes ciphertext;  // same length as plaintext
  Bytes tag;         // 16 bytes
};

/// Encrypts with an explicit nonce (tests use NIST vectors); throws std::invalid_argument on bad sizes.
GcmSealed gcmEncrypt(const SecureBytes& key, const Bytes& nonce, const std::uint8_t* plaintext,
                     std::size_t len, std::string_view aad);
/// Encrypts with a fresh random nonce.
GcmSealed gcmEncrypt(const SecureBytes& key, const std::uint8_t* plaintext, std::size_t len,
                     std::string_view aad);
/// Decrypts and authenticates; std::nullopt when the tag, key or aad do not match.
std::optional<SecureBytes> gcmDecrypt(const SecureBytes& key, const GcmSealed& sealed,
                                      std::string_view aad);

/// Packs nonce|ciphertext|tag into one blob and back (storage format).
Bytes packSealed(const GcmSealed& s);
std::optional<GcmSealed> unpackSealed(const Bytes& blob);

}  // namespace vigil::crypto
