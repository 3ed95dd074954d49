// WebSocket upgrades on the HTTPS port, driven by a real Beast WebSocket client over TLS.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "web_test_client.hpp"

using namespace vigil::test;
using vigil::web::HttpRequest;
using vigil::web::HttpResponse;
using vigil::web::HttpsServerOptions;
using vigil::web::WebSocketConnection;
using vigil::web::WebSocketEndpoint;
using vigil::web::WsCloseCode;
namespace websocket = beast::websocket;

namespace {

/// What the server side saw, shared between the endpoint (I/O threads) and the test thread.
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  int handler_calls = 0;
  int opens = 0;
  std::optional<std::pair<std::uint16_t, std::string>> closed;
  std::string last_target;

  template <class Pred>
  bool waitFor(Pred pred, std::chrono::seconds limit = 15s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, limit, pred);
  }
};

/// Echoes "echo:" + text and binary back as binary; "burst N" sends N numbered text messages
/// from another thread; "flood" sends 64 KiB binary chunks from another thread until the
/// connection is gone; "bye" closes with 1000 "done".
class EchoEndpoint : public WebSocketEndpoint, public std::enable_shared_from_this<EchoEndpoint> {
 public:
  explicit EchoEndpoint(std::shared_ptr<Observed> o) : obs_(std::move(o)) {}
  ~EchoEndpoint() override {
    stop_ = true;
    if (worker_.joinable()) worker_.join();
  }
  void onOpen(std::shared_ptr<WebSocketConnection> conn) override {
    conn_ = std::move(conn);
    std::lock_guard lk(obs_->mu);
    ++obs_->opens;
    obs_->cv.notify_all();
  }
  void onText(std::string_view m) override {
    if (m.substr(0, 6) == "burst ") {
      const int n = std::stoi(std::string(m.substr(6)));
      worker_ = std::thread([conn = conn_, n] {
        for (int i = 0; i < n; ++i) conn->sendText("msg " + std::to_string(i));
      });
    } else if (m == "flood") {
      worker_ = std::thread([conn = conn_, this] {
        const std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 2048 && !stop_; ++i) conn->sendBinary(chunk);
      });
    } else if (m == "bye") {
      conn_->close(WsCloseCode::normal, "done");
    } else {
      conn_->sendText("echo:" + std::string(m));
    }
  }
  void onBinary(std::string_view m) override { conn_->sendBinary(std::string(m)); }
  void onClose(std::uint16_t code, std::string_view reason) override {
    std::lock_guard lk(obs_->mu);
    obs_->closed = {code, std::string(reason)};
    obs_->cv.notify_all();
  }

 private:
  std::shared_ptr<Observed> obs_;
  std::shared_ptr<WebSocketConnection> conn_;
  std::thread worker_;
  std::atomic<bool> stop_{false};
};

/// A server whose WebSocket handler accepts /ws and refuses anything else with 401.
struct WsServer {
  explicit WsServer(HttpsServerOptions opts = {}) : server(echoHandler, opts, handlerFor(obs)) {}

  static vigil::web::WebSocketHandler handlerFor(std::shared_ptr<Observed> o) {
    return [o](const HttpRequest& req, HttpResponse& refusal) -> std::shared_ptr<WebSocketEndpoint> {
      {
        std::lock_guard lk(o->mu);
        ++o->handler_calls;
        o->last_target = req.target;
      }
      if (req.path() != "/ws") {
        refusal.status = 401;
        refusal.body = R"({"error":{"code":"unauthenticated","message":"log in first"}})";
        return nullptr;
      }
      return std::make_shared<EchoEndpoint>(o);
    };
  }
  std::string origin() const { return "https://localhost:" + std::to_string(server.port()); }

  std::shared_ptr<Observed> obs = std::make_shared<Observed>();
  TestServer server;
};

/// A Beast WebSocket client over TLS; every operation bounded by a deadline.
class WsClient {
 public:
  WsClient(std::uint16_t port, const std::filesystem::path& ca)
      : port_(port), ctx_(ssl::context::tls_client) {
    ctx_.load_verify_file(ca.string());
    ctx_.set_verify_mode(ssl::verify_peer);
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(ioc_, ctx_);
    SSL_set_tlsext_host_name(ws_->next_layer().native_handle(), "localhost");
  }

