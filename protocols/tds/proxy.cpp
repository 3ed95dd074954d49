#include "protocols/tds/proxy.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "protocols/net/target_pin.hpp"
#include "protocols/tds/tds_decoder.hpp"
#include "protocols/tds/tds_wire.hpp"
#include "protocols/tds/tls_leg.hpp"

namespace vigil::tds {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto l = spdlog::get("proxy.tds")) return l;
    try {
      // Shares the default logger's sinks (stderr + file when `vigil serve` set them up).
      auto def = spdlog::default_logger();
      auto l = std::make_shared<spdlog::logger>("proxy.tds", def->sinks().begin(), def->sinks().end());
      l->set_level(def->level());
      l->flush_on(spdlog::level::info);
      spdlog::register_logger(l);
      return l;
    } catch (const spdlog::spdlog_ex&) {
      if (auto l = spdlog::get("proxy.tds")) return l;
      return spdlog::default_logger();
    }
  }();
  return *logger;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int32_t kLoginFailed = 18456;
constexpr std::int32_t kRefusedByVigil = 50000;

std::int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

/// One side of the connection: a socket, optionally TLS (on the stream once the handshake inside
/// PRELOGIN is done), and the plaintext split into TDS packets.
struct Leg {
  const char* name = "";
  int fd = -1;
  std::unique_ptr<TlsLeg> tls;
  bool stream_tls = false;
  PacketFramer framer;
  std::uint64_t bytes_in = 0, bytes_out = 0;

  bool writeAll(std::string_view raw, std::string& error) {
    while (!raw.empty()) {
      const ssize_t n = ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (n <= 0) {
        error = std::string(name) + " write failed: " + strerror(errno);
        return false;
      }
      raw.remove_prefix(static_cast<std::size_t>(n));
      bytes_out += static_cast<std::uint64_t>(n);
    }
    return true;
  }
  bool send(std::string_view plain, std::string& error) {
    if (!stream_tls) return writeAll(plain, error);
    std::string out;
    if (!tls->encrypt(plain, out, error)) return false;
    return writeAll(out, error);
  }
  /// Reads what is available (waits up to `timeout_ms`) into the framer. False on close/error;
  /// true with nothing new on timeout.
  bool readSome(int timeout_ms, std::string& error) {
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc == 0) return true;
    if (rc < 0) {
      if (errno == EINTR) return true;
      error = std::string(name) + " poll failed";
      return false;
    }
    return readNow(error);
  }
  bool readNow(std::string& error) {
    char buf[32768];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      error = std::string(name) + " closed the connection";
      return false;
    }
    bytes_in += static_cast<std::uint64_t>(n);
    std::string_view raw(buf, static_cast<std::size_t>(n));
    if (!stream_tls) {
      framer.push(raw);
      return true;
    }
    std::string plain;
    if (!tls->decrypt(raw, plain, error)) return false;
    framer.push(plain);
    return true;
  }
  /// The next packet, waiting until `deadline`.
  std::optional<std::string> packet(Clock::time_point deadline, std::string& error) {
    for (;;) {
      if (auto p = framer.next()) return p;
      if (framer.failed()) {
        error = std::string(name) + " sent a malformed TDS packet: " + framer.error();
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        error = std::string("timed out waiting for the ") + name;
        return std::nullopt;
      }
      if (!readSome(static_cast<int>(std::min<long long>(left, 1000)), error)) return std::nullopt;
    }
  }
  /// A whole message (packets up to EOM): `raw` keeps the packets, `payload` their contents.
  bool message(Clock::time_point deadline, std::uint8_t& type, std::string& raw, std::string& payload,
               std::string& error, std::size_t limit = 1024 * 1024) {
    raw.clear();
    payload.clear();
    for (;;) {
      auto p = packet(deadline, error);
      if (!p) return false;
      type = static_cast<std::uint8_t>((*p)[0]);
      raw += *p;
      payload.append(*p, kHeaderSize, std::string::npos);
      if (raw.size() > limit) {
        error = std::string(name) + " message too large";
        return false;
      }
      if ((static_cast<std::uint8_t>((*p)[1]) & kStatusEom) != 0) return true;
    }
  }
};

