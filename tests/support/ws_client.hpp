#pragma once
// A Beast WebSocket client for the portal's sockets (the live watch and feed, the browser
// terminal) in integration tests, and for the server's own WebSocket tests: TLS, the portal
// cookie and an Origin; every step bounded.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vigil::test {

namespace ws_detail {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

/// A Beast WebSocket client over TLS with the portal cookie and an Origin; every step bounded.
class WsClient {
 public:
  using json = nlohmann::json;
  using tcp = boost::asio::ip::tcp;

 public:
  explicit WsClient(int port) : port_(port), ctx_(ssl::context::tls_client) {
    ctx_.set_verify_mode(ssl::verify_none);
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(ioc_, ctx_);
  }
  /// Verifying the server's certificate (for "localhost") against `ca_file`.
  WsClient(int port, const std::string& ca_file) : port_(port), ctx_(ssl::context::tls_client) {
    ctx_.load_verify_file(ca_file);
    ctx_.set_verify_mode(ssl::verify_peer);
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(ioc_, ctx_);
    SSL_set_tlsext_host_name(ws_->next_layer().native_handle(), "localhost");
  }
  /// Same origin as the portal, or a foreign one (the server must refuse it).
  beast::error_code connect(const std::string& target, const std::string& cookie, bool same_origin = true) {
    return connectFrom(target, cookie,
                       same_origin ? "https://localhost:" + std::to_string(port_) : "https://evil.example");
  }
  /// With this Origin header ("" sends none).
  beast::error_code connectFrom(const std::string& target, const std::string& cookie, const std::string& origin) {
    beast::error_code result;
    const std::string host = "localhost:" + std::to_string(port_);
    ws_->set_option(websocket::stream_base::decorator([cookie, origin](websocket::request_type& r) {
      if (!cookie.empty()) r.set(http::field::cookie, "vigil_session=" + cookie);
      if (!origin.empty()) r.set(http::field::origin, origin);
    }));
    auto& low = beast::get_lowest_layer(*ws_);
    low.expires_after(20s);
    low.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)),
                      [&](beast::error_code ec) {
                        if (ec) return void(result = ec);
                        ws_->next_layer().async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
                          if (hec) return void(result = hec);
                          ws_->async_handshake(response_, host, target, [&](beast::error_code wec) { result = wec; });
                        });
                      });
    run();
    return result;
  }
  struct Message {
    beast::error_code ec;
    bool text = false;
    std::string data;
  };
  Message read(std::chrono::milliseconds limit = 20s) {
    Message m;
    beast::flat_buffer buf;
    beast::get_lowest_layer(*ws_).expires_after(limit);
    ws_->async_read(buf, [&](beast::error_code ec, std::size_t) { m.ec = ec; });
    run();
    m.text = ws_->got_text();
    m.data = beast::buffers_to_string(buf.data());
    return m;
  }
  beast::error_code write(const std::string& data, bool text = true) {
    beast::error_code result;
    ws_->text(text);
    beast::get_lowest_layer(*ws_).expires_after(10s);
    ws_->async_write(net::buffer(data), [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result;
  }
  /// Reads binary frames into `screen` and text frames into `texts` until `needle` shows in
  /// the binary stream, the socket closes, or the time is up.
  bool readUntil(const std::string& needle, std::chrono::milliseconds limit = 15s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (screen.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto m = read(left);
      if (m.ec) {
        closed = true;
        return false;
      }
      if (m.text) texts.push_back(json::parse(m.data, nullptr, false));
      else screen += m.data;
    }
    return true;
  }
  /// Reads until the server closes; true if it did within `limit`.
  bool readUntilClosed(std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!closed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto m = read(left);
      if (m.ec) {
        closed = true;
        close_ec = m.ec;
        break;
      }
      if (m.text) texts.push_back(json::parse(m.data, nullptr, false));
      else screen += m.data;
    }
    return true;
  }
  const websocket::response_type& response() const { return response_; }
  websocket::close_reason reason() const { return ws_->reason(); }

  std::string screen;
  std::vector<json> texts;
  bool closed = false;
  beast::error_code close_ec;

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }
  int port_;
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws_;
  websocket::response_type response_;
};

}  // namespace ws_detail

using ws_detail::WsClient;

}  // namespace vigil::test
