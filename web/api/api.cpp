// The request pipeline: static files, then /api/v1 routes with JSON parsing, session cookie,
// CSRF check, the must-change-password gate, and one place that turns failures into JSON errors.
#include "web/api/api.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "web/api/context.hpp"
#include "web/api/live_feed.hpp"
#include "web/api/session_cookie.hpp"

namespace vigil::web {
namespace {

std::optional<std::vector<std::string>> matchRoute(std::string_view pattern, std::string_view path) {
  std::vector<std::string> params;
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty()) return std::nullopt;
    auto ps = pattern.find('/', 1);
    auto qs = path.find('/', 1);
    std::string_view pseg = pattern.substr(0, ps), qseg = path.substr(0, qs);
    if (pseg == "/{id}") {
      if (qseg.size() < 2) return std::nullopt;
      params.emplace_back(qseg.substr(1));
    } else if (pseg != qseg) {
      return std::nullopt;
    }
    pattern = ps == std::string_view::npos ? std::string_view{} : pattern.substr(ps);
    path = qs == std::string_view::npos ? std::string_view{} : path.substr(qs);
  }
  return params;
}

std::string contentTypeFor(const std::filesystem::path& p) {
  static const std::pair<const char*, const char*> types[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
      {".json", "application/json"}, {".woff2", "font/woff2"}, {".map", "application/json"}};
  const std::string ext = p.extension().string();
  for (auto& [e, t] : types)
    if (ext == e) return t;
  return "application/octet-stream";
}

// Deep links used by alerts and e-mails: /sessions/<id>?t=<seconds> is a real path that opens the
// portal's player at that moment (/#/sessions/<id>?t=<seconds>). Only ids and numbers pass into
// the Location header; anything else falls through to the portal page.
std::optional<std::string> sessionDeepLink(std::string_view path, std::string_view query) {
  constexpr std::string_view prefix = "/sessions/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view id = path.substr(prefix.size());
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("0123456789abcdefABCDEF-") != std::string_view::npos)
    return std::nullopt;
  std::string location = "/#/sessions/" + std::string(id);
  for (std::size_t pos = 0; pos < query.size();) {
    std::size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (pair.substr(0, 2) == "t=" && pair.size() > 2 && pair.size() < 16 &&
        pair.find_first_not_of("0123456789.", 2) == std::string_view::npos)
      location += "?" + std::string(pair);
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return location;
}

}  // namespace

struct Api::Impl {
  ApiDeps deps;
  std::vector<Route> routes;
  std::filesystem::path web_root;
  std::unique_ptr<LiveFeed> live_feed = std::make_unique<LiveFeed>(deps.store);  // GET /api/v1/live