std::string preloginReply(std::uint8_t encryption) {
  // VERSION: 16.0.1000 (the version SQL Server 2022 reports); the target's own arrives in LOGINACK.
  std::string version("\x10\x00\x03\xE8\x00\x00", 6);
  return buildPrelogin({{kPreVersion, version},
                        {kPreEncryption, std::string(1, static_cast<char>(encryption))},
                        {kPreInstOpt, std::string(1, '\0')},
                        {kPreThreadId, std::string()},
                        {kPreMars, std::string(1, '\0')}});
}

std::string preloginRequest(std::uint8_t encryption) {
  std::string version("\x10\x00\x03\xE8\x00\x00", 6);
  return buildPrelogin({{kPreVersion, version},
                        {kPreEncryption, std::string(1, static_cast<char>(encryption))},
                        {kPreInstOpt, std::string(1, '\0')},
                        {kPreThreadId, std::string(4, '\0')},
                        {kPreMars, std::string(1, '\0')}});
}

int connectTcp(const std::string& host, int port, int timeout_s, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr) {
    error = "cannot resolve " + host;
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_s * 1000) == 1 ? 0 : -1;
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (rc != 0 || soerr != 0) rc = -1;
    }
    if (rc == 0) break;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    error = "cannot connect to " + host + ":" + std::to_string(port);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/// Runs the TLS handshake carried in PRELOGIN packets on `leg`. The client role starts it.
bool prologinTls(Leg& leg, SSL_CTX* ctx, bool server, Clock::time_point deadline, std::string& error) {
  leg.tls = std::make_unique<TlsLeg>(ctx, server);
  std::string out;
  int rc = 0;
  if (!server) {
    rc = leg.tls->handshake({}, out, error);
    if (rc < 0 || !leg.writeAll(buildPackets(kPrelogin, out), error)) return false;
  }
  while (rc != 1) {
    auto p = leg.packet(deadline, error);
    if (!p) return false;
    if (static_cast<std::uint8_t>((*p)[0]) != kPrelogin) {
      error = std::string(leg.name) + " sent a non-PRELOGIN packet during the TLS handshake";
      return false;
    }
    out.clear();
    rc = leg.tls->handshake(std::string_view(*p).substr(kHeaderSize), out, error);
    if (rc < 0) return false;
    if (!out.empty() && !leg.writeAll(buildPackets(kPrelogin, out), error)) return false;
  }
  leg.stream_tls = true;
  return true;
}

struct Pending {
  Request request;
  Clock::time_point started;
  bool cancelled = false;
};

