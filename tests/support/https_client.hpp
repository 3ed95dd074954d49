#pragma once
// A small synchronous HTTPS client for tests (Boost.Beast), one connection per request, with a
// cookie jar and the CSRF header, so tests speak to a real `vigil serve` as a browser would.
#include <map>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

namespace vigil::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string errorCode() const {
    auto j = json();
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }
};

class HttpsClient {
 public:
  explicit HttpsClient(int port) : port_(port) {}

  /// Sends a request; `content_type` empty means none. Adds the session cookie and CSRF token.
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& content_type = "application/json",
                     const std::map<std::string, std::string>& extra = {}) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    namespace net = boost::asio;
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.set_verify_mode(net::ssl::verify_none);  // the server's certificate is self-signed
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(stream).connect(ep);
    stream.handshake(net::ssl::stream_base::client);
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    if (!cookie_.empty()) req.set(http::field::cookie, "vigil_session=" + cookie_);
    if (!csrf_.empty()) req.set("X-CSRF-Token", csrf_);
    for (auto& [k, v] : extra) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      if (!content_type.empty()) req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buf, parser);
    auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (auto& f : res) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.headers[name] = std::string(f.value());
      if (name == "set-cookie") {
        std::string v(f.value());
        if (v.rfind("vigil_session=", 0) == 0) cookie_ = v.substr(14, v.find(';') - 14);
      }
    }
    beast::error_code ec;
    stream.shutdown(ec);
    return out;
  }

  HttpResult get(const std::string& t) { return request("GET", t); }
  HttpResult post(const std::string& t, const nlohmann::json& j) { return request("POST", t, j.dump()); }
  HttpResult put(const std::string& t, const nlohmann::json& j) { return request("PUT", t, j.dump()); }
  HttpResult patch(const std::string& t, const nlohmann::json& j) { return request("PATCH", t, j.dump()); }
  HttpResult del(const std::string& t) { return request("DELETE", t); }

  /// Logs in and keeps the cookie and CSRF token for later requests.
  HttpResult login(const std::string& user, const std::string& password, const std::string& totp = "") {
    nlohmann::json body{{"username", user}, {"password", password}};
    if (!totp.empty()) body["totp"] = totp;
    auto r = post("/api/v1/auth/login", body);
    if (r.status == 200) csrf_ = r.json().value("csrf_token", "");
    return r;
  }

  std::string& cookie() { return cookie_; }
  std::string& csrf() { return csrf_; }

 private:
  int port_;
  std::string cookie_;
  std::string csrf_;
};

}  // namespace vigil::test
