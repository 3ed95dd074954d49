#pragma once
// WebSocket support of the HTTPS server, as the application sees it. Socket-free: no Beast here,
// so web/api can implement endpoints without depending on the server's internals.
//
// Flow: an HTTP/1.1 upgrade request (`Upgrade: websocket`) on the TLS port is checked by the
// server (same-origin: the Origin header must be https://<Host>, else 403), then handed to the
// WebSocketHandler on the worker pool (so it may block on the database). The handler returns an
// endpoint to accept the upgrade, or null to refuse with the HttpResponse it filled in. After
// the handshake the server calls the endpoint's callbacks on the connection's strand.
//
// Limits (see WebSocketLimits): a message larger than max_message_bytes closes the socket with
// 1009 (message too big); output queued for a client that does not read it fast enough (more
// than max_pending_bytes not yet written) closes it with 1008 and the reason "client too slow".
// Idle connections are kept alive with pings (Beast's suggested server timeouts: 30 s handshake,
// 300 s idle with a ping at half of it).
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "web/http_types.hpp"

namespace vigil::web {

/// RFC 6455 close codes the application may use.
enum class WsCloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  policy_error = 1008,  // also: "client too slow"
  too_big = 1009,
  internal_error = 1011,
  try_again_later = 1013,
};

struct WebSocketLimits {
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_pending_bytes = 4 * 1024 * 1024;
};

/// The server's side of one accepted WebSocket, handed to the endpoint in onOpen(). A handle:
/// it does not keep the connection alive, and every call on a connection that is gone is a
/// no-op. All methods are thread-safe and never block (work is posted to the connection's
/// strand); messages go out in the order of the calls.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  virtual void sendText(std::string message) = 0;
  virtual void sendBinary(std::string bytes) = 0;
  /// Sends what is already queued, then the close frame. Later sends are dropped. Idempotent.
  virtual void close(WsCloseCode code, std::string reason) = 0;
  /// The client's IP address.
  virtual const std::string& remoteAddr() const = 0;
  /// Bytes sent but not yet written to the socket (an endpoint may keep its own, smaller bound).
  virtual std::size_t pendingBytes() const { return 0; }
};

/// The application side of one WebSocket. Callbacks run on the connection's strand (an I/O
/// thread): they must not block.
class WebSocketEndpoint {
 public:
  virtual ~WebSocketEndpoint() = default;
  /// Once, after the handshake. The endpoint may keep `conn` (it holds no reference back).
  virtual void onOpen(std::shared_ptr<WebSocketConnection> conn) = 0;
  /// One whole message; the view is valid for the call only.
  virtual void onText(std::string_view message) = 0;
  virtual void onBinary(std::string_view message) = 0;
  /// Once, when the connection has ended for any reason (close frame from either side, error,
  /// timeout, too slow). `code` is the peer's close code or 1006 when there was none.
  virtual void onClose(std::uint16_t code, std::string_view reason) = 0;
};

/// Decides one upgrade request. Runs on the worker pool (may block). Returns the endpoint to
/// accept; or null, and then `refusal` (status, JSON body) is sent as the HTTP answer instead.
/// `refusal` arrives preset to 404 not_found.
using WebSocketHandler =
    std::function<std::shared_ptr<WebSocketEndpoint>(const HttpRequest& req, HttpResponse& refusal)>;

}  // namespace vigil::web