class Relay final : public proto::SessionControl, private TdsDecoder::Callbacks {
 public:
  Relay(Leg& client, Leg& target, proto::Session& session, std::uint32_t tds_version)
      : client_(client), target_(target), session_(session), decoder_(*this, tds_version), version_(tds_version) {
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Relay() override { ::close(event_fd_); }

  void suspend(const std::string& message) override {
    (void)message;
    suspended_ = true;
    kick();
  }
  void resume() override {
    suspended_ = false;
    kick();
  }
  void terminate(const std::string& reason) override {
    {
      std::lock_guard lk(mu_);
      terminate_reason_ = reason.empty() ? "terminated" : reason;
    }
    terminate_ = true;
    kick();
  }

  /// Relays until one side closes; returns the end reason and detail.
  std::pair<std::string, std::string> run() {
    std::string error;
    for (;;) {
      pollfd fds[3] = {{client_.fd, static_cast<short>(suspended_ ? 0 : POLLIN), 0},
                       {target_.fd, POLLIN, 0},
                       {event_fd_, POLLIN, 0}};
      if (::poll(fds, 3, 1000) < 0 && errno != EINTR) return {"error", "poll failed"};
      if (fds[2].revents & POLLIN) {
        std::uint64_t v;
        (void)!::read(event_fd_, &v, sizeof v);
      }
      if (terminate_) {
        std::string reason;
        {
          std::lock_guard lk(mu_);
          reason = terminate_reason_;
        }
        std::string ignored;
        client_.send(errorReply(kRefusedByVigil, "Vigil ended this session: " + reason, 20), ignored);
        return {"terminated", reason};
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!target_.readNow(error)) return {"target_closed", error};
        while (auto p = target_.framer.next()) {
          if (!client_.send(*p, error)) return {"client_closed", error};
          decoder_.serverBytes(*p);
        }
        if (target_.framer.failed()) return {"error", "target sent a malformed TDS packet: " + target_.framer.error()};
      }
      if (!suspended_ && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (!client_.readNow(error)) return {"client_closed", error};
        while (auto p = client_.framer.next()) {
          if (!clientPacket(*p, error)) return {"error", error};
        }
        if (client_.framer.failed()) {
          // A broken stream cannot be relayed further; the person's client gets a reason.
          std::string ignored;
          client_.send(errorReply(kRefusedByVigil, "Vigil: malformed TDS packet: " + client_.framer.error(), 20), ignored);
          return {"error", "client sent a malformed TDS packet: " + client_.framer.error()};
        }
      }
      if (!session_.recordingHealthy() && policy_record_) {
        std::string ignored;
        client_.send(errorReply(kRefusedByVigil, "Vigil: recording failed; the session ends", 20), ignored);
        return {"recording_failed", "recording failed"};
      }
    }
  }

  bool policy_record_ = true;

 private:
  void kick() {
    std::uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }

  bool clientPacket(const std::string& p, std::string& error) {
    const auto type = static_cast<std::uint8_t>(p[0]);
    const bool eom = (static_cast<std::uint8_t>(p[1]) & kStatusEom) != 0;
    if (type == kAttention && !held_.empty()) {
      // The client gave up sending a request half way: the target never saw any of it.
      held_.clear();
      held_oversized_ = false;
    }
    if (held_.empty() && type != kSqlBatch && type != kRpc) {
      // Attention, bulk load data, transaction manager requests: relayed as they come.
      if (!target_.send(p, error)) return false;
      decoder_.clientBytes(p);
      return true;
    }
    if (!held_oversized_) {
      held_ += p;
      held_type_ = static_cast<std::uint8_t>(held_[0]);
      if (held_.size() > TdsDecoder::kMaxRequest) {
        held_oversized_ = true;
        held_.clear();
        held_.shrink_to_fit();
      }
    }
    if (!eom) return true;
    // A whole batch or RPC: screened before the target sees any of it.
    if (held_oversized_) {
      held_oversized_ = false;
      const std::string msg = "Vigil refused the statement: larger than " +
                              std::to_string(TdsDecoder::kMaxRequest / (1024 * 1024)) + " MiB, it cannot be inspected";
      proto::SqlStatement s;
      s.text = "(request too large to inspect)";
      s.kind = held_type_ == kRpc ? "rpc" : "batch";
      s.blocked = true;
      s.error = msg;
      session_.sqlStatement(s);
      return client_.send(errorReply(kRefusedByVigil, msg, 16), error);
    }
    std::string payload;
    for (std::size_t at = 0; at + kHeaderSize <= held_.size();) {
      const std::size_t len = (static_cast<std::uint8_t>(held_[at + 2]) << 8) | static_cast<std::uint8_t>(held_[at + 3]);
      payload.append(held_, at + kHeaderSize, len - kHeaderSize);
      at += len;
    }
    const Request q = parseRequest(held_type_, payload, version());
    const auto decision = session_.screenSql(q.text);
    if (!decision.forward) {
      const std::string msg = decision.message.empty() ? "Vigil refused the statement" : decision.message;
      log().info("session={} refused a {}: {}", session_.id(), q.kind, msg);
      proto::SqlStatement s;
      s.text = q.text;
      s.kind = q.kind;
      s.parameters = q.parameters;
      s.blocked = true;
      s.error = msg;
      session_.sqlStatement(s);
      held_.clear();
      return client_.send(errorReply(kRefusedByVigil, msg, 16), error);
    }
    const bool ok = target_.send(held_, error);
    if (ok) decoder_.clientBytes(held_);
    held_.clear();
    return ok;
  }

