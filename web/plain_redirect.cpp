// Plain HTTP on the HTTPS port: someone typed http://. Answer the one request with a 308 to the
// same host and target over https (308 keeps the method and body, unlike 301), then close.
// Nothing is ever served over plain HTTP.
#include <array>
#include <optional>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>

#include "web/security_headers.hpp"
#include "web/server_internal.hpp"

namespace vigil::web::detail {
namespace {

namespace http = beast::http;

/// The Host header ends up in a Location header: accept only what a host[:port] can contain.
bool plausibleHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
    if (!ok) return false;
  }
  return true;
}

class PlainRedirect : public Closable, public std::enable_shared_from_this<PlainRedirect> {
 public:
  PlainRedirect(beast::tcp_stream&& stream, beast::flat_buffer&& buffer, std::string remote,
                std::shared_ptr<ServerShared> shared)
      : shared_(std::move(shared)),
        remote_(std::move(remote)),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)) {}

  void run() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(shared_->headerTimeout());
    // Only the header matters for a redirect; any body is drained by the lingering close.
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&PlainRedirect::onRead,
                                                      shared_from_this()));
  }

  void closeNow() override { closeSocket(); }

 private:
  void onRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::header_limit)
      return send(errorResponse(431, "header_too_large", "request header exceeds the size limit"));
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return send(errorResponse(400, "bad_request", "malformed HTTP request"));
    if (ec) return logFailure(*shared_->log, ec, "plain read", remote_);

    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    path_ = std::string(pathForLog(req.target()));
    const std::string_view host = req[http::field::host];
    if (!plausibleHost(host))
      return send(errorResponse(400, "bad_request", "missing or invalid Host header"));
    // Absolute-form or '*' targets have no place in a redirect; send those to the root.
    std::string_view target = req.target();
    if (target.empty() || target.front() != '/') target = "/";

    const std::string location = "https://" + std::string(host) + std::string(target);
    http::response<http::string_body> res{http::status::permanent_redirect, 11};
    res.set(http::field::location, location);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "This server only speaks HTTPS: " + location + "\n";
    send(std::move(res));
  }

  http::response<http::string_body> errorResponse(unsigned status, std::string_view code,
                                                  std::string_view message) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = jsonErrorBody(code, message);
    return res;
  }

  void send(http::response<http::string_body>&& res) {
    applySecurityHeaders(res, false);
    res.keep_alive(false);
    res.prepare_payload();
    response_.emplace(std::move(res));
    stream_.expires_after(shared_->headerTimeout());
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&PlainRedirect::onWrite, shared_from_this()));
  }

  void onWrite(beast::error_code ec, std::size_t) {
    shared_->log->info("{} {} {} plain-http {}", method_, path_, response_->result_int(), remote_);
    if (ec) return logFailure(*shared_->log, ec, "plain write", remote_);
    // An RST could destroy the answer in flight; see lingerThenClose.
    lingerThenClose(stream_, shared_from_this());
  }

  void closeSocket() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  const std::shared_ptr<ServerShared> shared_;
  const std::string remote_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::string method_ = "-";
  std::string path_ = "-";
};

}  // namespace

void startPlainRedirect(beast::tcp_stream stream, beast::flat_buffer buffer, std::string remote,
                        std::shared_ptr<ServerShared> shared) {
  auto s = std::make_shared<PlainRedirect>(std::move(stream), std::move(buffer), std::move(remote),
                                           shared);
  shared->registry.add(s);
  s->run();
}

}  // namespace vigil::web::detail
