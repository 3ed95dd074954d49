#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>
#include <vector>

#include "web_test_client.hpp"

using namespace vigil::test;
using vigil::web::HttpRequest;
using vigil::web::HttpResponse;
using vigil::web::HttpsServer;
using vigil::web::HttpsServerOptions;

namespace {

const char* kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

void checkSecurityHeaders(const Reply& r, bool file = false) {
  CHECK(r.header("strict-transport-security") == "max-age=31536000; includeSubDomains");
  CHECK(r.header("content-security-policy") == kCsp);
  CHECK(r.header("x-frame-options") == "DENY");
  CHECK(r.header("x-content-type-options") == "nosniff");
  CHECK(r.header("referrer-policy") == "no-referrer");
  CHECK(r.header("server") == "vigil");
  if (!file) CHECK(r.header("cache-control") == "no-store");
}

/// One request on a fresh TLS connection.
Reply get(const TestServer& s, const std::string& target) {
  auto c = s.tls();
  auto ec = c.connect();
  REQUIRE_FALSE(ec);
  return c.request(http::verb::get, target);
}

HttpsServerOptions withTimeouts(int header_s, int idle_s) {
  HttpsServerOptions o;
  o.header_timeout_seconds = header_s;
  o.idle_timeout_seconds = idle_s;
  return o;
}

bool curlAvailable() { return runCommand("curl --version >/dev/null 2>&1").exit_code == 0; }

}  // namespace

TEST_CASE("GET over TLS 1.2 and TLS 1.3 reaches the handler and carries every security header",
          "[web][https]") {
  TestServer s;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    DYNAMIC_SECTION("version " << version) {
      auto c = s.tls({.min_version = version, .max_version = version});
      REQUIRE_FALSE(c.connect());
      CHECK(c.tlsVersion() == (version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3"));
      auto r = c.request(http::verb::get, "/api/v1/ping?x=1", "", {{"X-Test", "Hello"}});
      REQUIRE_FALSE(r.ec);
      CHECK(r.status == 200);
      CHECK(r.header("content-type") == "text/plain");
      // Header names reach the handler lower-cased; the target keeps its query.
      CHECK(r.body.find("method=GET\ntarget=/api/v1/ping?x=1\nx-test=Hello\n") == 0);
      CHECK(r.body.find("remote=127.0.0.1\n") != std::string::npos);
      checkSecurityHeaders(r);
    }
  }
}

TEST_CASE("curl verifies the generated certificate over TLS 1.2 and TLS 1.3", "[web][https]") {
  if (!curlAvailable()) {
    WARN("curl not installed; skipped");
    return;
  }
  TestServer s;
  const std::string base = "curl -sS --max-time 10 --cacert '" + s.cert().string() + "' ";
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    for (const std::string tls : {"--tlsv1.2 --tls-max 1.2", "--tlsv1.3"}) {
      auto r = runCommand(base + tls + " -o /dev/null -w '%{http_code} %{ssl_verify_result}' " +
                          "https://" + host + ":" + std::to_string(s.port()) + "/");
      INFO(host << " " << tls);
      CHECK(r.exit_code == 0);
      CHECK(r.output == "200 0");
    }
  }
}

TEST_CASE("a client limited to TLS 1.1 is refused", "[web][https]") {
  TestServer s;
  // SECLEVEL=0 lets this OpenSSL client offer TLS 1.1 at all, so the refusal is the server's.
  auto old = s.tls({.min_version = TLS1_1_VERSION,
                    .max_version = TLS1_1_VERSION,
                    .ciphers = "DEFAULT:@SECLEVEL=0",
                    .verify = false});
  auto ec = old.connect();
  REQUIRE(ec);
  INFO(ec.message());
  CHECK(ec.message().find("protocol version") != std::string::npos);

  // The same permissive client is served once it may use TLS 1.2.
  auto ok = s.tls({.min_version = TLS1_1_VERSION,
                   .max_version = TLS1_2_VERSION,
                   .ciphers = "DEFAULT:@SECLEVEL=0",
                   .verify = false});
  REQUIRE_FALSE(ok.connect());
  CHECK(ok.request(http::verb::get, "/").status == 200);
}

