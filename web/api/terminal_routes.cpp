// The browser terminal: GET /api/v1/accounts/{id}/terminal?cols=C&rows=R as a WebSocket.
//
// The upgrade is decided on the worker pool (the portal cookie, then the Gatekeeper, which
// blocks on the database); the socket then relays between the browser and a TerminalBridge:
//   server -> browser: binary frames = terminal output; text {"type":"session","id"} once the
//                      session exists; text {"type":"closed","message"} at the end.
//   browser -> server: text {"type":"input","data"} and {"type":"resize","cols","rows"};
//                      other types are ignored (logged); malformed JSON closes with 1008.
// Keystrokes and output are never logged.
#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "web/api/context.hpp"
#include "web/api/session_cookie.hpp"

namespace vigil::web {
namespace {

constexpr int kMaxTerminalSide = 1000;

std::shared_ptr<spdlog::logger> terminalLog() {
  if (auto l = spdlog::get("terminal")) return l;
  try {
    return spdlog::stdout_color_mt("terminal");
  } catch (const spdlog::spdlog_ex&) {
    if (auto l = spdlog::get("terminal")) return l;
    return spdlog::default_logger();
  }
}

/// One browser terminal socket. The bridge's callbacks hold it weakly: when the socket is gone
/// the bridge's output goes nowhere, and the endpoint's destructor ends the bridge.
class TerminalEndpoint : public WebSocketEndpoint, public std::enable_shared_from_this<TerminalEndpoint> {
 public:
  TerminalEndpoint(proto::TerminalOpener opener, proto::Grant grant, proto::ClientInfo client, int cols, int rows)
      : opener_(std::move(opener)), grant_(std::move(grant)), client_(std::move(client)), cols_(cols), rows_(rows) {}

  ~TerminalEndpoint() override {
    if (auto b = bridge()) b->close();
  }

  void onOpen(std::shared_ptr<WebSocketConnection> conn) override {
    conn_ = std::move(conn);
    if (grant_.status != proto::Grant::Status::Ok) {
      // Denied (the Gatekeeper has audited it): say why, in the page and as the close reason.
      const std::string message = grant_.message.empty() ? "access denied" : grant_.message;
      finish(message, WsCloseCode::policy_error);
      return;
    }
    proto::TerminalBridge::Callbacks cb;
    std::weak_ptr<TerminalEndpoint> weak = weak_from_this();
    cb.output = [weak](std::string_view bytes) {
      if (auto self = weak.lock()) self->onOutput(bytes);
    };
    cb.closed = [weak](const std::string& message) {
      if (auto self = weak.lock()) self->finish(message, WsCloseCode::normal);
    };
    std::shared_ptr<proto::TerminalBridge> b;
    try {
      b = opener_(grant_, client_, cols_, rows_, std::move(cb));
    } catch (const std::exception& e) {
      log_->error("account={} user={}: cannot open the terminal: {}", grant_.account_id, grant_.username, e.what());
    }
    if (!b) return finish("the terminal could not be opened", WsCloseCode::internal_error);
    std::lock_guard lk(mu_);
    bridge_ = std::move(b);
  }

  void onText(std::string_view message) override {
    json m = json::parse(message, nullptr, false);
    if (m.is_discarded() || !m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      log_->warn("{}: malformed message from {}; closing", where(), client_.client_addr);
      return conn_->close(WsCloseCode::policy_error, "malformed message");
    }
    const std::string type = m["type"].get<std::string>();
    auto b = bridge();
    if (type == "input") {
      auto it = m.find("data");
      if (it == m.end() || !it->is_string()) return ignored("input without data");
      if (b) b->write(it->get_ref<const std::string&>());
    } else if (type == "resize") {
      auto side = [&](const char* k) -> int {
        auto it = m.find(k);
        if (it == m.end() || !it->is_number_integer()) return 0;
        const auto v = it->get<std::int64_t>();
        return v >= 1 && v <= kMaxTerminalSide ? static_cast<int>(v) : 0;
      };
      const int cols = side("cols"), rows = side("rows");
      if (!cols || !rows) return ignored("resize outside 1..1000");
      if (b) b->resize(cols, rows);
    } else {
      ignored("unknown type '" + type.substr(0, 32) + "'");
    }
  }

  void onBinary(std::string_view) override { ignored("binary frame"); }

  void onClose(std::uint16_t code, std::string_view) override {
    log_->info("{}: browser socket closed ({})", where(), code);
    if (auto b = bridge()) b->close();
  }

 private:
  std::shared_ptr<proto::TerminalBridge> bridge() {
    std::lock_guard lk(mu_);
    return bridge_;
  }

  std::string where() {
    auto b = bridge();
    const std::string id = b ? b->sessionId() : std::string();
    return "session=" + (id.empty() ? std::string("-") : id) + " account=" + std::to_string(grant_.account_id);
  }

