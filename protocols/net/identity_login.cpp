#include "protocols/net/identity_login.hpp"

#include <algorithm>

namespace vigil::proto {

bool parseIdentityLogin(std::string_view name, IdentityLogin& out) {
  const auto p1 = name.find('%');
  if (p1 == std::string_view::npos || p1 == 0) return false;
  const auto p2 = name.find('%', p1 + 1);
  if (p2 == std::string_view::npos || p2 == p1 + 1 || p2 + 1 == name.size() ||
      name.find('%', p2 + 1) != std::string_view::npos)
    return false;
  out.vigil_user = std::string(name.substr(0, p1));
  out.account_user = std::string(name.substr(p1 + 1, p2 - p1 - 1));
  out.target_name = std::string(name.substr(p2 + 1));
  return true;
}

bool splitTotpSuffix(std::string_view typed, std::string_view& password, std::string_view& code) {
  constexpr std::size_t kDigits = 6;
  if (typed.size() <= kDigits) return false;
  const std::string_view tail = typed.substr(typed.size() - kDigits);
  if (!std::all_of(tail.begin(), tail.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  password = typed.substr(0, typed.size() - kDigits);
  code = tail;
  return true;
}

}  // namespace vigil::proto
