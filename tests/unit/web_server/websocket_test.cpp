// WebSocket upgrades on the HTTPS port, driven by a real Beast WebSocket client over TLS.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "support/ws_client.hpp"
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
  WsClient c(s.server.port(), s.server.cert().string());
  REQUIRE_FALSE(c.connectFrom("/ws?cols=80&rows=24", "", s.origin()));
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
  WsClient c(s.server.port(), s.server.cert().string());
  REQUIRE_FALSE(c.connectFrom("/ws", "", s.origin()));
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
      WsClient c(s.server.port(), s.server.cert().string());
      auto ec = c.connectFrom("/ws", "", origin);
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
  WsClient c(s.server.port(), s.server.cert().string());
  REQUIRE_FALSE(c.connectFrom("/ws", "", s.origin()));
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
  WsClient again(s.server.port(), s.server.cert().string());
  REQUIRE_FALSE(again.connectFrom("/ws", "", s.origin()));
  REQUIRE_FALSE(again.write("still here"));
  CHECK(again.read().data == "echo:still here");
}

TEST_CASE("A client that stops reading is closed as too slow once its pending output passes the limit",
          "[web][websocket]") {
  HttpsServerOptions opts;
  opts.websocket.max_pending_bytes = 512 * 1024;
  WsServer s(opts);
  WsClient c(s.server.port(), s.server.cert().string());
  REQUIRE_FALSE(c.connectFrom("/ws", "", s.origin()));
  REQUIRE_FALSE(c.write("flood"));  // 128 MiB offered; the client reads none of it
  REQUIRE(s.obs->waitFor([&] { return s.obs->closed.has_value(); }, 30s));
  CHECK(s.obs->closed->first == 1008);
  CHECK(s.obs->closed->second == "client too slow");
  expectHttpStillServes(s.server);
}
