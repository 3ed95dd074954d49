#pragma once
// Socket-free request/response types: the Beast server converts to and from these, so the REST
// handlers can be tested without a network.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::web {

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string target;   // path + query as received, e.g. "/api/v1/safes?limit=10"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_addr;  // client IP

  /// First header with this lower-case name.
  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (auto& [k, v] : headers)
      if (k == lower_name) return std::string_view(v);
    return std::nullopt;
  }
  std::string_view path() const {
    std::string_view t(target);
    auto q = t.find('?');
    return q == std::string_view::npos ? t : t.substr(0, q);
  }
  std::string_view query() const {
    std::string_view t(target);
    auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Set-Cookie, ...)
  std::string body;
  /// When set, the server streams this file instead of `body` (static assets).
  std::optional<std::string> file_path;
};

}  // namespace vigil::web
