#pragma once
// A small TDS 7.4 server for the tests (no SQL Server runs on this platform). It speaks enough of
// MS-TDS for FreeTDS tsql and Node's tedious: PRELOGIN with encryption negotiation (TLS inside
// PRELOGIN packets, then on the stream for the whole connection or only for LOGIN7), LOGIN7 with
// the obfuscated password checked against its own configured login (decoded here independently
// of protocols/tds), SQLBatch, RPC and ATTENTION. It records what it received so that tests can
// prove a refused statement never arrived.
//
// Answers: a batch containing "boom" -> ERROR 50000 + DONE(error); one starting with "select" ->
// one NVARCHAR column "v" with 3 rows + DONE(count 3); containing "waitfor" -> waits up to 10 s
// for an ATTENTION, then answers the batch (DONE) and acknowledges the attention (DONE(attn)); anything else -> DONE(count 2). RPCs -> DONEINPROC(count 1)
// + RETURNSTATUS 0 + DONEPROC.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

#include "protocols/tds/tds_wire.hpp"
#include "protocols/tds/tls_leg.hpp"
#include "server/crypto/tls_cert.hpp"

namespace vigil::test {

class TdsTestServer {
 public:
  struct Seen {
    std::vector<std::string> logins;   // "user:ok" or "user:bad-password"
    std::vector<std::string> batches;  // UTF-8 batch texts
    std::vector<std::string> rpcs;     // payloads, UTF-16 decoded loosely to UTF-8
    std::vector<std::string> raw;      // every request payload (for "never received" checks)
    std::vector<int> encryption;       // the PRELOGIN ENCRYPTION value each client asked for
    int attentions = 0;
  };