  void ignored(const std::string& what) { log_->info("{}: ignored browser message: {}", where(), what); }

  /// The bridge's thread. The session id goes out before the first output that follows it.
  void onOutput(std::string_view bytes) {
    announceSession();
    conn_->sendBinary(std::string(bytes));
  }

  void announceSession() {
    if (announced_) return;
    auto b = bridge();
    if (!b) return;
    std::string id = b->sessionId();
    if (id.empty() || announced_.exchange(true)) return;
    conn_->sendText(json{{"type", "session"}, {"id", id}}.dump());
  }

  void finish(const std::string& message, WsCloseCode code) {
    if (finished_.exchange(true)) return;
    announceSession();
    conn_->sendText(json{{"type", "closed"}, {"message", message}}.dump(-1, ' ', false, json::error_handler_t::replace));
    conn_->close(code, message);
  }

  const proto::TerminalOpener opener_;
  const proto::Grant grant_;
  const proto::ClientInfo client_;
  const int cols_, rows_;
  const std::shared_ptr<spdlog::logger> log_ = terminalLog();
  std::shared_ptr<WebSocketConnection> conn_;  // set in onOpen, before any bridge callback
  std::mutex mu_;
  std::shared_ptr<proto::TerminalBridge> bridge_;
  std::atomic<bool> announced_{false};
  std::atomic<bool> finished_{false};
};

/// "/api/v1/accounts/{id}/terminal" -> id, or 0 when the path is something else.
std::int64_t terminalAccountId(std::string_view path) {
  constexpr std::string_view kPrefix = "/api/v1/accounts/", kSuffix = "/terminal";
  if (path.size() <= kPrefix.size() + kSuffix.size() || path.substr(0, kPrefix.size()) != kPrefix ||
      path.substr(path.size() - kSuffix.size()) != kSuffix)
    return 0;
  const std::string_view digits = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (digits.empty() || digits.size() > 18) return -1;
  std::int64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return -1;
    v = v * 10 + (ch - '0');
  }
  return v > 0 ? v : -1;
}

}  // namespace

std::shared_ptr<WebSocketEndpoint> openTerminalSocket(ApiDeps& deps, const HttpRequest& req) {
  const std::int64_t account_id = terminalAccountId(req.path());
  if (account_id == 0 || req.method != "GET") throw ApiError(404, "not_found", "no such endpoint");
  if (account_id < 0) throw ApiError(404, "not_found", "no such account");
  if (!deps.terminal_opener || !deps.terminal_gatekeeper)
    throw ApiError(503, "unavailable", "the browser terminal is not available on this server");

  // The same cookie check as every REST route. No CSRF token (a browser cannot add headers to
  // a WebSocket): the server's same-origin check on the upgrade stands in for it.
  RequestContext ctx{req, deps, std::nullopt, {}, {}, json::object()};
  ctx.session_token = cookieValue(req.header("cookie").value_or(""), kSessionCookie);
  ctx.auth = deps.auth.authenticate(ctx.session_token);
  if (!ctx.auth) throw ApiError(401, "unauthenticated", "log in first (no valid session)");
  if (ctx.auth->user.must_change_password)
    throw ApiError(403, "password_change_required", "change your one-time password first");
  const int cols = static_cast<int>(ctx.queryInt("cols", 1, kMaxTerminalSide).value_or(80));
  const int rows = static_cast<int>(ctx.queryInt("rows", 1, kMaxTerminalSide).value_or(24));

  proto::ClientInfo client{"ssh", req.remote_addr, "web"};
  proto::Grant grant = deps.terminal_gatekeeper->authorizeUser(ctx.auth->user.id, account_id, client);
  if (grant.status == proto::Grant::Status::NeedTotp) {
    grant.status = proto::Grant::Status::Denied;  // a portal session has passed its second factor
    if (grant.message.empty()) grant.message = "access denied";
  }
  terminalLog()->info("account={} user={}: browser terminal {} from {}", account_id, ctx.auth->user.username,
                      grant.status == proto::Grant::Status::Ok ? "authorized" : "denied", req.remote_addr);
  return std::make_shared<TerminalEndpoint>(deps.terminal_opener, std::move(grant), std::move(client), cols, rows);
}

void addTerminalRoutes(std::vector<Route>& r) {
  // A plain GET (not an upgrade) lands here: the portal asks it before opening the socket, since
  // a browser reports a refused upgrade only as "closed, 1006".
  r.push_back({"GET", "/api/v1/accounts/{id}/terminal", true, [](RequestContext& c) -> HttpResponse {
                 if (!c.deps.terminal_opener || !c.deps.terminal_gatekeeper)
                   return errorResponse(503, "unavailable", "the browser terminal is not available on this server");
                 return errorResponse(426, "upgrade_required", "open this endpoint as a WebSocket");
               }});
}

}  // namespace vigil::web
