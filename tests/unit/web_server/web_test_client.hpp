#pragma once
// Real clients for the HTTPS server tests: a Beast TLS or plain-TCP client whose every operation
// is bounded by a deadline (so a server bug fails a test instead of hanging it), a curl runner,
// and a server fixture with a fresh self-signed certificate in a temp directory.
#include <openssl/ssl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "server/crypto/tls_cert.hpp"
#include "web/https_server.hpp"

namespace vigil::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("vigil-web-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Reply {
  beast::error_code ec;
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool keep_alive = false;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& lower_name) const { return headers.count(lower_name) != 0; }
};

struct ClientOptions {
  int min_version = TLS1_2_VERSION;
  int max_version = 0;  // 0 = highest supported
  const char* ciphers = nullptr;
  bool verify = true;  // check the server certificate against the test CA file
};

/// Beast client over `Stream` (beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>).
/// Not thread-safe; one per thread.
template <class Stream>
class Client {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Client(std::uint16_t port, const std::filesystem::path& ca_file, ClientOptions o = {})
      : port_(port), ctx_(ssl::context::tls_client), stream_(makeStream(ca_file, o)) {}

  /// TCP connect, plus the TLS handshake for a TLS client.
  beast::error_code connect() {
    beast::error_code result;
    auto& low = beast::get_lowest_layer(*stream_);
    low.expires_after(5s);
    low.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_),
                      [&](beast::error_code ec) {
                        result = ec;
                        if constexpr (kTls) {
                          if (ec) return;
                          low.expires_after(5s);
                          stream_->async_handshake(ssl::stream_base::client,
                                                   [&](beast::error_code hec) { result = hec; });
                        }
                      });
    runAll();
    return result;
  }

  beast::error_code writeRaw(std::string_view bytes) {
    beast::error_code result;
    beast::get_lowest_layer(*stream_).expires_after(5s);
    net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    runAll();
    return result;
  }

  /// `head`: the answer to a HEAD request, whose Content-Length describes a body never sent.
  Reply readResponse(std::chrono::seconds limit = 10s, bool head = false) {
    Reply r;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(head);
    beast::get_lowest_layer(*stream_).expires_after(limit);
    http::async_read(*stream_, buffer_, parser,
                     [&](beast::error_code ec, std::size_t) { r.ec = ec; });
    runAll();
    if (r.ec) return r;
    auto& msg = parser.get();
    r.status = msg.result_int();
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = msg.body();
    r.keep_alive = msg.keep_alive();
    return r;
  }

  Reply request(http::verb method, const std::string& target, const std::string& body = {},
                const std::map<std::string, std::string>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    Reply r;
    beast::get_lowest_layer(*stream_).expires_after(10s);
    http::async_write(*stream_, req, [&](beast::error_code ec, std::size_t) { r.ec = ec; });
    runAll();
    if (r.ec) return r;
    return readResponse(10s, method == http::verb::head);
  }

  /// Reads until the server ends the connection; returns what ended it, or beast::error::timeout
  /// when the server kept it open for `limit`.
  beast::error_code waitClosed(std::chrono::milliseconds limit) {
    beast::error_code result;
    beast::get_lowest_layer(*stream_).expires_after(limit);
    std::array<char, 4096> scratch;
    std::function<void()> readMore = [&] {
      stream_->async_read_some(net::buffer(scratch), [&](beast::error_code ec, std::size_t) {
        if (ec) {
          result = ec;
          return;
        }
        readMore();
      });
    };
    readMore();
    runAll();
    return result;
  }

  /// "TLSv1.2", "TLSv1.3" once connected.
  std::string tlsVersion() {
    if constexpr (kTls) return SSL_get_version(stream_->native_handle());
    return "";
  }

  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(*stream_).socket().close(ec);
  }

 private:
  std::unique_ptr<Stream> makeStream(const std::filesystem::path& ca_file, const ClientOptions& o) {
    if constexpr (kTls) {
      SSL_CTX* native = ctx_.native_handle();
      SSL_CTX_set_min_proto_version(native, o.min_version);
      SSL_CTX_set_max_proto_version(native, o.max_version);
      if (o.ciphers) SSL_CTX_set_cipher_list(native, o.ciphers);
      if (o.verify) {
        ctx_.load_verify_file(ca_file.string());
        ctx_.set_verify_mode(ssl::verify_peer);
      } else {
        ctx_.set_verify_mode(ssl::verify_none);
      }
      auto s = std::make_unique<Stream>(ioc_, ctx_);
      SSL_set_tlsext_host_name(s->native_handle(), "localhost");
      if (o.verify) s->set_verify_callback(ssl::host_name_verification("localhost"));
      return s;
    } else {
      (void)ca_file;
      (void)o;
      return std::make_unique<Stream>(ioc_);
    }
  }

  void runAll() {
    ioc_.restart();
    ioc_.run();
  }

  std::uint16_t port_;
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<Stream> stream_;
  beast::flat_buffer buffer_;
};

using TlsClient = Client<beast::ssl_stream<beast::tcp_stream>>;
using PlainClient = Client<beast::tcp_stream>;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs a shell command, capturing stdout (stderr is left to the terminal).
inline CommandResult runCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Echoes the request back as text, so tests can see what the handler received.
inline web::HttpResponse echoHandler(const web::HttpRequest& req) {
  web::HttpResponse out;
  out.content_type = "text/plain";
  out.body = "method=" + req.method + "\ntarget=" + req.target +
             "\nx-test=" + std::string(req.header("x-test").value_or("")) +
             "\nremote=" + req.remote_addr + "\nbody-size=" + std::to_string(req.body.size()) +
             "\nbody=" + req.body;
  return out;
}

/// An HttpsServer on 127.0.0.1, port 0, with a certificate generated for this test.
class TestServer {
 public:
  explicit TestServer(web::RequestHandler handler = echoHandler,
                      web::HttpsServerOptions opts = {}, web::WebSocketHandler ws = {}) {
    quietLogs();
    cert_ = dir_.path() / "tls" / "cert.pem";
    key_ = dir_.path() / "tls" / "key.pem";
    ensureSelfSignedCertificate(cert_, key_, {"localhost"});
    opts.bind_address = "127.0.0.1";
    opts.port = 0;
    opts.cert_file = cert_.string();
    opts.key_file = key_.string();
    server_ = std::make_unique<web::HttpsServer>(opts, std::move(handler));
    if (ws) server_->setWebSocketHandler(std::move(ws));
    server_->start();
  }

  std::uint16_t port() const { return server_->port(); }
  const std::filesystem::path& cert() const { return cert_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  web::HttpsServer& server() { return *server_; }

  TlsClient tls(ClientOptions o = {}) const { return TlsClient(port(), cert_, o); }
  PlainClient plain() const { return PlainClient(port(), cert_); }

  static void quietLogs() {
    // Access lines for hundreds of requests drown Catch's report; warnings still show.
    spdlog::set_level(spdlog::level::warn);
  }

 private:
  TempDir dir_;
  std::filesystem::path cert_, key_;
  std::unique_ptr<web::HttpsServer> server_;
};

}  // namespace vigil::test
