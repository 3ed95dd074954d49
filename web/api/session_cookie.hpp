#pragma once
// The portal session cookie and the CSRF rule, as pure functions (unit-tested without a server).
#include <optional>
#include <string>
#include <string_view>

namespace vigil::web {

inline constexpr std::string_view kSessionCookie = "vigil_session";

/// The value of cookie `name` in a Cookie header ("a=1; vigil_session=xyz"), or "" if absent.
std::string cookieValue(std::string_view cookie_header, std::string_view name);
/// Set-Cookie value for the session: HttpOnly, Secure, SameSite=Strict, Path=/; `clear` expires it.
std::string sessionSetCookie(std::string_view value, bool clear);
/// Methods that change state need the CSRF token.
bool isStateChanging(std::string_view method);
/// True when the request may proceed: safe methods always; state-changing ones only with a
/// header token equal (constant time) to the session's token.
bool csrfAllows(std::string_view method, std::optional<std::string_view> header_token, std::string_view session_token);

}  // namespace vigil::web
