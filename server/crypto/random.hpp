#pragma once
#include <cstddef>
#include <string>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::crypto {

/// Cryptographically secure random bytes (RAND_bytes); throws std::runtime_error on failure.
Bytes randomBytes(std::size_t n);
/// Same, into zeroing memory.
SecureBytes randomSecureBytes(std::size_t n);
/// n random bytes rendered as unpadded base64url (tokens, cookie values).
std::string randomToken(std::size_t n);

/// Encoding helpers (non-secret data).
std::string base64Encode(const std::uint8_t* data, std::size_t len);
Bytes base64Decode(std::string_view text);  // throws std::invalid_argument on bad input
std::string base64UrlEncode(const std::uint8_t* data, std::size_t len);
std::string hexEncode(const std::uint8_t* data, std::size_t len);
Bytes hexDecode(std::string_view hex);  // throws std::invalid_argument
/// SHA-256 of data.
Bytes sha256(std::string_view data);
/// Constant-time comparison.
bool constantTimeEqual(std::string_view a, std::string_view b) noexcept;

}  // namespace vigil::crypto
