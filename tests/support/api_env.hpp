#pragma once
// Shared environment for the REST API integration tests: ONE real `vigil serve` (with its embedded
// PostgreSQL) per test binary, the initial superuser with its one-time password replaced, and
// helpers to create users with roles, page through lists, read the audit log, dump the database
// and compute TOTP codes independently of the server's implementation.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/https_client.hpp"
#include "support/vigil_server.hpp"

namespace api_test {

using json = nlohmann::json;
using vigil::test::HttpResult;
using vigil::test::HttpsClient;
using vigil::test::VigilServer;

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

/// A process-unique name: "<prefix>-<n>-<random>" (the server is fresh per run, the random part
/// only guards against accidental reuse of a data directory).
inline std::string uniq(const std::string& prefix) {
  static std::atomic<int> n{0};
  static const std::string run = [] {
    std::random_device rd;
    std::ostringstream o;
    o << std::hex << (rd() & 0xffffff);
    return o.str();
  }();
  return prefix + "-" + std::to_string(++n) + "-" + run;
}

/// Random lowercase hex, for secret markers.
inline std::string randomHex(std::size_t bytes) {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = rd() & 0xff;
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

inline std::string toHex(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

inline std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

inline std::string header(const HttpResult& r, const std::string& lower_name) {
  auto it = r.headers.find(lower_name);
  return it == r.headers.end() ? std::string() : it->second;
}

/// Asserts an API error: status, `error.code`, a JSON content type and a message string.
inline void checkError(const HttpResult& r, int status, const std::string& code) {
  INFO("response " << r.status << " " << r.body.substr(0, 300));
  CHECK(r.status == status);
  CHECK(r.errorCode() == code);
  CHECK(header(r, "content-type").rfind("application/json", 0) == 0);
  auto j = r.json();
  CHECK((j.is_object() && j.contains("error") && j["error"].contains("message") && j["error"]["message"].is_string()));
}

// ---------------------------------------------------------------- TOTP (RFC 6238, own code)

inline std::vector<unsigned char> base32Decode(const std::string& s) {
  std::vector<unsigned char> out;
  unsigned buffer = 0;
  int bits = 0;
  for (char ch : s) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a';
    else if (ch >= '2' && ch <= '7') v = ch - '2' + 26;
    else continue;  // padding, spaces
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<unsigned char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

inline std::string totpAt(const std::vector<unsigned char>& key, std::uint64_t step) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i, step >>= 8) msg[i] = static_cast<unsigned char>(step & 0xff);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg, sizeof msg, mac, &len);
  const int off = mac[len - 1] & 0x0f;
  const std::uint32_t bin = (static_cast<std::uint32_t>(mac[off] & 0x7f) << 24) |
                            (static_cast<std::uint32_t>(mac[off + 1]) << 16) |
                            (static_cast<std::uint32_t>(mac[off + 2]) << 8) | static_cast<std::uint32_t>(mac[off + 3]);
  std::string code = std::to_string(bin % 1000000);
  return std::string(6 - code.size(), '0') + code;
}

inline std::uint64_t nowStep() { return static_cast<std::uint64_t>(std::time(nullptr)) / 30; }

// ---------------------------------------------------------------- principals and the server

struct Principal {
  std::int64_t id = 0;
  std::string username;
  std::string password;
  std::vector<std::string> roles;
  std::shared_ptr<HttpsClient> client;
  HttpsClient& http() const { return *client; }
};

class Env {
 public:
  /// `extra_yaml` is appended to the server's config (top-level keys).
  explicit Env(const std::string& extra_yaml = "") : server_(extra_yaml) {
    su_.username = "admin";
    su_.roles = {"superuser"};
    su_.client = std::make_shared<HttpsClient>(server_.port());
    const std::string initial = server_.adminPassword();
    if (initial.empty()) throw std::runtime_error("no initial admin password in the server output");
    auto r = su_.client->login("admin", initial);
    if (r.status != 200) throw std::runtime_error("admin login failed: " + r.body);
    su_.id = r.json()["user"]["id"].get<std::int64_t>();
    initial_must_change = r.json()["user"].value("must_change_password", false);
    // Before the one-time password is replaced everything but /me, password and logout is refused.
    auto gate = su_.client->get("/api/v1/safes");
    gate_status = gate.status;
    gate_code = gate.errorCode();
    me_status_before_change = su_.client->get("/api/v1/me").status;
    su_.password = "Admin-" + randomHex(8) + "-Passw0rd";
    auto c = su_.client->post("/api/v1/me/password", {{"current_password", initial}, {"new_password", su_.password}});
    if (c.status != 204) throw std::runtime_error("admin password change failed: " + c.body);
  }

  VigilServer& server() { return server_; }
  int port() const { return server_.port(); }
  Principal& su() { return su_; }
  HttpsClient& admin() { return *su_.client; }
  std::shared_ptr<HttpsClient> newClient() { return std::make_shared<HttpsClient>(server_.port()); }