  std::uint32_t version() const { return version_; }

  // TdsDecoder::Callbacks
  void onRequest(const Request& request) override { pending_.push_back({request, Clock::now(), false}); }
  void onAttention() override {
    if (!pending_.empty()) pending_.front().cancelled = true;
  }
  void onResponse(const Response& r) override {
    if (pending_.empty()) return;  // e.g. the attention acknowledgment after the cancelled result
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    if (p.request.kind != "batch" && p.request.kind != "rpc") return;
    proto::SqlStatement s;
    s.text = p.request.text;
    s.kind = p.request.kind;
    s.parameters = p.request.parameters;
    s.duration_ms = msSince(p.started);
    s.rows = r.rows;
    s.error = r.error;
    if (s.error.empty() && (r.attention_ack || p.cancelled)) s.error = "cancelled";
    session_.sqlStatement(s);
  }
  void onMalformed(std::string_view why) override {
    if (++malformed_ <= 10) session_.note("tds_decode_error", why);
    log().warn("session={} decoder: {}", session_.id(), why);
  }

  Leg& client_;
  Leg& target_;
  proto::Session& session_;
  TdsDecoder decoder_;
  std::uint32_t version_;
  std::deque<Pending> pending_;
  std::string held_;
  std::uint8_t held_type_ = 0;
  bool held_oversized_ = false;
  int malformed_ = 0;
  int event_fd_ = -1;
  std::atomic<bool> suspended_{false}, terminate_{false};
  std::mutex mu_;
  std::string terminate_reason_;
};

class Connection {
 public:
  Connection(int fd, const ConnectionContext& ctx) : ctx_(ctx) {
    client_.name = "client";
    client_.fd = fd;
    target_.name = "target";
  }
  ~Connection() {
    if (target_.fd >= 0) ::close(target_.fd);
  }