TEST_CASE("plain HTTP on the HTTPS port is redirected to https with the same host and target",
          "[web][https]") {
  TestServer s;
  auto c = s.plain();
  REQUIRE_FALSE(c.connect());
  const std::string host = "localhost:" + std::to_string(s.port());
  REQUIRE_FALSE(c.writeRaw("GET /portal/index.html?tab=2 HTTP/1.1\r\nHost: " + host +
                           "\r\nUser-Agent: test\r\n\r\n"));
  auto r = c.readResponse();
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 308);
  CHECK(r.header("location") == "https://" + host + "/portal/index.html?tab=2");
  CHECK_FALSE(r.body.empty());
  CHECK_FALSE(r.keep_alive);
  checkSecurityHeaders(r);
  // And the connection ends there: plain HTTP never gets a second request.
  CHECK(c.waitClosed(3s) != beast::error::timeout);
}

TEST_CASE("plain HTTP without a usable Host header gets 400", "[web][https]") {
  TestServer s;
  auto c = s.plain();
  REQUIRE_FALSE(c.connect());
  REQUIRE_FALSE(c.writeRaw("GET / HTTP/1.1\r\nHost: evil.example/\r\n\r\n"));
  auto r = c.readResponse();
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 400);
  CHECK_FALSE(r.has("location"));
  CHECK(r.body.find("\"code\":\"bad_request\"") != std::string::npos);
}

TEST_CASE("a keep-alive connection serves several requests", "[web][https]") {
  TestServer s;
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request(http::verb::post, "/n/" + std::to_string(i), "payload-" + std::to_string(i));
    REQUIRE_FALSE(r.ec);
    CHECK(r.status == 200);
    CHECK(r.keep_alive);
    CHECK(r.body.find("body=payload-" + std::to_string(i)) != std::string::npos);
  }
}

TEST_CASE("a body over the limit gets 413 JSON and the server keeps serving", "[web][https]") {
  HttpsServerOptions o;
  o.max_body_bytes = 64 * 1024;
  TestServer s(echoHandler, o);

  SECTION("in-process client") {
    auto c = s.tls();
    REQUIRE_FALSE(c.connect());
    auto r = c.request(http::verb::post, "/upload", std::string(200 * 1024, 'x'));
    REQUIRE_FALSE(r.ec);
    CHECK(r.status == 413);
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.body.find("{\"error\":{\"code\":\"payload_too_large\",\"message\":") == 0);
    CHECK_FALSE(r.keep_alive);
    checkSecurityHeaders(r);
  }
  SECTION("curl, which announces large bodies with Expect: 100-continue") {
    if (!curlAvailable()) return;
    const auto file = s.dir() / "big.bin";
    std::ofstream(file) << std::string(2 * 1024 * 1024, 'y');
    auto r = runCommand("curl -sS --max-time 10 --cacert '" + s.cert().string() +
                        "' -H 'Content-Type: application/octet-stream' --data-binary @'" +
                        file.string() + "' https://localhost:" + std::to_string(s.port()) + "/up");
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("payload_too_large") != std::string::npos);
  }

  // Exactly at the limit is fine, and the server is still serving.
  auto ok = s.tls();
  REQUIRE_FALSE(ok.connect());
  auto r = ok.request(http::verb::post, "/upload", std::string(64 * 1024, 'z'));
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 200);
  CHECK(r.body.find("body-size=65536\n") != std::string::npos);
}

TEST_CASE("an oversized request header gets 431 JSON", "[web][https]") {
  TestServer s;
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  auto r = c.request(http::verb::get, "/", "", {{"X-Big", std::string(20 * 1024, 'h')}});
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 431);
  CHECK(r.body.find("\"code\":\"header_too_large\"") != std::string::npos);
  checkSecurityHeaders(r);
  CHECK(get(s, "/after").status == 200);
}

