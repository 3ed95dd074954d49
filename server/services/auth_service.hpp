#pragma once
// Portal authentication: password (Argon2id) or LDAP bind, TOTP second factor with replay
// protection, lockout after repeated failures, and server-side portal sessions. Every outcome
// is written to the audit log. Thread-safe.
#include <optional>
#include <string>

#include "server/config.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

struct LoginRequest {
  std::string username;
  std::string password;  // wiped by login()
  std::string totp;
  std::string source_addr;
};

enum class LoginStatus { Ok, InvalidCredentials, MfaRequired, Locked, Unavailable };

struct LoginResult {
  LoginStatus status = LoginStatus::InvalidCredentials;
  std::optional<store::User> user;
  std::string session_token;  // cookie value (only on Ok); never stored, never logged
  std::string csrf_token;
};

struct AuthContext {
  store::User user;
  std::string csrf_token;
};

struct MfaEnrollment {
  crypto::SecureString secret_base32;
  std::string otpauth_uri;
};

class AuthService {
 public:
  AuthService(const Config& cfg, store::Store& store, Vault& vault);

  LoginResult login(LoginRequest req);
  /// Validates a cookie value: the session exists, is within its idle and absolute limits, and
  /// its user is not locked. Touches the idle timer.
  std::optional<AuthContext> authenticate(const std::string& session_token);
  void logout(const std::string& session_token, const store::User& user, const std::string& source_addr);

  /// Starts enrolment: a new secret is stored (pending) and returned once. Refused (nullopt) when
  /// the user already has TOTP enrolled.
  std::optional<MfaEnrollment> beginMfaEnrollment(const store::User& user, const std::string& source_addr);
  /// Confirms enrolment with a code from the authenticator. False on a wrong code.
  bool confirmMfaEnrollment(const store::User& user, const std::string& code, const std::string& source_addr);

  /// Hashes a new password with the configured Argon2 parameters.
  std::string hashPassword(std::string_view password) const;
  bool verifyPassword(std::string_view password, const store::User& user) const;

 // ---- the same rules for other front doors (the SSH proxy's identity logins)
  /// Checks `password` for an existing user: Argon2id for local users, an LDAP bind for directory
  /// users (when LDAP is enabled). For nullopt, spends the same time on a decoy hash and fails.
  bool checkPassword(const std::optional<store::User>& user, std::string_view password);
  /// Counts a failed login toward the lockout; audits `login` denied `lockout_started` when this
  /// failure starts one.
  void countFailedLogin(const store::User& user, const std::string& source_addr);
  /// Checks an enrolled user's TOTP code with replay protection; a wrong code counts as a failed
  /// login.
  bool checkLoginTotp(const store::User& user, const std::string& code, const std::string& source_addr);

 private:
  bool checkTotp(const store::User& user, const std::string& code, bool pending);
  void auditLogin(const std::optional<store::User>& u, const std::string& username, const std::string& addr,
                  const std::string& outcome, const std::string& reason);

  const Config& cfg_;
  store::Store& store_;
  Vault& vault_;
  // Verified when the user does not exist, with the same Argon2 cost as real users, so that
  // the response time does not reveal which usernames exist.
  const std::string decoy_hash_;
};

}  // namespace vigil::services
