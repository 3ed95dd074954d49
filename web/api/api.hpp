#pragma once
// The REST API (/api/v1) and the portal's static files: one handler the HTTPS server calls for
// every request. Runs on the server's worker threads; thread-safe.
#include <memory>

#include "server/config.hpp"
#include "server/services/auth_service.hpp"
#include "server/services/gatekeeper.hpp"
#include "server/services/live_control.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"
#include "protocols/session.hpp"
#include "web/http_types.hpp"
#include "web/websocket.hpp"

namespace vigil::web {

struct ApiDeps {
  const Config& cfg;
  store::Store& store;
  services::Vault& vault;
  services::AuthService& auth;
  // The browser terminal (GET /api/v1/accounts/{id}/terminal); 503 until both are wired.
  proto::TerminalOpener terminal_opener;
  proto::Gatekeeper* terminal_gatekeeper = nullptr;
  /// Launch tokens (POST /accounts/{id}/launch); null: that endpoint answers 503.
  services::SessionGatekeeper* gatekeeper = nullptr;
  /// Live SOC controls (suspend/resume/terminate, cross-node); null: those answer 503.
  services::LiveControl* live = nullptr;
  /// The risk engine (GET/POST /api/v1/risk/rules...); null: those endpoints answer 503.
  services::RiskService* risk = nullptr;
};

class Api {
 public:
  explicit Api(ApiDeps deps);
  ~Api();
  HttpResponse handle(const HttpRequest& req);
  /// The HttpsServer's WebSocketHandler (worker pool; may block): null + `refusal` to refuse.
  std::shared_ptr<WebSocketEndpoint> handleWebSocket(const HttpRequest& req, HttpResponse& refusal);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::web
