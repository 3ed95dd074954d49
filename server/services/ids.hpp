#pragma once
// Identifiers for sessions and launch tokens.
#include <string>
#include <string_view>

namespace vigil::services {

/// A new UUIDv7 (RFC 9562) in the canonical lowercase 8-4-4-4-12 form: 48 bits of Unix time in
/// milliseconds, then a counter, then random bits. Ids made by one process sort in creation order
/// (also within one millisecond), so they serve as a keyset cursor.
std::string newUuidV7();
/// True for the canonical form of any UUID (lowercase or uppercase hex).
bool isUuid(std::string_view s);

/// A new launch token: 20 random bytes as lowercase base32 without padding (32 characters of
/// [a-z2-7], usable as an SSH user name, in a URL, or typed).
std::string newLaunchToken();
/// True if `s` has the shape of a launch token (cheap check before any database work).
bool looksLikeLaunchToken(std::string_view s);

}  // namespace vigil::services