  HttpResponse staticFile(const HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") return errorResponse(405, "method_not_allowed", "method not allowed");
    std::string path(req.path());
    if (auto location = sessionDeepLink(path, req.query())) {
      HttpResponse r;
      r.status = 302;
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("Location", *location);
      r.body = "See " + *location + "\n";
      return r;
    }
    if (path.find("..") != std::string::npos || path.find('\\') != std::string::npos || path.find('\0') != std::string::npos)
      return errorResponse(404, "not_found", "not found");
    std::filesystem::path rel = path == "/" ? "index.html" : path.substr(1);
    std::filesystem::path full = web_root / rel;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(full, ec)) {
      // Client-side routes (no extension) get the portal page; missing assets a 404.
      if (rel.has_extension()) return errorResponse(404, "not_found", "not found");
      full = web_root / "index.html";
    }
    HttpResponse r;
    r.content_type = contentTypeFor(full);
    r.file_path = full.string();
    return r;
  }

  HttpResponse dispatch(const HttpRequest& req) {
    const std::string_view path = req.path();
    if (path == "/healthz") return jsonResponse(200, json{{"status", "ok"}, {"version", VIGIL_VERSION}});
    if (path.substr(0, 8) != "/api/v1/" && path != "/api/v1") return staticFile(req);

    const Route* route = nullptr;
    std::vector<std::string> params;
    bool path_known = false;
    for (auto& r : routes) {
      if (auto p = matchRoute(r.pattern, path)) {
        path_known = true;
        if (r.method == req.method) {
          route = &r;
          params = std::move(*p);
          break;
        }
      }
    }
    if (!route) {
      return path_known ? errorResponse(405, "method_not_allowed", "method not allowed on this resource")
                        : errorResponse(404, "not_found", "no such endpoint");
    }

    RequestContext ctx{req, deps, std::nullopt, {}, std::move(params), json::object()};
    if (route->needs_auth) {
      ctx.session_token = cookieValue(req.header("cookie").value_or(""), kSessionCookie);
      ctx.auth = deps.auth.authenticate(ctx.session_token);
      if (!ctx.auth) return errorResponse(401, "unauthenticated", "log in first (no valid session)");
      if (!csrfAllows(req.method, req.header("x-csrf-token"), ctx.auth->csrf_token))
        return errorResponse(403, "csrf_failed", "missing or wrong X-CSRF-Token header");
      // A one-time password must be replaced before the account does anything else.
      if (ctx.auth->user.must_change_password && path != "/api/v1/me" && path != "/api/v1/me/password" &&
          path != "/api/v1/auth/logout")
        return errorResponse(403, "password_change_required", "change your one-time password first");
    }
    if (isStateChanging(req.method) && !req.body.empty()) {
      auto ct = req.header("content-type");
      if (!ct || ct->substr(0, 16) != "application/json")
        return errorResponse(415, "unsupported_media_type", "send Content-Type: application/json");
      try {
        ctx.body = json::parse(req.body);
      } catch (const json::parse_error&) {
        return errorResponse(400, "invalid_json", "the body is not valid JSON (or not valid UTF-8)");
      }
      if (!ctx.body.is_object()) return errorResponse(400, "invalid_json", "the body must be a JSON object");
    }
    return route->handler(ctx);
  }
};

Api::Api(ApiDeps deps) : impl_(std::make_unique<Impl>(Impl{deps, {}, deps.cfg.web_root})) {
  auto& r = impl_->routes;
  addAuthRoutes(r);
  addUserRoutes(r);
  addSafeRoutes(r);
  addTargetRoutes(r);
  addAccountRoutes(r);
  addAuditRoutes(r);
  addLaunchRoutes(r);
  addSessionRoutes(r);
  addSshKeyRoutes(r);
  addTerminalRoutes(r);
  addLiveRoutes(r);
  addRiskRoutes(r);
  addAccessRequestRoutes(r);
  addRetentionRoutes(r);
  addReportRoutes(r);
}

Api::~Api() = default;

HttpResponse Api::handle(const HttpRequest& req) {
  try {
    return impl_->dispatch(req);
  } catch (const ApiError& e) {
    return errorResponse(e.status, e.code, e.what());
  } catch (const store::Conflict&) {
    return errorResponse(409, "conflict", "an object with that name already exists");
  } catch (const store::InUse&) {
    return errorResponse(409, "conflict", "the object is still in use");
  } catch (const json::exception&) {
    return errorResponse(400, "validation_failed", "a field has the wrong type");
  } catch (const std::exception& e) {
    // The text may hold SQL or library detail: log it, never send it.
    spdlog::error("api: {} {} failed: {}", req.method, std::string(req.path()), e.what());
    return errorResponse(500, "internal", "internal error");
  }
}

std::shared_ptr<WebSocketEndpoint> Api::handleWebSocket(const HttpRequest& req, HttpResponse& refusal) {
  try {
    if (isLiveSocketPath(req.path())) return openLiveSocket(impl_->deps, *impl_->live_feed, req);
    return openTerminalSocket(impl_->deps, req);
  } catch (const ApiError& e) {
    refusal = errorResponse(e.status, e.code, e.what());
  } catch (const std::exception& e) {
    spdlog::error("api: WebSocket {} failed: {}", std::string(req.path()), e.what());
    refusal = errorResponse(500, "internal", "internal error");
  }
  return nullptr;
}

}  // namespace vigil::web
