#include "server/services/user_rules.hpp"

namespace vigil::services {
namespace {
bool validUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}
}  // namespace

bool isRole(std::string_view r) {
  for (const auto& k : kRoles)
    if (k == r) return true;
  return false;
}

std::string usernameViolation(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 128) return "at most 128 bytes";
  if (!validUtf8(name)) return "must be valid UTF-8";
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || (c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xA0))
      return "control characters are not allowed";
    if (c == ' ' || c == '\t' || c == '%' || c == '@' || c == ':' || c == '/')
      return "must not contain spaces or any of % @ : /";
  }
  return {};
}

}  // namespace vigil::services
