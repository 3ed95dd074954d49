// One accepted WebSocket over the connection's TLS stream: the handshake answer, a read loop that
// hands whole messages to the endpoint, and a bounded send queue with one write in flight (the
// shape of Beast's chat-multi example). Everything runs on the connection's strand; the
// WebSocketConnection handle posts there from any thread.
#include <atomic>
#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "web/security_headers.hpp"
#include "web/server_internal.hpp"

namespace vigil::web::detail {

bool sameOrigin(std::string_view origin, std::string_view host) {
  constexpr std::string_view kScheme = "https://";
  if (host.empty() || origin.size() != kScheme.size() + host.size()) return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < origin.size(); ++i) {
    const char want = i < kScheme.size() ? kScheme[i] : host[i - kScheme.size()];
    if (lower(origin[i]) != lower(want)) return false;
  }
  return true;
}

namespace {

namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;

/// How long a too-slow client gets to take the close frame before the socket is cut.
constexpr std::chrono::seconds kSlowCloseGrace{5};
constexpr std::size_t kReadChunk = 16 * 1024;

/// RFC 6455 limits a close reason to 123 bytes; cut on a UTF-8 boundary.
std::string clipReason(std::string reason) {
  constexpr std::size_t kMax = 123;
  if (reason.size() <= kMax) return reason;
  std::size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  reason.resize(n);
  return reason;
}

class WsSession : public Closable, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(TlsStream&& stream, std::shared_ptr<WebSocketEndpoint> endpoint, std::string remote,
            std::string path, std::shared_ptr<ServerShared> shared)
      : shared_(std::move(shared)),
        remote_(std::move(remote)),
        path_(std::move(path)),
        limits_(shared_->opts.websocket),
        ws_(std::move(stream)),
        executor_(ws_.get_executor()),
        slow_timer_(executor_),
        endpoint_(std::move(endpoint)) {}

