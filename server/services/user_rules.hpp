#pragma once
// Rules for local user names, shared by the REST API and the CLI.
#include <string>
#include <string_view>

namespace vigil::services {

/// Empty when `name` is acceptable, otherwise the reason. A user name is 1-128 bytes of valid
/// UTF-8 without spaces, control characters or any of % @ : / (they separate the parts of a
/// proxy login such as `alice%root%web01`).
std::string usernameViolation(std::string_view name);

}  // namespace vigil::services
