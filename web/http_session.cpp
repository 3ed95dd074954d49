// The HTTPS side of a connection: TLS handshake, then a keep-alive loop of
//   read request -> handler on the worker pool -> write response
// with every step on the connection's strand. Handlers may block (database), so they never run
// on an I/O thread; the strand is re-entered only to write their answer.
#include <array>
#include <optional>
#include <typeinfo>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/core/demangle.hpp>

#include "web/security_headers.hpp"
#include "web/server_internal.hpp"
#include "web/streamed_body.hpp"

namespace vigil::web::detail {
namespace {

namespace http = beast::http;
using StringResponse = http::response<http::string_body>;
using FileResponse = http::response<http::file_body>;
using StreamedResponse = http::response<ProducedBody>;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;

char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  return true;
}

/// Handler-supplied headers go onto the wire verbatim, so anything that could split the header
/// block or change message framing is refused rather than trusted.
bool acceptableExtraHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return false;
  }
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  for (auto framing : {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                       "trailer", "te"})
    if (iequals(name, framing)) return false;
  return true;
}

bool isHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

class TlsSession : public Closable, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(beast::tcp_stream&& stream, beast::flat_buffer&& buffer, std::string remote,
             std::shared_ptr<ServerShared> shared)
      : shared_(std::move(shared)),
        remote_(std::move(remote)),
        stream_(std::move(stream), shared_->tls),
        executor_(stream_.get_executor()),
        buffer_(std::move(buffer)) {}

  void run() {
    lowest().expires_after(shared_->headerTimeout());
    // The sniffed bytes already hold the start of the ClientHello; hand them to OpenSSL.
    stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                            beast::bind_front_handler(&TlsSession::onHandshake,
                                                      shared_from_this()));
  }

  void closeNow() override {
    if (!handed_off_) closeSocket();  // else the stream lives in the WebSocket session
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void onHandshake(beast::error_code ec, std::size_t used) {
    if (ec) return fail(ec, "tls handshake");
    buffer_.consume(used);
    doRead();
  }

  void doRead() {
    if (shared_->stopping) return closeSocket();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(static_cast<std::uint64_t>(shared_->opts.max_body_bytes));
    method_ = "-";
    path_ = "-";
    if (requests_ > 0 && buffer_.size() == 0) {
      // Between keep-alive requests the client may idle for longer than a request may take to
      // arrive, so the request clock starts only at its first byte.
      lowest().expires_after(shared_->idleTimeout());
      stream_.async_read_some(buffer_.prepare(kReadChunk),
                              beast::bind_front_handler(&TlsSession::onIdleRead,
                                                        shared_from_this()));
      return;
    }
    readHeader();
  }

  void onIdleRead(beast::error_code ec, std::size_t n) {
    if (ec) return fail(ec, "idle read");
    buffer_.commit(n);
    readHeader();
  }

  void readHeader() {
    // One deadline for header and body together: a slow-drip client gets the same budget
    // however it spreads its bytes.
    lowest().expires_after(shared_->headerTimeout());
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&TlsSession::onHeader, shared_from_this()));
  }

  void onHeader(beast::error_code ec, std::size_t) {
    if (ec) return onReadError(ec);
    auto expect = parser_->get()[http::field::expect];
    if (!parser_->is_done() && iequals(expect, "100-continue")) {
      // Clients such as curl otherwise wait a second before sending a large body.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                    parser_->get().version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                          if (wec) return self->fail(wec, "write 100-continue");
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (parser_->is_done()) return onRead({}, 0);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&TlsSession::onRead, shared_from_this()));
  }

  void onRead(beast::error_code ec, std::size_t) {
    if (ec) return onReadError(ec);
    handleRequest();
  }

  void onReadError(const beast::error_code& ec) {
    if (ec == http::error::end_of_stream) return doShutdown();
    if (ec == http::error::body_limit)
      return sendError(413, "payload_too_large", "request body exceeds the size limit");
    if (ec == http::error::header_limit)
      return sendError(431, "header_too_large", "request header exceeds the size limit");
    // partial_message means the client left mid-request: nobody is there to read an answer.
    if (isHttpParseError(ec) && ec != http::error::partial_message)
      return sendError(400, "bad_request", "malformed HTTP request");
    fail(ec, "read");
  }

  void handleRequest() {
    auto req = parser_->release();
    started_ = Clock::now();
    method_ = std::string(req.method_string());
    path_ = std::string(pathForLog(req.target()));
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    if (beast::websocket::is_upgrade(req)) return handleUpgrade(std::move(req));

    net::post(*shared_->pool, [self = shared_from_this(), in = toHttpRequest(req)]() mutable {
      callHandler(std::move(self), std::move(in));
    });
  }

  HttpRequest toHttpRequest(StringRequest& req) {
    HttpRequest in;
    in.method = method_;
    in.target = std::string(req.target());
    in.headers.reserve(std::distance(req.begin(), req.end()));
    for (const auto& f : req)
      in.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    in.body = std::move(req.body());
    in.remote_addr = remote_;
    return in;
  }

  // ---- WebSocket upgrades: checked here, decided by the WebSocketHandler on the worker pool,
  // then either refused with an HTTP answer or handed to a WebSocket session.

  void handleUpgrade(StringRequest req) {
    // Whatever the outcome, this connection carries no further HTTP request.
    keep_alive_ = false;
    if (!shared_->ws_handler)
      return write(jsonError(404, "not_found", "no WebSocket endpoint here"), false);
    const auto origin = req[http::field::origin];
    if (!sameOrigin(origin, req[http::field::host])) {
      shared_->log->warn("refused cross-origin WebSocket {} from {} (Origin '{}')", path_, remote_,
                         std::string_view(origin).substr(0, 200));
      return write(jsonError(403, "forbidden", "cross-origin WebSocket refused"), false);
    }
    HttpRequest in = toHttpRequest(req);
    req.body().clear();
    upgrade_ = std::move(req);
    net::post(*shared_->pool, [self = shared_from_this(), in = std::move(in)]() mutable {
      callWebSocketHandler(std::move(self), std::move(in));
    });
  }

  /// Runs on a worker thread, like callHandler.
  static void callWebSocketHandler(std::shared_ptr<TlsSession> self, HttpRequest in) {
    std::optional<HttpResponse> refusal{HttpResponse{}};
    refusal->status = 404;
    refusal->body = jsonErrorBody("not_found", "no such endpoint");
    std::shared_ptr<WebSocketEndpoint> endpoint;
    try {
      endpoint = self->shared_->ws_handler(in, *refusal);
    } catch (const std::exception& e) {
      self->shared_->log->error("websocket handler threw {} for {}",
                                boost::core::demangle(typeid(e).name()), pathForLog(in.target));
      refusal.reset();
    } catch (...) {
      self->shared_->log->error("websocket handler threw for {}", pathForLog(in.target));
      refusal.reset();
    }
    try {
      auto ex = self->executor_;
      net::post(ex, [self = std::move(self), endpoint = std::move(endpoint),
                     refusal = std::move(refusal)]() mutable {
        self->finishUpgrade(std::move(endpoint), std::move(refusal));
      });
    } catch (const std::exception&) {
    }
  }

  void finishUpgrade(std::shared_ptr<WebSocketEndpoint> endpoint, std::optional<HttpResponse> refusal) {
    if (shared_->stopping) return write(jsonError(503, "unavailable", "shutting down"), false);
    if (!endpoint) {
      if (refusal && refusal->status < 400) refusal->status = 500;  // only a refusal is a refusal
      return sendResponse(std::move(refusal));
    }
    handed_off_ = true;
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    shared_->log->info("{} {} 101 {}ms {}", method_, path_, ms, remote_);
    startWebSocketSession(std::move(stream_), std::move(*upgrade_), std::move(endpoint), remote_,
                          shared_);
    upgrade_.reset();
  }

  /// Runs on a worker thread. Touches only immutable members (shared_, executor_).
  static void callHandler(std::shared_ptr<TlsSession> self, HttpRequest in) {
    std::optional<HttpResponse> out;
    try {
      out = self->shared_->handler(in);
    } catch (const std::exception& e) {
      // Only the type: exception texts can quote request content (a JSON parser's "last read:
      // ..." carries the password being submitted), and bodies never reach the log.
      self->shared_->log->error("handler threw {} for {} {}",
                                boost::core::demangle(typeid(e).name()), in.method,
                                pathForLog(in.target));
    } catch (...) {
      self->shared_->log->error("handler threw for {} {}", in.method, pathForLog(in.target));
    }
    try {
      auto ex = self->executor_;
      net::post(ex, [self = std::move(self), out = std::move(out)]() mutable {
        self->sendResponse(std::move(out));
      });
    } catch (const std::exception&) {
      // Out of memory while posting: the session dies with its last reference, closing the socket.
    }
  }

  void sendResponse(std::optional<HttpResponse> out) {
    if (!out) return write(jsonError(500, "internal", "internal error"), false);
    if (out->status < 200 || out->status > 599) {
      shared_->log->error("handler returned invalid status {} for {} {}", out->status, method_,
                          path_);
      return write(jsonError(500, "internal", "internal error"), false);
    }
    if (out->file_path) return sendFile(*out);
    if (out->stream) return sendStream(*out);

    StringResponse res{static_cast<http::status>(out->status), version_};
    copyHeaders(*out, res);
    // 204 and 304 must not carry a body; Beast refuses to frame one.
    if (out->status != 204 && out->status != 304) res.body() = std::move(out->body);
    res.prepare_payload();
    if (head_) res.body().clear();  // Content-Length stays: it describes the GET answer
    write(std::move(res), false);
  }

  void sendFile(HttpResponse& out) {
    http::file_body::value_type file;
    beast::error_code ec;
    file.open(out.file_path->c_str(), beast::file_mode::scan, ec);
    if (ec) return write(jsonError(404, "not_found", "not found"), false);
    const auto size = file.size();
    if (head_) return sendHead(out, size, true);
    FileResponse res{std::piecewise_construct, std::make_tuple(std::move(file)),
                     std::make_tuple(static_cast<http::status>(out.status), version_)};
    copyHeaders(out, res);
    res.content_length(size);
    write(std::move(res), true);
  }

  /// HEAD of a file or streamed body: its length, no body.
  void sendHead(HttpResponse& out, std::uint64_t size, bool is_file) {
    StringResponse res{static_cast<http::status>(out.status), version_};
    copyHeaders(out, res);
    res.content_length(size);
    write(std::move(res), is_file);
  }

  void sendStream(HttpResponse& out) {
    const auto size = out.stream->size;
    if (head_) return sendHead(out, size, false);  // API data: no-store
    StreamedResponse res{std::piecewise_construct, std::make_tuple(std::move(*out.stream)),
                         std::make_tuple(static_cast<http::status>(out.status), version_)};
    copyHeaders(out, res);
    res.content_length(size);
    write(std::move(res), false);  // API data: no-store
  }

  template <class Fields>
  void copyHeaders(const HttpResponse& out, Fields& res) {
    for (const auto& [name, value] : out.headers) {
      if (acceptableExtraHeader(name, value))
        res.insert(name, value);
      else
        shared_->log->warn("dropped unsafe response header '{}' on {} {}", name, method_, path_);
    }
    if (!out.content_type.empty()) res.set(http::field::content_type, out.content_type);
  }

  StringResponse jsonError(unsigned status, std::string_view code, std::string_view message) {
    StringResponse res{static_cast<http::status>(status), version_};
    res.set(http::field::content_type, "application/json");
    res.body() = jsonErrorBody(code, message);
    res.prepare_payload();
    return res;
  }

  void sendError(unsigned status, std::string_view code, std::string_view message) {
    started_ = Clock::now();
    version_ = 11;
    if (parser_ && parser_->is_header_done()) {
      const auto& h = parser_->get();
      method_ = std::string(h.method_string());
      path_ = std::string(pathForLog(h.target()));
      version_ = h.version() == 10 ? 10 : 11;
    }
    // The rest of the request is unread, so the connection cannot carry another one.
    keep_alive_ = false;
    linger_ = true;
    write(jsonError(status, code, message), false);
  }

  template <class Response>
  void write(Response&& res, bool is_file) {
    applySecurityHeaders(res, is_file);
    res.keep_alive(keep_alive_ && !linger_ && !shared_->stopping);
    status_ = res.result_int();
    auto sp = std::make_shared<std::decay_t<Response>>(std::move(res));
    response_ = sp;
    lowest().expires_after(std::max(shared_->idleTimeout(), std::chrono::seconds(30)));
    http::async_write(stream_, *sp,
                      beast::bind_front_handler(&TlsSession::onWrite, shared_from_this(),
                                                sp->need_eof()));
  }

  void onWrite(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    shared_->log->info("{} {} {} {}ms {}", method_, path_, status_, ms, remote_);
    if (ec) return fail(ec, "write");
    if (linger_) return doLinger();
    if (close) return doShutdown();
    ++requests_;
    doRead();
  }

  void doShutdown() {
    lowest().expires_after(kShutdownTime);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->closeSocket(); });
  }

  // After an error answer the client may still be sending; see lingerThenClose.
  void doLinger() { lingerThenClose(lowest(), shared_from_this()); }

  void closeSocket() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }

  void fail(const beast::error_code& ec, const char* what) {
    logFailure(*shared_->log, ec, what, remote_);
  }

  const std::shared_ptr<ServerShared> shared_;
  const std::string remote_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  const net::any_io_executor executor_;  // the connection's strand; copied for worker threads
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;  // keeps the message alive while async_write runs
  std::optional<StringRequest> upgrade_;  // a WebSocket upgrade waiting for its handler
  bool handed_off_ = false;               // stream_ moved into a WebSocket session

  // Per-request state for the answer and the access log.
  std::string method_ = "-";
  std::string path_ = "-";
  unsigned version_ = 11;
  unsigned status_ = 0;
  bool keep_alive_ = false;
  bool head_ = false;
  bool linger_ = false;
  std::uint64_t requests_ = 0;
  Clock::time_point started_ = Clock::now();
};

}  // namespace

void startTlsSession(beast::tcp_stream stream, beast::flat_buffer buffer, std::string remote,
                     std::shared_ptr<ServerShared> shared) {
  auto s = std::make_shared<TlsSession>(std::move(stream), std::move(buffer), std::move(remote),
                                        shared);
  shared->registry.add(s);
  s->run();
}

}  // namespace vigil::web::detail
