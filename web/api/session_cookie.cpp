#include "web/api/session_cookie.hpp"

#include "server/crypto/random.hpp"

namespace vigil::web {

std::string cookieValue(std::string_view c, std::string_view name) {
  while (!c.empty()) {
    auto semi = c.find(';');
    std::string_view part = c.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    if (semi == std::string_view::npos) break;
    c.remove_prefix(semi + 1);
  }
  return {};
}

std::string sessionSetCookie(std::string_view value, bool clear) {
  return std::string(kSessionCookie) + "=" + std::string(value) + "; Path=/; HttpOnly; Secure; SameSite=Strict" +
         (clear ? "; Max-Age=0" : "");
}

bool isStateChanging(std::string_view m) { return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE"; }

bool csrfAllows(std::string_view method, std::optional<std::string_view> header_token, std::string_view session_token) {
  if (!isStateChanging(method)) return true;
  if (!header_token || session_token.empty()) return false;
  return crypto::constantTimeEqual(*header_token, session_token);
}

}  // namespace vigil::web
