#pragma once
// The REST API (/api/v1) and the portal's static files: one handler the HTTPS server calls for
// every request. Runs on the server's worker threads; thread-safe.
#include <memory>

#include "server/config.hpp"
#include "server/services/auth_service.hpp"
#include "server/services/gatekeeper.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"
#include "web/http_types.hpp"

namespace vigil::web {

struct ApiDeps {
  const Config& cfg;
  store::Store& store;
  services::Vault& vault;
  services::AuthService& auth;
  /// Launch tokens (POST /accounts/{id}/launch); null: that endpoint answers 503.
  services::SessionGatekeeper* gatekeeper = nullptr;
};

class Api {
 public:
  explicit Api(ApiDeps deps);
  ~Api();
  HttpResponse handle(const HttpRequest& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::web
