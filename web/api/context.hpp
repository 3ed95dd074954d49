#pragma once
// What every API handler gets: the parsed request, the caller, and helpers for JSON answers.
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "web/api/api.hpp"

namespace vigil::web {

using json = nlohmann::json;

/// Thrown by handlers and helpers; turned into `{"error":{"code","message"}}` with `status`.
struct ApiError : std::runtime_error {
  ApiError(int s, std::string c, const std::string& m) : std::runtime_error(m), status(s), code(std::move(c)) {}
  int status;
  std::string code;
};

struct RequestContext {
  const HttpRequest& req;
  ApiDeps& deps;
  std::optional<services::AuthContext> auth;  // set for authenticated routes
  std::string session_token;                  // cookie value (never logged)
  std::vector<std::string> params;            // {id} captures, in order
  json body;                                  // parsed body (object) for requests with one

  const store::User& user() const { return auth->user; }
  std::int64_t idParam(std::size_t i) const;
  std::optional<std::string> queryParam(const std::string& name) const;
  store::Page page() const;
  /// An integer query parameter in [lo, hi]; 400 validation_failed when malformed.
  std::optional<std::int64_t> queryInt(const std::string& name, std::int64_t lo, std::int64_t hi) const;
  /// Writes an audit row with the caller as actor.
  void audit(const std::string& action, const std::string& object_type, const std::string& object_id,
             const std::string& outcome = "ok", const json& details = json::object()) const;
};

HttpResponse jsonResponse(int status, const json& body);
HttpResponse noContent();
HttpResponse errorResponse(int status, const std::string& code, const std::string& message);
json pageJson(json items, std::optional<std::int64_t> next_after);
/// A keyset page of rows: `next_after` is the last id when the page is full.
template <class Row, class ToJson>
HttpResponse pagedResponse(const std::vector<Row>& rows, const store::Page& page, ToJson&& toJson) {
  json items = json::array();
  for (auto& r : rows) items.push_back(toJson(r));
  std::optional<std::int64_t> next;
  if (!rows.empty() && rows.size() == static_cast<std::size_t>(page.limit)) next = rows.back().id;
  return jsonResponse(200, pageJson(std::move(items), next));
}

// ---- body validation: each throws ApiError 400 validation_failed naming the field.
std::string requireString(const json& body, const std::string& field, std::size_t max_len = 256,
                          bool allow_newlines = false);
std::optional<std::string> optionalString(const json& body, const std::string& field, std::size_t max_len = 256,
                                          bool allow_newlines = false);
std::optional<bool> optionalBool(const json& body, const std::string& field);
std::optional<std::int64_t> optionalInt(const json& body, const std::string& field, std::int64_t lo, std::int64_t hi);
std::vector<std::string> stringSet(const json& body, const std::string& field, const std::vector<std::string>& allowed);
/// Rejects keys the endpoint does not know (typos must not be silently ignored).
void allowOnlyFields(const json& body, std::initializer_list<const char*> fields);

// ---- authorization helpers: throw ApiError 403 forbidden.
void requireRole(const RequestContext& c, std::initializer_list<const char*> roles);
bool hasAnyRole(const store::User& u, std::initializer_list<const char*> roles);
/// Caller's permissions on a safe (all four for vault_admin/superuser).
std::vector<std::string> safePermissions(const RequestContext& c, std::int64_t safe_id);
bool hasPermission(const std::vector<std::string>& perms, const std::string& p);

// ---- JSON views of records (never secrets).
json userJson(const store::User& u);
json policyJson(const store::SafePolicy& p);
json safeJson(const store::Safe& s, const std::vector<std::string>& my_permissions);
json targetJson(const store::Target& t);
json accountJson(const store::Account& a);
json memberJson(const store::SafeMember& m);

// ---- route registration (one function per handler file).
using Handler = std::function<HttpResponse(RequestContext&)>;
struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/safes/{id}/members/{id}"
  bool needs_auth = true;
  Handler handler;
};
void addAuthRoutes(std::vector<Route>& r);
void addUserRoutes(std::vector<Route>& r);
void addSafeRoutes(std::vector<Route>& r);
void addTargetRoutes(std::vector<Route>& r);
void addAccountRoutes(std::vector<Route>& r);
void addAuditRoutes(std::vector<Route>& r);
void addLaunchRoutes(std::vector<Route>& r);
void addSessionRoutes(std::vector<Route>& r);
void addSshKeyRoutes(std::vector<Route>& r);
void addTerminalRoutes(std::vector<Route>& r);
void addLiveRoutes(std::vector<Route>& r);
class LiveFeed;
/// True for the live SOC's socket paths (/api/v1/live, /api/v1/sessions/{id}/watch).
bool isLiveSocketPath(std::string_view path);
std::shared_ptr<WebSocketEndpoint> openLiveSocket(ApiDeps& deps, LiveFeed& feed, const HttpRequest& req);
void addRiskRoutes(std::vector<Route>& r);
void addAccessRequestRoutes(std::vector<Route>& r);  // access requests, safe compliance (issue 8)
void addRetentionRoutes(std::vector<Route>& r);      // legal holds, retention runs (issue 8)
void addReportRoutes(std::vector<Route>& r);         // GET /reports/access (issue 8)
/// WebSocket upgrades under /api/v1 (the browser terminal); throws ApiError to refuse.
std::shared_ptr<WebSocketEndpoint> openTerminalSocket(ApiDeps& deps, const HttpRequest& req);

}  // namespace vigil::web