  void run() {
    std::string error;
    const auto deadline = Clock::now() + std::chrono::seconds(ctx_.login_grace_seconds);
    // 1. PRELOGIN from the person's client. Anything else is refused on its first byte (an HTTP
    // request or a TLS ClientHello would otherwise read as a packet header with a long length).
    while (client_.framer.buffered() == 0) {
      if (Clock::now() >= deadline) return refuseQuietly("no PRELOGIN within the login grace time");
      if (!client_.readSome(1000, error)) return refuseQuietly(error);
    }
    if (static_cast<std::uint8_t>(client_.framer.peek()[0]) != kPrelogin)
      return refuseQuietly(static_cast<std::uint8_t>(client_.framer.peek()[0]) == 0x16
                               ? "the first message is not PRELOGIN (a TLS handshake: TDS 8 strict encryption is not supported)"
                               : "the first message is not PRELOGIN");
    std::uint8_t type = 0;
    std::string raw, payload;
    if (!client_.message(deadline, type, raw, payload, error, 64 * 1024)) return refuseQuietly(error);
    if (type != kPrelogin) return refuseQuietly("the first message is not PRELOGIN (type " + std::to_string(type) + ")");
    auto options = parsePrelogin(payload, error);
    if (!options) return refuseQuietly("malformed PRELOGIN: " + error);
    const std::uint8_t asked = preloginEncryption(*options).value_or(kEncryptNotSup);
    // The person's client decides: full encryption when it asks for it, login-only otherwise.
    client_enc_ = (asked == kEncryptOn || asked == kEncryptReq) ? kEncryptOn : asked == kEncryptOff ? kEncryptOff : kEncryptNotSup;
    if (!client_.writeAll(buildPackets(kTabularResult, preloginReply(client_enc_)), error)) return refuseQuietly(error);
    if (client_enc_ != kEncryptNotSup && !prologinTls(client_, ctx_.server_tls, true, deadline, error))
      return refuseQuietly("client TLS: " + error);
    if (client_enc_ == kEncryptNotSup)
      log().warn("client={} does not support encryption: its login (a one-time token) travels in clear", ctx_.client_addr);

    // 2. LOGIN7 with the launch token.
    if (!client_.message(deadline, type, raw, payload, error, 64 * 1024)) return refuseQuietly(error);
    if (client_enc_ == kEncryptOff) dropTls(client_);
    if (type != kLogin7) return refuse("Vigil expected a LOGIN7 message", "unexpected message type " + std::to_string(type));
    auto login = parseLogin7(payload, error);
    if (!login) return refuse("Vigil could not read the login: " + error, "malformed LOGIN7: " + error);
    if (login->integrated_security)
      return refuse("Login failed: Vigil needs a SQL login with the launch token as its password", "integrated security requested");
    proto::ClientInfo info{"tds", ctx_.client_addr, "tds"};
    proto::Grant grant = ctx_.gatekeeper->redeemLaunchToken(std::string_view(login->password.data(), login->password.size()), info);
    login->password.clear();
    if (grant.status != proto::Grant::Status::Ok)
      return refuse("Login failed for user '" + login->user_name + "'. Vigil: " +
                        (grant.message.empty() ? "launch token refused" : grant.message),
                    "launch token refused");
    if (!equalsIgnoreCase(login->user_name, grant.account_user))
      return refuse("Login failed for user '" + login->user_name + "'. Vigil: the launch token is for login '" +
                        grant.account_user + "'",
                    "login name does not match the token's account");
    auto session = ctx_.gatekeeper->startSession(grant, info, error);
    if (!session) return refuse("Vigil could not start the session: " + error, error);
    log().info("session={} client={} {} for {}@{}", session->id(), ctx_.client_addr, grant.username,
               grant.account_user, grant.target.name);

    // 3. The target: PRELOGIN, TLS, the rewritten LOGIN7.
    std::string reason, detail;
    if (!dialTarget(grant, *session, raw, payload, reason, detail)) {
      log().warn("session={} target: {}", session->id(), detail);
      std::string ignored;
      const std::string why = reason == "host_key_mismatch"
                                  ? "Vigil refused: the certificate of " + grant.target.name +
                                        " does not match its pinned fingerprint (" + detail + ")"
                                  : "Vigil could not log in to the target: " + detail;
      client_.send(errorReply(kLoginFailed, why), ignored);
      session->end(reason, detail, client_.bytes_in, client_.bytes_out);
      return;
    }

    // 4. Relay.
    Relay relay(client_, target_, *session, login->tds_version);
    relay.policy_record_ = grant.policy.record;
    session->setControl(&relay);
    if (ctx_.on_control) ctx_.on_control(&relay);
    auto [end_reason, end_detail] = relay.run();
    if (ctx_.on_control) ctx_.on_control(nullptr);
    session->setControl(nullptr);
    log().info("session={} ended: {} {}", session->id(), end_reason, end_detail);
    session->end(end_reason, end_detail, client_.bytes_in, client_.bytes_out);
  }

