// The live SOC (issue 5):
//   POST /api/v1/sessions/{id}/suspend {message} | /resume | /terminate {reason}
//   GET  /api/v1/live/sessions                    active sessions on every node (JSON)
//   GET  /api/v1/sessions/{id}/watch  WebSocket   read-only live view of one session
//   GET  /api/v1/live                 WebSocket   the session list and new alerts, pushed
// Who: controls — superuser, soc, or monitor_live on the session's safe; watching — the same
// (soc watches what it may act on); the list shows what the caller may monitor.
#include <algorithm>
#include <atomic>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "server/services/ids.hpp"
#include "server/services/live_control.hpp"
#include "server/services/live_registry.hpp"
#include "web/api/context.hpp"
#include "web/api/live_feed.hpp"
#include "web/api/session_cookie.hpp"

namespace vigil::web {
namespace {

/// Output not yet written to a watcher's socket beyond this drops the watcher: the session
/// never waits for a slow browser, and a dropped watcher can reconnect to a fresh snapshot.
constexpr std::size_t kWatcherQueueBytes = 1024 * 1024;

std::shared_ptr<spdlog::logger> liveApiLog() {
  if (auto l = spdlog::get("live_api")) return l;
  try {
    return spdlog::stdout_color_mt("live_api");
  } catch (const spdlog::spdlog_ex&) {
    if (auto l = spdlog::get("live_api")) return l;
    return spdlog::default_logger();
  }
}

bool mayMonitor(const RequestContext& c, const std::optional<std::int64_t>& safe_id) {
  if (hasAnyRole(c.user(), {"soc"})) return true;
  return safe_id && hasPermission(safePermissions(c, *safe_id), "monitor_live");
}

LiveFeed::Viewer viewerOf(const RequestContext& c) {
  LiveFeed::Viewer v;
  v.all = hasAnyRole(c.user(), {"soc", "vault_admin"});
  if (!v.all)
    for (auto& m : c.deps.store.membershipsOf(c.user().id))
      if (hasPermission(m.permissions, "monitor_live")) v.safes.insert(m.safe_id);
  return v;
}

store::SessionRecord loadForControl(RequestContext& c) {
  const std::string& id = c.params.at(0);
  if (!services::isUuid(id)) throw ApiError(404, "not_found", "no such session");
  auto s = c.deps.store.sessionById(id);
  if (!s) throw ApiError(404, "not_found", "no such session");
  if (!mayMonitor(c, s->safe_id)) throw ApiError(403, "forbidden", "you may not monitor this session");
  return *s;
}

HttpResponse control(RequestContext& c, services::LiveControl::Action action) {
  using Action = services::LiveControl::Action;
  using Result = services::LiveControl::Result;
  if (!c.deps.live) throw ApiError(503, "unavailable", "live control is not available on this server");
  auto s = loadForControl(c);
  std::string text;
  if (action == Action::Suspend) {
    allowOnlyFields(c.body, {"message"});
    text = optionalString(c.body, "message", 500).value_or("");
    if (text.empty()) text = "by the security team";
  } else if (action == Action::Terminate) {
    allowOnlyFields(c.body, {"reason"});
    text = optionalString(c.body, "reason", 500).value_or("");
    if (text.empty()) text = "by the security team";
  } else {
    allowOnlyFields(c.body, {});
  }
  const std::string act = services::LiveControl::name(action);
  json details{{"node", s.node}, {"user", s.username}, {"target", s.target_name}};
  if (!text.empty() && action != Action::Resume) details[action == Action::Suspend ? "message" : "reason"] = text;
  auto failed = [&](const char* error) {
    json d = details;
    d["error"] = error;
    c.audit("session_" + act, "session", s.id, "failed", d);
  };
  if (!s.ended_at.empty()) {
    failed("ended");
    throw ApiError(409, "session_ended", "the session has already ended");
  }
  const Result r = c.deps.live->apply(s, action, text);
  switch (r) {
    case Result::Applied:
      c.audit("session_" + act, "session", s.id, "ok", details);
      liveApiLog()->info("session={} {} by {} (node {})", s.id, act, c.user().username, s.node);
      return jsonResponse(200, json{{"status", "applied"}, {"action", act}, {"session_id", s.id}, {"node", s.node}});
    case Result::Ended:
      failed("ended");
      throw ApiError(409, "session_ended", "the session has already ended");
    case Result::NotLive:
      failed("not_live");
      throw ApiError(409, "not_live", "the session is not running on its node (starting or ending)");
    case Result::Timeout:
      failed("timeout");
      throw ApiError(504, "timeout", "node '" + s.node + "' did not apply the action in time");
  }
  throw ApiError(500, "internal", "internal error");
}

HttpResponse liveList(RequestContext& c) {
  auto v = viewerOf(c);
  if (!v.all && v.safes.empty()) throw ApiError(403, "forbidden", "you may not monitor live sessions");
  store::Store::SessionFilter f;
  f.status = "active";
  f.limit = 1000;
  json items = json::array();
  for (auto& s : c.deps.store.listSessions(f))
    if (v.all || (s.safe_id && v.safes.count(*s.safe_id)))
      items.push_back(json{{"id", s.id},
                           {"node", s.node},
                           {"username", s.username},
                           {"account_user", s.account_user},
                           {"target_name", s.target_name},
                           {"protocol", s.protocol},
                           {"via", s.via},
                           {"client_addr", s.client_addr},
                           {"started_at", s.started_at},
                           {"risk_score", s.risk_score}});
  return jsonResponse(200, json{{"items", items}});
}

// ---- WebSockets

/// The portal cookie check every socket does (no CSRF header on a WebSocket: the server's
/// same-origin check on the upgrade stands in for it).
RequestContext socketContext(ApiDeps& deps, const HttpRequest& req) {
  RequestContext ctx{req, deps, std::nullopt, {}, {}, json::object()};
  ctx.session_token = cookieValue(req.header("cookie").value_or(""), kSessionCookie);
  ctx.auth = deps.auth.authenticate(ctx.session_token);
  if (!ctx.auth) throw ApiError(401, "unauthenticated", "log in first (no valid session)");
  if (ctx.auth->user.must_change_password)
    throw ApiError(403, "password_change_required", "change your one-time password first");
  return ctx;
}

/// The watcher's side in the session: bounded by the socket's unsent bytes.
class SocketWatcher : public services::LiveWatcher {
 public:
  explicit SocketWatcher(std::shared_ptr<WebSocketConnection> conn) : conn_(std::move(conn)) {}
  bool deliver(std::string_view bytes) override {
    if (conn_->pendingBytes() + bytes.size() > kWatcherQueueBytes) return false;
    conn_->sendBinary(std::string(bytes));
    return true;
  }
  void resized(int cols, int rows) override {
    conn_->sendText(json{{"type", "size"}, {"cols", cols}, {"rows", rows}}.dump());
  }
  void deliverImage(std::string_view jpeg, int width, int height) override {
    // Pictures replace each other: one the socket cannot take now is skipped, not queued.
    if (conn_->pendingBytes() + jpeg.size() > kWatcherQueueBytes) return;
    if (width != width_ || height != height_) {
      width_ = width, height_ = height;
      conn_->sendText(json{{"type", "image"}, {"width", width}, {"height", height}}.dump());
    }
    conn_->sendBinary(std::string(jpeg));
  }
  void dropped(const std::string& why) override {
    conn_->sendText(json{{"type", "closed"}, {"message", why}}.dump(-1, ' ', false, json::error_handler_t::replace));
    conn_->close(why.starts_with("too slow") ? WsCloseCode::policy_error : WsCloseCode::normal, why);
  }

