#pragma once
// Vigil's side of PostgreSQL password authentication towards a target: SCRAM-SHA-256 (RFC 5802 /
// RFC 7677, without channel binding) and md5. OpenSSL for PBKDF2, HMAC and hashes. No sockets.
// SENSITIVE: holds the vault password; every intermediate key is wiped.
#include <string>
#include <string_view>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::pg {

/// "md5" + md5hex(md5hex(password + user) + salt): the PasswordMessage body for AuthenticationMD5.
std::string md5Password(std::string_view user, std::string_view password, std::string_view salt4);

class ScramClient {
 public:
  /// `nonce_for_tests` empty: a random nonce. `user` is left empty for PostgreSQL (it takes the
  /// user from the StartupMessage); the RFC's test vectors name one.
  explicit ScramClient(std::string_view password, std::string nonce_for_tests = "", std::string user = "");
  ~ScramClient();
  /// client-first-message ("n,,n=,r=<nonce>").
  std::string first();
  /// Takes server-first-message, returns client-final-message; empty with error() on a bad message.
  std::string final(std::string_view server_first);
  /// Checks server-final-message (the server's signature proves it knew the password too).
  bool verify(std::string_view server_final);
  const std::string& error() const { return error_; }

 private:
  crypto::SecureString password_;
  std::string nonce_;
  std::string user_;
  std::string client_first_bare_;
  std::string auth_message_;
  crypto::SecureString salted_;
  std::string error_;
};

std::string base64Encode(std::string_view in);
/// False on invalid input.
bool base64Decode(std::string_view in, std::string& out);

}  // namespace vigil::pg