TEST_CASE("garbage bytes are refused and the server keeps serving", "[web][https]") {
  TestServer s;
  std::mt19937 rng(12345);
  std::string noise(3000, '\0');
  for (auto& ch : noise) ch = static_cast<char>(rng() & 0xff);

  SECTION("on a raw TCP connection") {
    for (char first : {'\x16', '\x00', 'G'}) {  // looks like TLS, binary, looks like HTTP
      noise[0] = first;
      auto c = s.plain();
      REQUIRE_FALSE(c.connect());
      c.writeRaw(noise);  // the server may already have hung up; either is fine
      CHECK(c.waitClosed(5s) != beast::error::timeout);
    }
  }
  SECTION("inside a TLS connection") {
    auto c = s.tls();
    REQUIRE_FALSE(c.connect());
    REQUIRE_FALSE(c.writeRaw("\x01\x02 NOT HTTP AT ALL\r\n\r\n" + noise));
    auto r = c.readResponse();
    REQUIRE_FALSE(r.ec);
    CHECK(r.status == 400);
    CHECK(r.body.find("{\"error\":{\"code\":\"bad_request\"") == 0);
    checkSecurityHeaders(r);
    CHECK(c.waitClosed(5s) != beast::error::timeout);
  }
  CHECK(get(s, "/still-alive").status == 200);
}

TEST_CASE("a client that stalls mid-request is disconnected after the header timeout",
          "[web][https][timeout]") {
  TestServer s(echoHandler, withTimeouts(1, 30));

  SECTION("half a request over TLS") {
    auto c = s.tls();
    REQUIRE_FALSE(c.connect());
    REQUIRE_FALSE(c.writeRaw("GET /slowloris HTTP/1.1\r\nHost: localhost\r\nX-A: "));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.waitClosed(10s) != beast::error::timeout);
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(waited >= 800ms);
    CHECK(waited < 4s);
  }
  SECTION("a connection that never says anything") {
    auto c = s.plain();
    REQUIRE_FALSE(c.connect());
    CHECK(c.waitClosed(10s) != beast::error::timeout);
  }
  SECTION("half a plain-HTTP request") {
    auto c = s.plain();
    REQUIRE_FALSE(c.connect());
    REQUIRE_FALSE(c.writeRaw("GET / HTTP/1.1\r\nHo"));
    CHECK(c.waitClosed(10s) != beast::error::timeout);
  }
  CHECK(get(s, "/").status == 200);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout",
          "[web][https][timeout]") {
  TestServer s(echoHandler, withTimeouts(30, 1));
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  REQUIRE(c.request(http::verb::get, "/").status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c.waitClosed(10s) != beast::error::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

TEST_CASE("a handler that throws gives 500 JSON without the exception text", "[web][https]") {
  TestServer s([](const HttpRequest& req) -> HttpResponse {
    if (req.path() == "/boom") throw std::runtime_error("secret-detail password=hunter2");
    if (req.path() == "/boom-int") throw 42;
    return echoHandler(req);
  });
  for (const char* target : {"/boom", "/boom-int"}) {
    auto c = s.tls();
    REQUIRE_FALSE(c.connect());
    auto r = c.request(http::verb::get, target);
    REQUIRE_FALSE(r.ec);
    CHECK(r.status == 500);
    CHECK(r.body == R"({"error":{"code":"internal","message":"internal error"}})");
    CHECK(r.body.find("hunter2") == std::string::npos);
    checkSecurityHeaders(r);
    // A handler failure is not a connection failure.
    CHECK(c.request(http::verb::get, "/fine").status == 200);
  }
}

TEST_CASE("handler headers cannot weaken security headers or inject header lines",
          "[web][https]") {
  TestServer s([](const HttpRequest&) {
    HttpResponse out;
    out.status = 201;
    out.body = "{}";
    out.headers = {{"Set-Cookie", "sid=abc; Secure; HttpOnly"},
                   {"Content-Security-Policy", "default-src *"},
                   {"X-Frame-Options", "ALLOWALL"},
                   {"X-Injected", "a\r\nX-Evil: 1"},
                   {"Content-Length", "5"}};
    return out;
  });
  auto r = get(s, "/");
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 201);
  CHECK(r.body == "{}");
  CHECK(r.header("set-cookie") == "sid=abc; Secure; HttpOnly");
  CHECK(r.header("content-type") == "application/json");
  CHECK_FALSE(r.has("x-injected"));
  CHECK_FALSE(r.has("x-evil"));
  checkSecurityHeaders(r);
}

TEST_CASE("a file response streams the file, and a missing file gives 404 JSON", "[web][https]") {
  TempDir files;
  const auto css = files.path() / "app.css";
  std::ofstream(css) << "body { color: black; }\n";
  TestServer s([&](const HttpRequest& req) {
    HttpResponse out;
    out.content_type = "text/css";
    out.file_path = (req.path() == "/app.css" ? css : files.path() / "nope.css").string();
    return out;
  });

  auto r = get(s, "/app.css");
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 200);
  CHECK(r.body == "body { color: black; }\n");
  CHECK(r.header("content-type") == "text/css");
  checkSecurityHeaders(r, /*file=*/true);

  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  auto head = c.request(http::verb::head, "/app.css");
  REQUIRE_FALSE(head.ec);
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == "23");
  CHECK(head.body.empty());
  // Nothing stray follows the HEAD answer: the connection still frames the next request.
  CHECK(c.request(http::verb::get, "/app.css").body == "body { color: black; }\n");

  auto missing = get(s, "/missing.css");
  REQUIRE_FALSE(missing.ec);
  CHECK(missing.status == 404);
  CHECK(missing.header("content-type") == "application/json");
  CHECK(missing.body.find("\"code\":\"not_found\"") != std::string::npos);
  checkSecurityHeaders(missing);
}