 private:
  std::shared_ptr<WebSocketConnection> conn_;
  int width_ = 0, height_ = 0;  // the picture size last announced (graphical sessions)
};

class WatchEndpoint : public WebSocketEndpoint {
 public:
  WatchEndpoint(std::shared_ptr<services::LiveSession> session, std::string who, std::int64_t user_id)
      : session_(std::move(session)), who_(std::move(who)), user_id_(user_id) {}
  void onOpen(std::shared_ptr<WebSocketConnection> conn) override {
    watcher_ = std::make_shared<SocketWatcher>(conn);
    // On a moderated session this watcher (unless it is the session's own user) is a moderator.
    if (!session_->addWatcher(watcher_, user_id_)) {
      conn->sendText(R"({"type":"closed","message":"session ended"})");
      conn->close(WsCloseCode::normal, "session ended");
    }
  }
  // A watcher never sends input: anything it sends is ignored.
  void onText(std::string_view) override { ignored(); }
  void onBinary(std::string_view) override { ignored(); }
  void onClose(std::uint16_t, std::string_view) override {
    if (watcher_) session_->removeWatcher(watcher_.get());
  }

 private:
  void ignored() {
    if (!warned_.exchange(true))
      liveApiLog()->warn("session={} watcher {} sent a message; watchers are read-only (ignored)",
                         session_->info().id, who_);
  }
  std::shared_ptr<services::LiveSession> session_;
  const std::string who_;
  const std::int64_t user_id_;
  std::shared_ptr<SocketWatcher> watcher_;
  std::atomic<bool> warned_{false};
};

class FeedEndpoint : public WebSocketEndpoint {
 public:
  FeedEndpoint(LiveFeed& feed, LiveFeed::Viewer viewer) : feed_(feed), viewer_(std::move(viewer)) {}
  void onOpen(std::shared_ptr<WebSocketConnection> conn) override {
    conn_ = conn;  // held here: the feed holds it weakly
    feed_.subscribe(std::move(conn), viewer_);
  }
  void onText(std::string_view) override {}
  void onBinary(std::string_view) override {}
  void onClose(std::uint16_t, std::string_view) override { conn_.reset(); }

