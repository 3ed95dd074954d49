#pragma once
// Password hashing with Argon2id (libargon2), PHC string format with a per-user random salt.
#include <string>
#include <string_view>

namespace vigil::auth {

struct Argon2Params {
  unsigned t_cost = 3;          // iterations
  unsigned m_cost_kib = 65536;  // 64 MiB
  unsigned parallelism = 1;
};

/// Hashes a password; returns the encoded "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.
std::string hashPassword(std::string_view password, const Argon2Params& params = {});
/// Verifies a password against an encoded Argon2 hash (constant time); false on any mismatch or
/// malformed hash.
bool verifyPassword(std::string_view password, const std::string& encoded);
/// A random password for one-time initial credentials: 20 characters from an unambiguous set.
std::string generatePassword(std::size_t length = 20);
/// Password policy: empty string when acceptable, otherwise the reason.
std::string passwordPolicyViolation(std::string_view password);

}  // namespace vigil::auth
