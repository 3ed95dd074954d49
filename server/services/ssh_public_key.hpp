#pragma once
// OpenSSH public keys as users paste them ("ssh-ed25519 AAAA... comment"): parsed and checked
// here, with the SHA-256 fingerprint computed the way `ssh-keygen -lf` prints it. No libssh.
#include <optional>
#include <string>
#include <string_view>

namespace vigil::services {

struct SshPublicKey {
  std::string algorithm;    // ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa
  std::string public_key;   // canonical "<algorithm> <base64>" (no comment)
  std::string fingerprint;  // "SHA256:<base64 of SHA-256 of the key blob, no padding>"
  std::string comment;      // the rest of the line, trimmed
  int bits = 0;             // 256 for ed25519, the curve size for ECDSA, the modulus size for RSA
};

/// Parses one OpenSSH public key line. nullopt with `error` (a message for the person) for
/// anything else: options prefixes, unknown or mismatched algorithms, bad base64, truncated or
/// trailing data, RSA keys under 2048 bits.
std::optional<SshPublicKey> parseSshPublicKey(std::string_view line, std::string& error);

/// "SHA256:<base64, no padding>" of a raw key blob.
std::string sshFingerprint(std::string_view blob);

}  // namespace vigil::services
