#pragma once
// The HTTPS listener (Boost.Beast + OpenSSL). TLS 1.2+ only. A plain-HTTP request on the same
// port gets a 308 redirect to https. Every response carries HSTS, CSP, X-Frame-Options DENY,
// X-Content-Type-Options nosniff, Referrer-Policy no-referrer. Body size limit and read/idle
// timeouts on every connection. Request handling runs on a worker pool, off the I/O threads.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "web/http_types.hpp"
#include "web/websocket.hpp"

namespace vigil::web {

struct HttpsServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 8443;             // 0 = pick a free port (see HttpsServer::port())
  std::string cert_file;                 // PEM
  std::string key_file;                  // PEM
  std::size_t max_body_bytes = 1 << 20;  // 1 MiB
  int header_timeout_seconds = 10;       // time to receive a whole request
  int idle_timeout_seconds = 60;         // keep-alive idle
  int io_threads = 2;
  int worker_threads = 4;
  WebSocketLimits websocket;
};

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpsServer {
 public:
  /// Binds and starts listening; throws std::runtime_error (with the address) on failure.
  HttpsServer(HttpsServerOptions opts, RequestHandler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  /// Accepts WebSocket upgrades on the same port (see web/websocket.hpp). Call before start();
  /// without a handler an upgrade request gets 404.
  void setWebSocketHandler(WebSocketHandler handler);

  /// Starts the I/O and worker threads; returns immediately.
  void start();
  /// Stops accepting, closes connections and joins threads. Idempotent; any thread.
  void stop();
  /// The bound port (useful with port 0).
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::web
