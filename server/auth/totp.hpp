#pragma once
// TOTP per RFC 6238 (HMAC-SHA1, 6 digits, 30 s steps) with base32 secrets (RFC 4648).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::auth {

/// RFC 4648 base32 without padding (as authenticator apps expect).
std::string base32Encode(const std::uint8_t* data, std::size_t len);
/// Accepts upper/lower case, ignores spaces and '=' padding; std::nullopt on invalid characters.
std::optional<crypto::SecureBytes> base32Decode(std::string_view text);

/// A new random 160-bit TOTP secret, base32-encoded.
crypto::SecureString newTotpSecret();

/// The code for time step `step` (= unix_time / period). `digits` 6..8, HMAC-SHA1/256/512 by `algo`
/// ("SHA1", "SHA256", "SHA512"), as in RFC 6238 appendix B.
std::string totpCode(const crypto::SecureBytes& key, std::uint64_t step, int digits = 6,
                     std::string_view algo = "SHA1");

/// Checks `code` against steps now-1, now, now+1. Returns the matching step, or std::nullopt.
/// A step <= last_used_step is refused (no replay of a used code).
std::optional<std::uint64_t> verifyTotp(const crypto::SecureBytes& key, std::string_view code,
                                        std::uint64_t unix_time,
                                        std::optional<std::uint64_t> last_used_step,
                                        int period = 30);

/// otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view base32_secret);

}  // namespace vigil::auth