 private:
  static bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  }

  static void dropTls(Leg& leg) {
    // Login-only encryption: after LOGIN7 both sides go back to plaintext TDS.
    leg.stream_tls = false;
    leg.tls.reset();
  }

  void refuseQuietly(const std::string& why) {
    log().info("client={} refused: {}", ctx_.client_addr, why);
  }

  void refuse(const std::string& message, const std::string& why) {
    log().info("client={} login refused: {}", ctx_.client_addr, why);
    std::string ignored;
    client_.send(errorReply(kLoginFailed, message), ignored);
  }

  bool dialTarget(const proto::Grant& grant, proto::Session& session, std::string& raw, std::string& payload,
                  std::string& reason, std::string& detail) {
    std::string error;
    const auto deadline = Clock::now() + std::chrono::seconds(ctx_.connect_timeout_seconds);
    target_.fd = connectTcp(grant.target.address, grant.target.port, ctx_.connect_timeout_seconds, error);
    if (target_.fd < 0) {
      reason = "target_unreachable";
      detail = error;
      return false;
    }
    const std::uint8_t want = client_enc_ == kEncryptOn ? kEncryptOn : kEncryptOff;
    std::uint8_t type = 0;
    std::string traw, tpayload;
    if (!target_.writeAll(buildPackets(kPrelogin, preloginRequest(want)), error) ||
        !target_.message(deadline, type, traw, tpayload, error)) {
      reason = "target_unreachable";
      detail = error;
      return false;
    }
    auto options = parsePrelogin(tpayload, error);
    if (!options) {
      reason = "target_unreachable";
      detail = "malformed PRELOGIN from the target: " + error;
      return false;
    }
    const std::uint8_t got = preloginEncryption(*options).value_or(kEncryptNotSup);
    if (got == kEncryptNotSup) {
      // The vault password never travels in clear.
      reason = "target_unreachable";
      detail = "the target does not support encryption";
      return false;
    }
    const bool full = want == kEncryptOn || got == kEncryptOn || got == kEncryptReq;
    if (!prologinTls(target_, ctx_.client_tls, false, deadline, error)) {
      reason = "target_unreachable";
      detail = "target TLS: " + error;
      return false;
    }
    {
      // The target's certificate against the target's pin, before the vault credential goes out.
      const std::string seen = target_.tls->peerFingerprint();
      const auto pin = proto::checkTargetPin(grant, *ctx_.gatekeeper, session.id(), seen, "certificate", false);
      if (!pin.ok) {
        reason = pin.reason;
        detail = pin.detail;
        return false;
      }
      if (pin.newly_pinned) session.note("host_key_pinned", seen);
      else if (pin.unpinned) session.note("host_key_unpinned", "offered " + seen);
    }
    {
      proto::Credential cred = session.takeCredential();
      if (cred.kind != "password") {
        reason = "target_auth_failed";
        detail = "the vault credential is not a password";
        return false;
      }
      auto rewritten = rewriteLogin7(payload, cred.username, std::string_view(cred.secret.data(), cred.secret.size()), error);
      crypto::wipe(payload);
      crypto::wipe(raw);
      if (!rewritten) {
        reason = "error";
        detail = "cannot rewrite the login: " + error;
        return false;
      }
      crypto::SecureString packets;
      {
        std::string built = buildPackets(kLogin7, std::string_view(rewritten->data(), rewritten->size()));
        packets.assign(built.begin(), built.end());
        crypto::wipe(built);
      }
      const bool sent = target_.send(std::string_view(packets.data(), packets.size()), error);
      if (!sent) {
        reason = "target_unreachable";
        detail = error;
        return false;
      }
    }
    if (!full) dropTls(target_);
    // The target's answer to the login goes to the person's client as it is.
    if (!target_.message(deadline, type, traw, tpayload, error, 1024 * 1024)) {
      reason = "target_unreachable";
      detail = error;
      return false;
    }
    struct LoginWatch : TdsDecoder::Callbacks {
      Response last;
      void onRequest(const Request&) override {}
      void onAttention() override {}
      void onResponse(const Response& r) override { last = r; }
      void onMalformed(std::string_view) override {}
    } watch;
    TdsDecoder d(watch);
    d.serverBytes(traw);
    if (!watch.last.login_ack) {
      reason = "target_auth_failed";
      detail = watch.last.error.empty() ? "the target refused the login" : watch.last.error;
      return false;
    }
    if (!client_.send(traw, error)) {
      reason = "client_closed";
      detail = error;
      return false;
    }
    return true;
  }

  const ConnectionContext& ctx_;
  Leg client_, target_;
  std::uint8_t client_enc_ = kEncryptNotSup;
};

}  // namespace

void serveConnection(int fd, const ConnectionContext& ctx) {
  try {
    Connection c(fd, ctx);
    c.run();
  } catch (const std::exception& e) {
    log().error("client={} connection failed: {}", ctx.client_addr, e.what());
  } catch (...) {
    log().error("client={} connection failed", ctx.client_addr);
  }
}

}  // namespace vigil::tds
