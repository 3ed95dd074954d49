// First step of every connection: look at the opening bytes to tell a TLS ClientHello from a
// plain-HTTP request, so one port can serve HTTPS and redirect people who typed http://.
#include <boost/asio/dispatch.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/detect_ssl.hpp>

#include "web/server_internal.hpp"

namespace vigil::web::detail {
namespace {

std::string peerAddress(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  // On a dual-stack listener IPv4 clients show up as ::ffff:a.b.c.d; log them as a.b.c.d.
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  return addr.to_string();
}

class DetectSession : public Closable, public std::enable_shared_from_this<DetectSession> {
 public:
  DetectSession(tcp::socket&& socket, std::shared_ptr<ServerShared> shared)
      : remote_(peerAddress(socket)), stream_(std::move(socket)), shared_(std::move(shared)) {}

  void run() {
    // Onto the connection's strand first: from here on every step of this session runs there.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&DetectSession::onRun, shared_from_this()));
  }

  void closeNow() override {
    if (handed_off_) return;  // the stream now lives in the follow-up session
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  void onRun() {
    // A client that connects and says nothing is held no longer than one whole request may take.
    stream_.expires_after(shared_->headerTimeout());
    beast::async_detect_ssl(stream_, buffer_,
                            beast::bind_front_handler(&DetectSession::onDetect,
                                                      shared_from_this()));
  }

  void onDetect(beast::error_code ec, bool is_tls) {
    if (ec) return logFailure(*shared_->log, ec, "detect", remote_);
    handed_off_ = true;
    try {
      if (is_tls)
        startTlsSession(std::move(stream_), std::move(buffer_), remote_, shared_);
      else
        startPlainRedirect(std::move(stream_), std::move(buffer_), remote_, shared_);
    } catch (const std::exception& e) {
      shared_->log->error("cannot start session for {}: {}", remote_, e.what());
    }
  }

  std::string remote_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerShared> shared_;
  bool handed_off_ = false;
};

}  // namespace

void startDetectSession(tcp::socket socket, std::shared_ptr<ServerShared> shared) {
  auto s = std::make_shared<DetectSession>(std::move(socket), shared);
  shared->registry.add(s);
  s->run();
}

}  // namespace vigil::web::detail
