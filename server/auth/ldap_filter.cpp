#include "server/auth/ldap_filter.hpp"

namespace vigil::auth {

std::string escapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '*': out += "\\2a"; break;
      case '(': out += "\\28"; break;
      case ')': out += "\\29"; break;
      case '\\': out += "\\5c"; break;
      case '\0': out += "\\00"; break;
      default: out += c;
    }
  }
  return out;
}

std::string expandFilter(std::string_view tmpl,
                         std::initializer_list<std::pair<std::string_view, std::string_view>> vars) {
  std::string out;
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    std::size_t open = tmpl.find('{', pos);
    std::size_t close = open == std::string_view::npos ? open : tmpl.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(tmpl, pos, open - pos);
    std::string_view name = tmpl.substr(open + 1, close - open - 1);
    const std::pair<std::string_view, std::string_view>* hit = nullptr;
    for (const auto& v : vars)
      if (v.first == name) hit = &v;
    if (hit) {
      out += escapeFilterValue(hit->second);
      pos = close + 1;
    } else {
      // Keep the '{' and rescan after it, so "{{username}" still finds its placeholder.
      out += '{';
      pos = open + 1;
    }
  }
  out.append(tmpl.substr(pos));
  return out;
}

}  // namespace vigil::auth