  /// TCP, TLS and the upgrade; `origin` empty sends none.
  beast::error_code connect(const std::string& origin, const std::string& target = "/ws") {
    beast::error_code result;
    auto& low = beast::get_lowest_layer(*ws_);
    ws_->set_option(websocket::stream_base::decorator([origin](websocket::request_type& r) {
      if (!origin.empty()) r.set(http::field::origin, origin);
    }));
    low.expires_after(10s);
    low.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), [&](beast::error_code ec) {
      if (ec) return void(result = ec);
      ws_->next_layer().async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
        if (hec) return void(result = hec);
        ws_->async_handshake(response_, "localhost:" + std::to_string(port_), target,
                             [&](beast::error_code wec) { result = wec; });
      });
    });
    run();
    return result;
  }

  beast::error_code write(const std::string& data, bool text = true) {
    beast::error_code result;
    ws_->text(text);
    beast::get_lowest_layer(*ws_).expires_after(10s);
    ws_->async_write(net::buffer(data), [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result;
  }

  struct Message {
    beast::error_code ec;
    bool text = false;
    std::string data;
  };
  Message read(std::chrono::seconds limit = 10s) {
    Message m;
    beast::flat_buffer buf;
    beast::get_lowest_layer(*ws_).expires_after(limit);
    ws_->async_read(buf, [&](beast::error_code ec, std::size_t) { m.ec = ec; });
    run();
    m.text = ws_->got_text();
    m.data = beast::buffers_to_string(buf.data());
    return m;
  }

  websocket::close_reason reason() const { return ws_->reason(); }
  const websocket::response_type& response() const { return response_; }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }
  std::uint16_t port_;
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws_;
  websocket::response_type response_;
};

/// A plain HTTPS upgrade request, to see the HTTP answer of a refused upgrade.
Reply rawUpgrade(const TestServer& s, const std::string& target, const std::string& origin) {
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  std::map<std::string, std::string> h{{"Connection", "Upgrade"},
                                       {"Upgrade", "websocket"},
                                       {"Sec-WebSocket-Version", "13"},
                                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                       {"Host", "localhost:" + std::to_string(s.port())}};
  if (!origin.empty()) h["Origin"] = origin;
  return c.request(http::verb::get, target, "", h);
}

void expectHttpStillServes(const TestServer& s) {
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  auto r = c.request(http::verb::get, "/after");
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 200);
  CHECK(r.body.find("\ntarget=/after\n") != std::string::npos);
}

}  // namespace

