#pragma once
// Response headers that every answer from the portal carries, whatever produced it (handler,
// static file, error, redirect). Kept in one place so the WebSocket upgrade response can reuse
// them. Applied after the handler's own headers so a handler cannot weaken them by accident.
#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace vigil::web {

inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

inline constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kSecurityHeaders{{
    {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
    {"Content-Security-Policy", kContentSecurityPolicy},
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Server", "vigil"},
}};

/// Sets the security headers on any Beast-like header container (`set(name, value)`), replacing
/// values a handler may have set. API answers are `no-store` (they carry secrets and session
/// state); static files keep whatever caching the handler chose.
template <class Fields>
void applySecurityHeaders(Fields& fields, bool is_static_file) {
  for (const auto& [name, value] : kSecurityHeaders) fields.set(name, value);
  if (!is_static_file) fields.set("Cache-Control", "no-store");
}

/// `{"error":{"code":...,"message":...}}`, the API's error shape. Escapes only what JSON needs.
inline std::string jsonErrorBody(std::string_view code, std::string_view message) {
  auto quoted = [](std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out += ' ';
      } else {
        out += c;
      }
    }
    return out + "\"";
  };
  return "{\"error\":{\"code\":" + quoted(code) + ",\"message\":" + quoted(message) + "}}";
}

}  // namespace vigil::web
