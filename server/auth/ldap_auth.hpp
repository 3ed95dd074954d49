#pragma once
// LDAP / Active Directory login by bind (libldap). Thread-safe: each call opens its own connection.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vigil::auth {

struct LdapConfig {
  bool enabled = false;
  std::string url;                  // ldap://host:389 or ldaps://host:636
  bool start_tls = false;
  std::string bind_dn;              // service account used to search ("" = anonymous search)
  std::string bind_password;        // service account password (from config; never logged)
  std::string user_base_dn;         // e.g. ou=people,dc=example,dc=org
  std::string user_filter = "(uid={username})";  // AD: (sAMAccountName={username})
  std::string group_base_dn;        // e.g. ou=groups,dc=example,dc=org
  std::string group_filter = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))";
  std::string group_name_attr = "cn";
  std::string display_name_attr = "cn";
  std::map<std::string, std::vector<std::string>> group_roles;  // LDAP group cn -> Vigil roles
  std::string ca_file;              // CA bundle for ldaps/StartTLS
  std::chrono::milliseconds timeout{5000};
};

struct LdapUser {
  std::string dn;
  std::string username;
  std::string display_name;
  std::vector<std::string> groups;  // group names (group_name_attr)
  std::vector<std::string> roles;   // mapped through group_roles, deduplicated
};

enum class LdapError { InvalidCredentials, NoSuchUser, NoRoles, Unavailable, BadConfig };
const char* toString(LdapError e);

struct LdapResult {
  std::optional<LdapUser> user;
  std::optional<LdapError> error;
  std::string detail;  // operator-facing reason (never contains the password)
};

/// Finds the user (search with the service account), binds as the user's DN with `password`,
/// then reads the user's groups and maps them to roles. An empty password is always refused
/// (an LDAP "unauthenticated bind" would otherwise succeed).
LdapResult ldapAuthenticate(const LdapConfig& cfg, const std::string& username,
                            const std::string& password);

}  // namespace vigil::auth