  /// Creates a local user through the API (as the superuser); with `login`, logs the user in and
  /// replaces the one-time password, returning a ready client.
  Principal makeUser(const std::vector<std::string>& roles, bool login = true, const std::string& name = "") {
    Principal p;
    p.username = name.empty() ? uniq("user") : name;
    p.roles = roles;
    const std::string initial = "Initial-" + randomHex(6) + "-pw";
    auto r = admin().post("/api/v1/users", {{"username", p.username}, {"roles", roles}, {"password", initial}});
    INFO("create user: " << r.body);
    REQUIRE(r.status == 201);
    REQUIRE(r.json()["must_change_password"] == true);
    p.id = r.json()["id"].get<std::int64_t>();
    p.password = initial;
    if (!login) return p;
    p.client = newClient();
    auto l = p.client->login(p.username, initial);
    INFO("login: " << l.body);
    REQUIRE(l.status == 200);
    REQUIRE(l.json()["user"]["must_change_password"] == true);
    auto gate = p.client->get("/api/v1/targets");
    REQUIRE(gate.status == 403);
    REQUIRE(gate.errorCode() == "password_change_required");
    p.password = "Pw-" + randomHex(8) + "-changed";
    auto c = p.client->post("/api/v1/me/password", {{"current_password", initial}, {"new_password", p.password}});
    INFO("password change: " << c.body);
    REQUIRE(c.status == 204);
    return p;
  }

  /// All items of a keyset-paginated list (limit 500, following next_after).
  std::vector<json> listAll(HttpsClient& c, const std::string& path) {
    std::vector<json> out;
    std::string sep = contains(path, "?") ? "&" : "?";
    std::optional<std::int64_t> after;
    for (int guard = 0; guard < 1000; ++guard) {
      std::string url = path + sep + "limit=500" + (after ? "&after=" + std::to_string(*after) : "");
      auto r = c.get(url);
      INFO(url << " -> " << r.status << " " << r.body.substr(0, 300));
      REQUIRE(r.status == 200);
      auto j = r.json();
      for (auto& it : j["items"]) out.push_back(it);
      if (j["next_after"].is_null()) break;
      after = j["next_after"].get<std::int64_t>();
    }
    return out;
  }
  std::vector<json> listAll(const std::string& path) { return listAll(admin(), path); }

  /// Audit rows (as the superuser), optionally filtered by actor / action.
  std::vector<json> audit(const std::string& actor = "", const std::string& action = "") {
    std::string q = "/api/v1/audit";
    std::string sep = "?";
    if (!actor.empty()) q += sep + "actor=" + urlEncode(actor), sep = "&";
    if (!action.empty()) q += sep + "action=" + urlEncode(action);
    return listAll(q);
  }

  std::string pgPassword() {
    std::string pw = readFile(server_.dataDir() + "/pg/password");
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    return pw;
  }

  /// pg_dump of the whole Vigil database, as the postgres OS user over the server's socket.
  std::string pgDump() {
    auto r = vigil::test::runCommand("PGPASSWORD='" + pgPassword() + "' runuser -u postgres -- " + kPgBin +
                                     "/pg_dump -h " + server_.dataDir() + "/pg/run -p 5432 -U vigil vigil");
    INFO(r.output.substr(0, 500));
    REQUIRE(r.exit_code == 0);
    REQUIRE(contains(r.output, "CREATE TABLE public.accounts"));
    return r.output;
  }

  /// One SQL query through psql (unaligned, tuples only).
  std::string psql(const std::string& sql) {
    auto r = vigil::test::runCommand("PGPASSWORD='" + pgPassword() + "' runuser -u postgres -- " + kPgBin +
                                     "/psql -X -q -At -h " + server_.dataDir() + "/pg/run -p 5432 -U vigil -d vigil -c \"" +
                                     sql + "\"");
    INFO(sql << " -> " << r.output);
    REQUIRE(r.exit_code == 0);
    std::string s = r.output;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  /// Text of every file under data_dir/logs plus the embedded PostgreSQL's own log.
  std::string serverLogs() {
    std::string all;
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(server_.dataDir() + "/logs", ec))
      if (e.is_regular_file()) all += readFile(e.path().string());
    if (fs::exists(server_.dataDir() + "/pg/postgres.log")) all += readFile(server_.dataDir() + "/pg/postgres.log");
    return all;
  }

  bool initial_must_change = false;
  int gate_status = 0;
  std::string gate_code;
  int me_status_before_change = 0;

 private:
  VigilServer server_;
  Principal su_;
};

/// The one server of this test binary, started on first use and stopped (by PID) at exit.
inline Env& env() {
  static Env e;
  return e;
}

/// The server still answers after whatever was just sent.
inline void checkAlive() {
  auto h = env().newClient()->get("/healthz");
  CHECK(h.status == 200);
  CHECK(h.json().value("status", "") == "ok");
}

}  // namespace api_test
