#pragma once
// Plain records the store returns. No database types leak out of server/store.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/crypto/envelope.hpp"

namespace vigil::store {

using crypto::Bytes;

/// A unique constraint was violated (duplicate name...). `what()` names the constraint's subject.
struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A foreign key blocks a delete (a safe that still holds accounts...).
struct InUse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct User {
  std::int64_t id = 0;
  std::string username;
  std::string display_name;
  std::vector<std::string> roles;
  std::string source = "local";
  std::string password_hash;  // Argon2id encoded; empty for LDAP users
  bool must_change_password = false;
  bool totp_enrolled = false;
  std::optional<crypto::Envelope> totp;  // enrolled or pending secret
  std::optional<std::int64_t> totp_last_step;
  int failed_logins = 0;
  bool locked = false;          // locked by an administrator until unlocked
  bool lockout_active = false;  // temporary lockout after failed logins, still in force
  std::string created_at;
  bool hasRole(const std::string& r) const;
};

struct PortalSession {
  std::int64_t user_id = 0;
  std::string csrf_token;
};

struct SafePolicy {
  bool record_sessions = true;
  bool live_monitoring = true;
  bool require_dual_authorization = false;
  int retention_days = 90;
  std::vector<std::string> allowed_protocols{"ssh", "rdp", "tds", "postgres"};
};

struct Safe {
  std::int64_t id = 0;
  std::string name;
  std::string description;
  SafePolicy policy;
  std::string created_at;
};

struct SafeMember {
  std::int64_t safe_id = 0;
  std::int64_t user_id = 0;
  std::string username;
  std::vector<std::string> permissions;
};

struct Target {
  std::int64_t id = 0;
  std::string name;
  std::string protocol;
  std::string address;
  int port = 0;
  std::string host_key_fingerprint;
  std::string certificate_fingerprint;
  std::string description;
  std::string created_at;
};

struct Account {
  std::int64_t id = 0;
  std::int64_t safe_id = 0;
  std::string safe_name;
  std::int64_t target_id = 0;
  std::string target_name;
  std::string protocol;
  std::string address;
  int port = 0;
  std::string username;
  std::string secret_kind;
  std::string description;
  std::string created_at;
  std::string updated_at;
};

struct AuditEntry {
  std::int64_t id = 0;
  std::string at;
  std::optional<std::int64_t> actor_id;
  std::string actor;
  std::string source_addr;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::string outcome;  // ok, failed, denied
  std::string details_json = "{}";
};

struct Page {
  int limit = 100;
  std::int64_t after = 0;
};

}  // namespace vigil::store