 private:
  LiveFeed& feed_;
  LiveFeed::Viewer viewer_;
  std::shared_ptr<WebSocketConnection> conn_;
};

/// "/api/v1/sessions/<id>/watch" -> id ("" when the path is something else).
std::string watchSessionId(std::string_view path) {
  constexpr std::string_view kPrefix = "/api/v1/sessions/", kSuffix = "/watch";
  if (path.size() <= kPrefix.size() + kSuffix.size() || !path.starts_with(kPrefix) || !path.ends_with(kSuffix))
    return {};
  return std::string(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
}

}  // namespace

bool isLiveSocketPath(std::string_view path) { return path == "/api/v1/live" || !watchSessionId(path).empty(); }

std::shared_ptr<WebSocketEndpoint> openLiveSocket(ApiDeps& deps, LiveFeed& feed, const HttpRequest& req) {
  if (req.method != "GET") throw ApiError(404, "not_found", "no such endpoint");
  const std::string_view path = req.path();
  if (path == "/api/v1/live") {
    auto ctx = socketContext(deps, req);
    auto v = viewerOf(ctx);
    if (!v.all && v.safes.empty()) throw ApiError(403, "forbidden", "you may not monitor live sessions");
    return std::make_shared<FeedEndpoint>(feed, std::move(v));
  }
  const std::string id = watchSessionId(path);
  if (!services::isUuid(id)) throw ApiError(404, "not_found", "no such session");
  auto ctx = socketContext(deps, req);
  auto s = deps.store.sessionById(id);
  if (!s) throw ApiError(404, "not_found", "no such session");
  if (!mayMonitor(ctx, s->safe_id)) {
    ctx.audit("session_watch", "session", id, "denied");
    throw ApiError(403, "forbidden", "you may not watch this session");
  }
  if (!s->ended_at.empty()) throw ApiError(409, "session_ended", "the session has already ended");
  auto live = services::LiveRegistry::instance().find(id);
  if (!live) {
    const bool here = deps.live && s->node == deps.live->node();
    throw ApiError(409, here ? "not_live" : "other_node",
                   here ? "the session is not running (starting or ending)"
                        : "the session runs on node '" + s->node + "': watch it through that node's portal");
  }
  ctx.audit("session_watch", "session", id, "ok", json{{"node", s->node}, {"user", s->username}});
  liveApiLog()->info("session={} watched by {} from {}", id, ctx.user().username, req.remote_addr);
  return std::make_shared<WatchEndpoint>(std::move(live), ctx.user().username + "@" + req.remote_addr, ctx.user().id);
}

void addLiveRoutes(std::vector<Route>& r) {
  using Action = services::LiveControl::Action;
  r.push_back({"POST", "/api/v1/sessions/{id}/suspend", true, [](RequestContext& c) { return control(c, Action::Suspend); }});
  r.push_back({"POST", "/api/v1/sessions/{id}/resume", true, [](RequestContext& c) { return control(c, Action::Resume); }});
  r.push_back({"POST", "/api/v1/sessions/{id}/terminate", true, [](RequestContext& c) { return control(c, Action::Terminate); }});
  r.push_back({"GET", "/api/v1/live/sessions", true, liveList});
  // Plain GETs of the socket paths (the portal asks before opening, as for the terminal).
  r.push_back({"GET", "/api/v1/sessions/{id}/watch", true, [](RequestContext& c) -> HttpResponse {
                 loadForControl(c);
                 return errorResponse(426, "upgrade_required", "open this endpoint as a WebSocket");
               }});
  r.push_back({"GET", "/api/v1/live", true, [](RequestContext&) -> HttpResponse {
                 return errorResponse(426, "upgrade_required", "open this endpoint as a WebSocket");
               }});
}

}  // namespace vigil::web