TEST_CASE("A same-origin WebSocket upgrade reaches the endpoint, which echoes text and binary messages",
          "[web][websocket]") {
  WsServer s;
  WsClient c(s.server.port(), s.server.cert());
  REQUIRE_FALSE(c.connect(s.origin(), "/ws?cols=80&rows=24"));
  // The 101 answer carries the portal's security headers like every other answer.
  CHECK(c.response().result_int() == 101);
  CHECK(c.response()["X-Frame-Options"] == "DENY");
  CHECK(c.response()["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains");
  REQUIRE(s.obs->waitFor([&] { return s.obs->opens == 1; }));
  CHECK(s.obs->last_target == "/ws?cols=80&rows=24");

  REQUIRE_FALSE(c.write("hello"));
  auto m = c.read();
  REQUIRE_FALSE(m.ec);
  CHECK(m.text);
  CHECK(m.data == "echo:hello");

  const std::string bytes("\x00\x01\xff\x1b[0m", 7);
  REQUIRE_FALSE(c.write(bytes, false));
  m = c.read();
  REQUIRE_FALSE(m.ec);
  CHECK_FALSE(m.text);
  CHECK(m.data == bytes);

  // The endpoint closes: the client gets the code and reason, the endpoint hears onClose once.
  REQUIRE_FALSE(c.write("bye"));
  m = c.read();
  CHECK(m.ec == websocket::error::closed);
  CHECK(c.reason().code == 1000);
  CHECK(std::string(c.reason().reason.c_str()) == "done");
  REQUIRE(s.obs->waitFor([&] { return s.obs->closed.has_value(); }));
  CHECK(s.obs->closed->first == 1000);
  expectHttpStillServes(s.server);
}

TEST_CASE("Messages sent from another thread arrive whole and in order", "[web][websocket]") {
  WsServer s;
  WsClient c(s.server.port(), s.server.cert());
  REQUIRE_FALSE(c.connect(s.origin()));
  REQUIRE_FALSE(c.write("burst 2000"));
  for (int i = 0; i < 2000; ++i) {
    auto m = c.read();
    REQUIRE_FALSE(m.ec);
    REQUIRE(m.data == "msg " + std::to_string(i));
  }
}

TEST_CASE("An upgrade from another site's page, or without an Origin, is refused with 403 before the handler runs",
          "[web][websocket]") {
  WsServer s;
  const std::string port = std::to_string(s.server.port());
  for (const std::string& origin : {std::string("https://evil.example"), "http://localhost:" + port,
                                   "https://localhost:" + port + ".evil.example", std::string("null"),
                                   std::string()}) {
    DYNAMIC_SECTION("Origin '" << origin << "'") {
      auto r = rawUpgrade(s.server, "/ws", origin);
      REQUIRE_FALSE(r.ec);
      CHECK(r.status == 403);
      CHECK(r.body.find("cross-origin WebSocket refused") != std::string::npos);
      WsClient c(s.server.port(), s.server.cert());
      auto ec = c.connect(origin);
      CHECK(ec == websocket::error::upgrade_declined);
    }
  }
  std::lock_guard lk(s.obs->mu);
  CHECK(s.obs->handler_calls == 0);
  CHECK(s.obs->opens == 0);
}

TEST_CASE("A handler's refusal goes out as its HTTP answer and the server keeps serving",
          "[web][websocket]") {
  WsServer s;
  auto r = rawUpgrade(s.server, "/other", s.origin());
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 401);
  CHECK(r.body.find("unauthenticated") != std::string::npos);
  CHECK(r.header("x-frame-options") == "DENY");
  expectHttpStillServes(s.server);
}

TEST_CASE("Without a WebSocket handler an upgrade request gets 404", "[web][websocket]") {
  TestServer s;
  auto r = rawUpgrade(s, "/ws", "https://localhost:" + std::to_string(s.port()));
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 404);
  expectHttpStillServes(s);
}

TEST_CASE("A message larger than 64 KiB closes the socket with 1009 and the server keeps serving",
          "[web][websocket]") {
  WsServer s;
  WsClient c(s.server.port(), s.server.cert());
  REQUIRE_FALSE(c.connect(s.origin()));
  // Exactly at the limit is fine.
  REQUIRE_FALSE(c.write(std::string(64 * 1024 - 5, 'a')));
  auto m = c.read();
  REQUIRE_FALSE(m.ec);
  CHECK(m.data.size() == 64 * 1024);

  REQUIRE_FALSE(c.write(std::string(64 * 1024 + 1, 'a')));
  m = c.read();
  CHECK(m.ec == websocket::error::closed);
  CHECK(c.reason().code == 1009);
  REQUIRE(s.obs->waitFor([&] { return s.obs->closed.has_value(); }));
  CHECK(s.obs->closed->first == 1009);
  expectHttpStillServes(s.server);

  // A new socket works as before.
  WsClient again(s.server.port(), s.server.cert());
  REQUIRE_FALSE(again.connect(s.origin()));
  REQUIRE_FALSE(again.write("still here"));
  CHECK(again.read().data == "echo:still here");
}

TEST_CASE("A client that stops reading is closed as too slow once its pending output passes the limit",
          "[web][websocket]") {
  HttpsServerOptions opts;
  opts.websocket.max_pending_bytes = 512 * 1024;
  WsServer s(opts);
  WsClient c(s.server.port(), s.server.cert());
  REQUIRE_FALSE(c.connect(s.origin()));
  REQUIRE_FALSE(c.write("flood"));  // 128 MiB offered; the client reads none of it
  REQUIRE(s.obs->waitFor([&] { return s.obs->closed.has_value(); }, 30s));
  CHECK(s.obs->closed->first == 1008);
  CHECK(s.obs->closed->second == "client too slow");
  expectHttpStillServes(s.server);
}
