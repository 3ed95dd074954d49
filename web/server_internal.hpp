#pragma once
// Internals of HttpsServer shared by the listener (https_server.cpp) and the per-connection
// sessions (detect_session.cpp, http_session.cpp, plain_redirect.cpp). Not for use outside web/.
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include "web/https_server.hpp"

namespace vigil::web::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

/// Larger than any legitimate browser request header, small enough that a flood of
/// header-stuffing connections cannot eat much memory.
inline constexpr std::uint32_t kHeaderLimit = 16 * 1024;
/// How long an erroring connection is drained before closing: closing with unread input makes
/// the kernel send RST, which can destroy the error response before the client reads it.
inline constexpr std::chrono::seconds kLingerTime{2};
inline constexpr std::size_t kLingerMaxBytes = 4 << 20;
/// Bound on the TLS close_notify exchange, so a silent peer cannot keep a session alive.
inline constexpr std::chrono::seconds kShutdownTime{2};

/// Lingering close of a connection that has just sent its answer: half-close, then read and
/// discard what the client is still sending (an oversized body, say) until it closes, the
/// stream's deadline (kLingerTime) passes or kLingerMaxBytes arrive, then close. `owner` (the
/// session) is kept alive until then, and with it `tcp`. Call on the connection's strand.
inline void lingerThenClose(beast::tcp_stream& tcp, std::shared_ptr<void> owner) {
  struct Drain : std::enable_shared_from_this<Drain> {
    Drain(beast::tcp_stream& s, std::shared_ptr<void> o) : stream(s), keep(std::move(o)) {}
    beast::tcp_stream& stream;
    std::shared_ptr<void> keep;
    std::array<char, 4096> buf{};
    std::size_t total = 0;
    void next() {
      stream.async_read_some(net::buffer(buf), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
        self->total += n;
        if (!ec && self->total <= kLingerMaxBytes) return self->next();
        self->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream.socket().close(ec);
      });
    }
  };
  beast::error_code ec;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  tcp.expires_after(kLingerTime);
  std::make_shared<Drain>(tcp, std::move(owner))->next();
}

/// A live connection that HttpsServer::stop() can close.
class Closable {
 public:
  virtual ~Closable() = default;
  /// Closes the socket at once. Called only from stop() after every I/O and worker thread has
  /// been joined, so it never races the session's own handlers.
  virtual void closeNow() = 0;
};

/// Tracks connections with weak_ptrs: the registry must not keep a finished session alive.
class ConnectionRegistry {
 public:
  /// Any thread.
  void add(std::weak_ptr<Closable> c);
  /// Closes every connection still alive. Only with no I/O thread running (see Closable).
  void closeAll();

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<Closable>> live_;
  std::size_t prune_at_ = 64;
};

/// State every session needs; shared_ptr-owned because queued handlers may outlive the server.
struct ServerShared {
  HttpsServerOptions opts;
  RequestHandler handler;
  WebSocketHandler ws_handler;  // set before start(), then read-only
  ssl::context tls{ssl::context::tls_server};
  net::thread_pool* pool = nullptr;  // owned by HttpsServer; outlives every running handler
  std::shared_ptr<spdlog::logger> log;
  ConnectionRegistry registry;
  std::atomic<bool> stopping{false};

  std::chrono::seconds headerTimeout() const {
    return std::chrono::seconds(std::max(1, opts.header_timeout_seconds));
  }
  std::chrono::seconds idleTimeout() const {
    return std::chrono::seconds(std::max(1, opts.idle_timeout_seconds));
  }
};

/// Sniffs TLS versus plain HTTP on an accepted socket (whose executor is its own strand).
void startDetectSession(tcp::socket socket, std::shared_ptr<ServerShared> shared);
/// Continues a connection that opened with a TLS ClientHello; `buffer` holds the sniffed bytes.
void startTlsSession(beast::tcp_stream stream, beast::flat_buffer buffer, std::string remote,
                     std::shared_ptr<ServerShared> shared);
/// Answers one plain-HTTP request with a redirect to https and closes.
void startPlainRedirect(beast::tcp_stream stream, beast::flat_buffer buffer, std::string remote,
                        std::shared_ptr<ServerShared> shared);

using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using StringRequest = beast::http::request<beast::http::string_body>;

/// True when a WebSocket upgrade's Origin is this very site: "https://" + the Host header
/// (compared case-insensitively). A missing Origin is refused too: browsers always send one, and
/// the portal cookie must never be usable from another site's page (cross-site WebSocket
/// hijacking).
bool sameOrigin(std::string_view origin, std::string_view host);

/// Takes over a TLS connection whose upgrade request `req` was accepted by the WebSocketHandler
/// (which returned `endpoint`): completes the handshake and runs the socket. On the strand.
void startWebSocketSession(TlsStream stream, StringRequest req,
                           std::shared_ptr<WebSocketEndpoint> endpoint, std::string remote,
                           std::shared_ptr<ServerShared> shared);

/// Benign endings (client went away, timeouts, shutdown) are logged at debug only: scanners and
/// browsers produce them all day.
void logFailure(spdlog::logger& log, const beast::error_code& ec, const char* what,
                const std::string& remote);

/// "/a/b?secret=1" -> "/a/b": query strings may carry tokens and never go to the log.
inline std::string_view pathForLog(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace vigil::web::detail