TEST_CASE("a streamed response is sent piece by piece as the client reads; a failing piece ends the connection",
          "[web][https]") {
  constexpr std::uint64_t kSize = 3'000'001;  // many pieces, the last one short
  std::atomic<int> pieces{0};
  std::atomic<std::uint64_t> max_piece{0};
  TestServer s([&](const HttpRequest& req) {
    HttpResponse out;
    out.content_type = "application/octet-stream";
    const bool broken = req.path() == "/broken";
    out.stream = vigil::web::StreamedBody{kSize, [&, broken](std::uint64_t offset, std::string& piece) {
      if (broken && offset >= 100'000) return false;  // e.g. a record that does not decrypt
      ++pieces;
      for (std::uint64_t i = offset; i < std::min(kSize, offset + 65'536); ++i) piece += static_cast<char>('a' + i % 26);
      max_piece = std::max<std::uint64_t>(max_piece, piece.size());
      return true;
    }};
    return out;
  });
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  auto r = c.request(http::verb::get, "/video");
  REQUIRE_FALSE(r.ec);
  CHECK(r.status == 200);
  CHECK(r.header("content-length") == std::to_string(kSize));
  REQUIRE(r.body.size() == kSize);
  bool same = true;
  for (std::uint64_t i = 0; i < kSize && same; ++i) same = r.body[i] == static_cast<char>('a' + i % 26);
  CHECK(same);
  CHECK(pieces == 46);  // 64 KiB pieces, the last one short
  CHECK(max_piece == 65'536);
  checkSecurityHeaders(r);  // API data: no-store
  // HEAD: the length only, no piece made; the connection frames the next request.
  pieces = 0;
  auto head = c.request(http::verb::head, "/video");
  REQUIRE_FALSE(head.ec);
  CHECK(head.header("content-length") == std::to_string(kSize));
  CHECK(head.body.empty());
  CHECK(pieces == 0);
  CHECK(c.request(http::verb::get, "/video").body.size() == kSize);

  // A piece that cannot be made: the body stops short and the connection closes (the status went
  // out already); the server keeps serving others.
  auto b = s.tls();
  REQUIRE_FALSE(b.connect());
  auto broken = b.request(http::verb::get, "/broken");
  CHECK((broken.ec || broken.body.size() < kSize));
  CHECK(get(s, "/video").body.size() == kSize);
}

TEST_CASE("50 concurrent requests all succeed", "[web][https][load]") {
  std::atomic<int> in_handler{0}, max_in_handler{0};
  HttpsServerOptions o;
  o.worker_threads = 4;
  TestServer s(
      [&](const HttpRequest& req) {
        int now = ++in_handler;
        int seen = max_in_handler.load();
        while (now > seen && !max_in_handler.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(20ms);  // a database round trip
        --in_handler;
        return echoHandler(req);
      },
      o);

  constexpr int kClients = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto c = s.tls();
      if (c.connect()) return;
      auto r = c.request(http::verb::post, "/c/" + std::to_string(i), "n=" + std::to_string(i));
      const bool echoed = r.body.find("body=n=" + std::to_string(i)) != std::string::npos;
      if (!r.ec && r.status == 200 && echoed) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kClients);
  // Handlers ran in parallel on the pool, but never more than the pool size.
  CHECK(max_in_handler > 1);
  CHECK(max_in_handler <= 4);
}

TEST_CASE("stop() returns promptly and closes connected clients", "[web][https][stop]") {
  auto s = std::make_unique<TestServer>(echoHandler, withTimeouts(60, 60));

  auto idle = s->tls();  // handshaken, between requests
  REQUIRE_FALSE(idle.connect());
  REQUIRE(idle.request(http::verb::get, "/").status == 200);
  auto stalled = s->tls();  // mid-request
  REQUIRE_FALSE(stalled.connect());
  REQUIRE_FALSE(stalled.writeRaw("GET / HTTP/1.1\r\nHost: x\r\n"));
  auto silent = s->plain();  // connected, never sent a byte
  REQUIRE_FALSE(silent.connect());
  std::this_thread::sleep_for(100ms);  // let the server accept them all

  const auto t0 = std::chrono::steady_clock::now();
  s->server().stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);

  CHECK(idle.waitClosed(3s) != beast::error::timeout);
  CHECK(stalled.waitClosed(3s) != beast::error::timeout);
  CHECK(silent.waitClosed(3s) != beast::error::timeout);

  // Nobody listens any more.
  auto late = s->plain();
  CHECK(late.connect());

  s->server().stop();  // idempotent
  s.reset();           // and the destructor after stop() is fine
}

TEST_CASE("stop() may be called from inside a handler", "[web][https][stop]") {
  HttpsServer* self = nullptr;
  TestServer s([&](const HttpRequest& req) {
    if (req.path() == "/shutdown") self->stop();
    return echoHandler(req);
  });
  self = &s.server();
  auto c = s.tls();
  REQUIRE_FALSE(c.connect());
  c.request(http::verb::get, "/shutdown");  // the answer may or may not make it out
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto late = s.plain();
    refused = static_cast<bool>(late.connect());
    if (!refused) std::this_thread::sleep_for(20ms);
  }
  CHECK(refused);
}

TEST_CASE("binding a port that is in use throws with the address", "[web][https]") {
  TestServer s;
  HttpsServerOptions o;
  o.port = s.port();
  o.cert_file = s.cert().string();
  o.key_file = (s.cert().parent_path() / "key.pem").string();
  try {
    HttpsServer second(o, echoHandler);
    FAIL("second server on the same port started");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(s.port())) !=
          std::string::npos);
  }
}

TEST_CASE("a missing certificate file is a start-up error", "[web][https]") {
  TempDir dir;
  HttpsServerOptions o;
  o.port = 0;
  o.cert_file = (dir.path() / "none.pem").string();
  o.key_file = (dir.path() / "none.key").string();
  CHECK_THROWS_AS(HttpsServer(o, echoHandler), std::runtime_error);
}
