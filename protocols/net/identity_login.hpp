#pragma once
// The identity login name every proxy accepts besides a launch token: "vigiluser%account%target"
// (e.g. "alice%root%web01"), and for RDP the TOTP code that follows the password.
#include <string>
#include <string_view>

#include "protocols/session.hpp"

namespace vigil::proto {

/// True when `name` has the identity shape (three non-empty parts, two '%'); fills `out`.
bool parseIdentityLogin(std::string_view name, IdentityLogin& out);

/// RDP has one password field: a person whose Vigil user has TOTP types the password and then
/// the current 6-digit code. Splits them; false when `typed` does not end in 6 digits.
bool splitTotpSuffix(std::string_view typed, std::string_view& password, std::string_view& code);

}  // namespace vigil::proto