  void run(StringRequest req) {
    req_ = std::move(req);
    // The websocket stream keeps its own timers from here on (handshake, idle pings).
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { applySecurityHeaders(res, false); }));
    ws_.read_message_max(0);  // measured in onRead
    ws_.async_accept(req_, beast::bind_front_handler(&WsSession::onAccept, shared_from_this()));
  }

  void closeNow() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  std::size_t pendingBytes() const { return pending_.load(); }

  /// Any thread. Counts the bytes before posting, so output piling up in the strand's queue is
  /// bounded as well as output waiting for the socket.
  void send(bool binary, std::string data) {
    if (too_slow_.load()) return;
    const std::size_t n = data.size();
    if (pending_.fetch_add(n) + n > limits_.max_pending_bytes) {
      pending_ -= n;
      if (!too_slow_.exchange(true))
        net::post(executor_, [self = shared_from_this()] { self->onTooSlow(); });
      return;
    }
    net::post(executor_, [self = shared_from_this(), binary, d = std::move(data)]() mutable {
      self->push(binary, std::move(d));
    });
  }

  /// Any thread.
  void close(WsCloseCode code, std::string reason) {
    net::post(executor_, [self = shared_from_this(), code, r = std::move(reason)]() mutable {
      self->requestClose(code, std::move(r));
    });
  }

  const std::string& remote() const { return remote_; }

 private:
  struct Frame {
    bool binary;
    std::string data;
  };

  void onAccept(beast::error_code ec) {
    req_ = {};
    if (ec) {
      logFailure(*shared_->log, ec, "websocket handshake", remote_);
      return finish(ec);
    }
    shared_->log->info("websocket {} opened {}", path_, remote_);
    opened_ = Clock::now();
    try {
      endpoint_->onOpen(makeHandle());
    } catch (const std::exception& e) {
      shared_->log->error("websocket {} onOpen threw: {}", path_, e.what());
      requestClose(WsCloseCode::internal_error, "internal error");
    }
    doRead();
  }

  std::shared_ptr<WebSocketConnection> makeHandle();

  // Messages are read piecewise and measured here rather than with Beast's read_message_max:
  // Beast enforces that one in the middle of its own close handshake, and over TLS the error then
  // reaches us as a teardown error, so the endpoint could not be told "message too big".
  void doRead() {
    ws_.async_read_some(buffer_, kReadChunk,
                        beast::bind_front_handler(&WsSession::onRead, shared_from_this()));
  }

  void onRead(beast::error_code ec, std::size_t) {
    if (ec) return finish(ec);
    if (discarding_ || buffer_.size() > limits_.max_message_bytes) {
      // Read on (and drop) until the peer answers the close frame.
      buffer_.consume(buffer_.size());
      if (!discarding_) {
        discarding_ = true;
        shared_->log->warn("websocket {} from {}: message over {} bytes; closing", path_, remote_,
                           limits_.max_message_bytes);
        requestClose(WsCloseCode::too_big, "message too big");
      }
      return doRead();
    }
    if (!ws_.is_message_done()) return doRead();
    const auto data = buffer_.data();
    const std::string_view message(static_cast<const char*>(data.data()), data.size());
    try {
      if (ws_.got_text())
        endpoint_->onText(message);
      else
        endpoint_->onBinary(message);
    } catch (const std::exception& e) {
      // Never the message: it may carry keystrokes.
      shared_->log->error("websocket {} endpoint threw: {}", path_, e.what());
      requestClose(WsCloseCode::internal_error, "internal error");
    }
    buffer_.consume(buffer_.size());
    doRead();
  }

  void push(bool binary, std::string data) {
    if (close_requested_ || ended_) {
      pending_ -= data.size();
      return;
    }
    queue_.push_back({binary, std::move(data)});
    if (!writing_) writeNext();
  }

  void writeNext() {
    if (queue_.empty()) {
      if (close_requested_ && !close_started_) doClose();
      return;
    }
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(net::buffer(queue_.front().data),
                    beast::bind_front_handler(&WsSession::onWrite, shared_from_this()));
  }

  void onWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    pending_ -= queue_.front().data.size();
    queue_.pop_front();
    if (ec) {
      // The read loop sees the same failure and ends the session; drop what cannot go out.
      logFailure(*shared_->log, ec, "websocket write", remote_);
      dropQueue();
      return;
    }
    writeNext();
  }

  void dropQueue() {
    // Keeps the frame being written: Beast still reads its buffer.
    while (queue_.size() > (writing_ ? 1u : 0u)) {
      pending_ -= queue_.back().data.size();
      queue_.pop_back();
    }
  }

  void onTooSlow() {
    shared_->log->warn("websocket {} from {}: more than {} bytes of output pending; closing "
                       "(client too slow)",
                       path_, remote_, limits_.max_pending_bytes);
    dropQueue();
    requestClose(WsCloseCode::policy_error, "client too slow");
    // A client that reads nothing never lets the write in flight (nor the close frame behind
    // it) finish: past a short grace the transport's deadline cancels both and ends the session.
    // (Not the tcp_stream's own deadline: Beast forbids setting it while a read and a write are
    // both pending.)
    slow_timer_.expires_after(kSlowCloseGrace);
    slow_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->ended_) self->closeNow();
    });
  }

  void requestClose(WsCloseCode code, std::string reason) {
    if (close_requested_ || ended_) return;
    close_requested_ = true;
    local_code_ = static_cast<std::uint16_t>(code);
    local_reason_ = clipReason(std::move(reason));
    if (!writing_) writeNext();
  }

  void doClose() {
    close_started_ = true;
    websocket::close_reason why;
    why.code = local_code_;
    why.reason = local_reason_;
    ws_.async_close(why,
                    [self = shared_from_this()](beast::error_code ec) {
                      // The pending read completes with `closed` once the peer answers (or
                      // the close times out) and ends the session there.
                      if (ec) logFailure(*self->shared_->log, ec, "websocket close", self->remote_);
                    });
  }

  void finish(const beast::error_code& ec) {
    if (ended_) return;
    ended_ = true;
    std::uint16_t code = 1006;  // abnormal: no close frame
    std::string reason;
    if (close_requested_) {
      code = local_code_;
      reason = local_reason_;
    } else if (ec == websocket::error::closed || ws_.reason().code != 0) {
      // A close frame arrived. The error may instead be from the TLS teardown that followed it
      // (after a server-initiated close such as 1009, which the peer echoes).
      code = ws_.reason().code;
      reason = std::string(ws_.reason().reason.c_str());
    }
    if (opened_) {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *opened_);
      shared_->log->info("websocket {} closed {} code={} reason='{}' after {}s ({})", path_, remote_,
                         code, reason, s.count(), ec.message());
    }
    if (ec != websocket::error::closed) logFailure(*shared_->log, ec, "websocket", remote_);
    dropQueue();
    slow_timer_.cancel();
    auto endpoint = std::move(endpoint_);
    try {
      if (endpoint) endpoint->onClose(code, reason);
    } catch (const std::exception& e) {
      shared_->log->error("websocket {} onClose threw: {}", path_, e.what());
    }
  }

  const std::shared_ptr<ServerShared> shared_;
  const std::string remote_;
  const std::string path_;
  const WebSocketLimits limits_;
  websocket::stream<TlsStream> ws_;
  const net::any_io_executor executor_;  // the connection's strand
  net::steady_timer slow_timer_;
  std::shared_ptr<WebSocketEndpoint> endpoint_;
  StringRequest req_;
  beast::flat_buffer buffer_;

  std::deque<Frame> queue_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> too_slow_{false};
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_started_ = false;
  bool ended_ = false;
  bool discarding_ = false;  // the current message is over the limit; the socket is closing
  std::uint16_t local_code_ = 1000;
  std::string local_reason_;
  std::optional<Clock::time_point> opened_;
};

/// What the endpoint holds: a weak reference, so an endpoint kept alive elsewhere (say, by a
/// terminal bridge's callbacks) never keeps a dead socket alive, and the session owning the
/// endpoint forms no cycle.
class WsHandle : public WebSocketConnection {
 public:
  WsHandle(std::weak_ptr<WsSession> s, std::string remote)
      : session_(std::move(s)), remote_(std::move(remote)) {}
  void sendText(std::string message) override {
    if (auto s = session_.lock()) s->send(false, std::move(message));
  }
  void sendBinary(std::string bytes) override {
    if (auto s = session_.lock()) s->send(true, std::move(bytes));
  }
  void close(WsCloseCode code, std::string reason) override {
    if (auto s = session_.lock()) s->close(code, std::move(reason));
  }
  const std::string& remoteAddr() const override { return remote_; }
  std::size_t pendingBytes() const override {
    auto s = session_.lock();
    return s ? s->pendingBytes() : 0;
  }

 private:
  std::weak_ptr<WsSession> session_;
  const std::string remote_;
};

std::shared_ptr<WebSocketConnection> WsSession::makeHandle() {
  return std::make_shared<WsHandle>(weak_from_this(), remote_);
}

}  // namespace

void startWebSocketSession(TlsStream stream, StringRequest req,
                           std::shared_ptr<WebSocketEndpoint> endpoint, std::string remote,
                           std::shared_ptr<ServerShared> shared) {
  std::string path(pathForLog(req.target()));
  auto s = std::make_shared<WsSession>(std::move(stream), std::move(endpoint), std::move(remote),
                                       std::move(path), shared);
  shared->registry.add(s);
  s->run(std::move(req));
}

}  // namespace vigil::web::detail
