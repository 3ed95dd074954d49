#pragma once
// Rules for local user names, shared by the REST API and the CLI.
#include <string>
#include <string_view>
#include <vector>

namespace vigil::services {

/// Every role a user can hold, in the order the portal and the docs list them.
inline const std::vector<std::string> kRoles{"superuser", "vault_admin", "admin", "auditor", "soc"};
bool isRole(std::string_view r);

/// Empty when `name` is acceptable, otherwise the reason. A user name is 1-128 bytes of valid
/// UTF-8 without spaces, control characters or any of % @ : / (they separate the parts of a
/// proxy login such as `alice%root%web01`).
std::string usernameViolation(std::string_view name);

}  // namespace vigil::services
