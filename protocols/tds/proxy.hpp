#pragma once
// One TDS connection through Vigil: PRELOGIN and TLS with the person's client, LOGIN7 with the
// launch token, the session start, PRELOGIN/TLS/LOGIN7 (vault credential) with the target, then
// the relay with statement screening and recording.
#include <functional>
#include <string>

#include "protocols/session.hpp"

typedef struct ssl_ctx_st SSL_CTX;
namespace spdlog {
class logger;
}

namespace vigil::tds {

struct ConnectionContext {
  proto::Gatekeeper* gatekeeper = nullptr;
  SSL_CTX* server_tls = nullptr;  // to the person's client (Vigil's certificate)
  SSL_CTX* client_tls = nullptr;  // to the target
  std::string client_addr;
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 10;
  /// Called with the live-control object once proxying starts, and with null when it ends.
  std::function<void(proto::SessionControl*)> on_control;
};

/// Serves the connection on `fd` until either side closes (the caller closes `fd`). Never throws.
void serveConnection(int fd, const ConnectionContext& ctx);

/// The "proxy.tds" logger.
spdlog::logger& log();

}  // namespace vigil::tds