  TdsTestServer(std::string login, std::string password, std::string dir)
      : login_(std::move(login)), password_(std::move(password)) {
    const auto cert = dir + "/tds-test-cert.pem", key = dir + "/tds-test-key.pem";
    vigil::ensureSelfSignedCertificate(cert, key, {"localhost"});
    std::string error;
    ctx_ = tds::makeServerTlsContext(cert, key, error);
    if (!ctx_) throw std::runtime_error("test server TLS: " + error);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("test server cannot listen");
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { acceptLoop(); });
  }
  ~TdsTestServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    std::unique_lock lk(mu_);
    for (int c : clients_) ::shutdown(c, SHUT_RDWR);
    lk.unlock();
    for (int i = 0; i < 100 && active_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  Seen seen() {
    std::lock_guard lk(mu_);
    return seen_;
  }
  /// True if any request payload received so far contains `text` (as UTF-16LE or bytes).
  bool received(const std::string& text) {
    const std::string u16 = tds::utf8ToUtf16(text);
    std::lock_guard lk(mu_);
    for (const auto& r : seen_.raw)
      if (r.find(u16) != std::string::npos || r.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  struct Conn {
    int fd;
    std::unique_ptr<tds::TlsLeg> tls;
    bool stream_tls = false;
    tds::PacketFramer framer;
    bool send(const std::string& plain) {
      std::string out = plain, err;
      if (stream_tls) {
        out.clear();
        if (!tls->encrypt(plain, out, err)) return false;
      }
      return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
    }
    // The next packet; nullopt on close or after `timeout_ms` (-1: forever).
    std::optional<std::string> packet(int timeout_ms = -1) {
      for (;;) {
        if (auto p = framer.next()) return p;
        if (framer.failed()) return std::nullopt;
        pollfd pf{fd, POLLIN, 0};
        if (::poll(&pf, 1, timeout_ms) <= 0) return std::nullopt;
        char buf[32768];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return std::nullopt;
        std::string plain, err;
        if (stream_tls) {
          if (!tls->decrypt(std::string_view(buf, n), plain, err)) return std::nullopt;
        } else {
          plain.assign(buf, n);
        }
        framer.push(plain);
      }
    }
    // A whole message: type and payload.
    bool message(std::uint8_t& type, std::string& payload) {
      payload.clear();
      for (;;) {
        auto p = packet();
        if (!p) return false;
        type = static_cast<std::uint8_t>((*p)[0]);
        payload.append(*p, 8, std::string::npos);
        if ((*p)[1] & 1) return true;
      }
    }
  };

  void acceptLoop() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      {
        std::lock_guard lk(mu_);
        clients_.push_back(c);
      }
      ++active_;
      std::thread([this, c] {
        try {
          serve(c);
        } catch (...) {
        }
        {
          std::lock_guard lk(mu_);
          clients_.erase(std::remove(clients_.begin(), clients_.end(), c), clients_.end());
        }
        ::close(c);
        --active_;
      }).detach();
    }
  }

  static std::string le16(std::uint16_t v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
  static std::string le32(std::uint32_t v) { return le16(v & 0xffff) + le16(v >> 16); }
  static std::uint16_t rd16(const std::string& s, std::size_t at) {
    return static_cast<std::uint8_t>(s[at]) | (static_cast<std::uint8_t>(s[at + 1]) << 8);
  }
  static std::string bvarchar(const std::string& utf8) {
    const auto u = tds::utf8ToUtf16(utf8);
    return std::string(1, static_cast<char>(u.size() / 2)) + u;
  }
  static std::string done(std::uint8_t tok, std::uint16_t status, std::uint64_t rows) {
    return tds::doneToken(tok, status, rows);
  }
  static std::string envchange(std::uint8_t type, const std::string& nv, const std::string& ov) {
    const std::string body = std::string(1, static_cast<char>(type)) + bvarchar(nv) + bvarchar(ov);
    return "\xE3" + le16(static_cast<std::uint16_t>(body.size())) + body;
  }
  static std::string resultSet(int rows) {
    std::string t = "\x81" + le16(1);
    t += le32(0) + le16(0x0001);          // user type, flags (nullable)
    t += "\xE7" + le16(100) + std::string("\x09\x04\xD0\x00\x34", 5);  // NVARCHAR(50), collation
    t += bvarchar("v");
    for (int i = 0; i < rows; ++i) {
      const auto v = tds::utf8ToUtf16(std::string(1, static_cast<char>('a' + i)));
      t += "\xD1" + le16(static_cast<std::uint16_t>(v.size())) + v;
    }
    return t;
  }

  void serve(int fd) {
    Conn c{fd, nullptr};
    std::uint8_t type;
    std::string payload, why;
    if (!c.message(type, payload) || type != tds::kPrelogin) return;
    auto opts = tds::parsePrelogin(payload, why);
    if (!opts) return;
    const std::uint8_t asked = tds::preloginEncryption(*opts).value_or(tds::kEncryptNotSup);
    {
      std::lock_guard lk(mu_);
      seen_.encryption.push_back(asked);
    }
    const std::uint8_t answer = asked == tds::kEncryptReq ? tds::kEncryptOn : asked;
    const std::string reply = tds::buildPrelogin({{tds::kPreVersion, std::string("\x0F\x00\x07\xD0\x00\x00", 6)},
                                                  {tds::kPreEncryption, std::string(1, static_cast<char>(answer))},
                                                  {tds::kPreInstOpt, std::string(1, '\0')},
                                                  {tds::kPreThreadId, std::string()},
                                                  {tds::kPreMars, std::string(1, '\0')}});
    c.send(tds::buildPackets(tds::kTabularResult, reply));
    if (answer != tds::kEncryptNotSup) {
      c.tls = std::make_unique<tds::TlsLeg>(ctx_, true);
      for (;;) {
        auto p = c.packet(10000);
        if (!p || (*p)[0] != tds::kPrelogin) return;
        std::string out;
        const int rc = c.tls->handshake(std::string_view(*p).substr(8), out, why);
        if (rc < 0) return;
        if (!out.empty()) c.send(tds::buildPackets(tds::kPrelogin, out));
        if (rc == 1) break;
      }
      c.stream_tls = true;
    }
    if (!c.message(type, payload) || type != tds::kLogin7 || payload.size() < 94) return;
    if (answer == tds::kEncryptOff) c.stream_tls = false;  // login-only encryption
    // LOGIN7: user name at offset 40, password at 44 (offset, length in characters).
    const std::string user = tds::utf16ToUtf8(payload.substr(rd16(payload, 40), rd16(payload, 42) * 2u));
    std::string pw = payload.substr(rd16(payload, 44), rd16(payload, 46) * 2u);
    for (auto& ch : pw) {
      const auto b = static_cast<std::uint8_t>(static_cast<std::uint8_t>(ch) ^ 0xA5);
      ch = static_cast<char>(((b << 4) | (b >> 4)) & 0xFF);
    }
    const bool ok = user == login_ && tds::utf16ToUtf8(pw) == password_;
    {
      std::lock_guard lk(mu_);
      seen_.logins.push_back(user + (ok ? ":ok" : ":bad-password"));
    }
    if (!ok) {
      c.send(tds::errorReply(18456, "Login failed for user '" + user + "'."));
      return;
    }
    std::string ack = std::string("\x01\x74\x00\x00\x04", 5) + bvarchar("TdsTestServer") + std::string("\x0F\x00\x07\xD0", 4);
    std::string resp = envchange(1, "master", "") + "\xAD" + le16(static_cast<std::uint16_t>(ack.size())) + ack +
                       envchange(4, "4096", "4096") + done(tds::kTokDone, 0, 0);
    c.send(tds::buildPackets(tds::kTabularResult, resp));

    while (c.message(type, payload)) {
      {
        std::lock_guard lk(mu_);
        seen_.raw.push_back(payload);
      }
      if (type == tds::kAttention) {
        std::lock_guard lk(mu_);
        ++seen_.attentions;
        c.send(tds::buildPackets(tds::kTabularResult, done(tds::kTokDone, tds::kDoneAttn, 0)));
        continue;
      }
      std::string body = payload.size() >= 4 ? payload.substr(std::min<std::size_t>(rd16(payload, 0), payload.size())) : "";
      if (type == tds::kSqlBatch) {
        std::string text = tds::utf16ToUtf8(body), lower = text;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        {
          std::lock_guard lk(mu_);
          seen_.batches.push_back(text);
        }
        std::string out;
        if (lower.find("boom") != std::string::npos) {
          out = tds::errorToken(50000, 1, 16, "boom from the test server", "TdsTestServer") +
                done(tds::kTokDone, tds::kDoneError, 0);
        } else if (lower.find("waitfor") != std::string::npos) {
          auto p = c.packet(10000);
          if (p && (*p)[0] == tds::kAttention) {
            {
              std::lock_guard lk(mu_);
              ++seen_.attentions;
            }
            // The cancelled request's (empty) answer, then the attention acknowledgment as its
            // own message: clients read until the DONE_ATTN.
            c.send(tds::buildPackets(tds::kTabularResult, done(tds::kTokDone, 0, 0)));
          }
          out = done(tds::kTokDone, tds::kDoneAttn, 0);
        } else if (lower.find_first_not_of(" \r\n\t") != std::string::npos &&
                   lower.compare(lower.find_first_not_of(" \r\n\t"), 6, "select") == 0) {
          out = resultSet(3) + done(tds::kTokDone, tds::kDoneCount, 3);
        } else {
          out = done(tds::kTokDone, tds::kDoneCount, 2);
        }
        c.send(tds::buildPackets(tds::kTabularResult, out));
      } else if (type == tds::kRpc) {
        {
          std::lock_guard lk(mu_);
          seen_.rpcs.push_back(tds::utf16ToUtf8(body));
        }
        const bool select = tds::utf16ToUtf8(body).find("select") != std::string::npos;
        std::string out = select ? resultSet(3) + done(tds::kTokDoneInProc, tds::kDoneCount | tds::kDoneMore, 3)
                                 : done(tds::kTokDoneInProc, tds::kDoneCount | tds::kDoneMore, 1);
        out += std::string("\x79") + le32(0) + done(tds::kTokDoneProc, 0, 0);
        c.send(tds::buildPackets(tds::kTabularResult, out));
      } else {
        c.send(tds::buildPackets(tds::kTabularResult, done(tds::kTokDone, 0, 0)));
      }
    }
  }

  std::string login_, password_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{0};
  std::mutex mu_;
  std::vector<int> clients_;
  Seen seen_;
};

}  // namespace vigil::test
