#pragma once
// Socket-free request/response types: the Beast server converts to and from these, so the REST
// handlers can be tested without a network.
#include <cstdint>
#include <functional>
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

/// A body made piece by piece while it is sent (e.g. a recording decrypted as it goes out), so a
/// large answer never sits whole in memory: `size` bytes in all; `read(offset, out)` appends the
/// next piece starting at `offset` to `out` (false, or nothing appended: the connection is closed
/// mid-body, since the status line has gone out).
struct StreamedBody {
  std::uint64_t size = 0;
  std::function<bool(std::uint64_t offset, std::string& out)> read;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Set-Cookie, ...)
  std::string body;
  /// When set, the server streams this file instead of `body` (static assets).
  std::optional<std::string> file_path;
  /// When set, the server sends this body piece by piece instead of `body`.
  std::optional<StreamedBody> stream;
};

}  // namespace vigil::web
