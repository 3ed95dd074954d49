#include "protocols/postgres/pg_connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <map>
#include <vector>

#include <spdlog/spdlog.h>

#include "protocols/net/identity_login.hpp"
#include "protocols/net/target_pin.hpp"
#include "protocols/postgres/pg_auth.hpp"

namespace vigil::pg {
namespace {

using Clock = std::chrono::steady_clock;

std::mutex g_cancel_mu;
std::map<std::uint64_t, std::pair<std::string, int>> g_cancel;

std::uint64_t cancelKey(std::int32_t pid, std::int32_t key) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32) | static_cast<std::uint32_t>(key);
}

void wipe(std::string& s) {
  if (s.capacity()) OPENSSL_cleanse(s.data(), s.capacity());
  s.clear();
}

}  // namespace

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto l = spdlog::get("proxy.postgres")) return l;
    try {
      auto def = spdlog::default_logger();
      auto l = std::make_shared<spdlog::logger>("proxy.postgres", def->sinks().begin(), def->sinks().end());
      l->set_level(def->level());
      l->flush_on(spdlog::level::info);
      spdlog::register_logger(l);
      return l;
    } catch (const spdlog::spdlog_ex&) {
      if (auto l = spdlog::get("proxy.postgres")) return l;
      return spdlog::default_logger();
    }
  }();
  return *logger;
}

void registerCancelKey(std::int32_t pid, std::int32_t key, const std::string& address, int port) {
  std::lock_guard lk(g_cancel_mu);
  g_cancel[cancelKey(pid, key)] = {address, port};
}
void unregisterCancelKey(std::int32_t pid, std::int32_t key) {
  std::lock_guard lk(g_cancel_mu);
  g_cancel.erase(cancelKey(pid, key));
}
bool lookupCancelKey(std::int32_t pid, std::int32_t key, std::string& address, int& port) {
  std::lock_guard lk(g_cancel_mu);
  auto it = g_cancel.find(cancelKey(pid, key));
  if (it == g_cancel.end()) return false;
  address = it->second.first;
  port = it->second.second;
  return true;
}

Connection::Connection(proto::Gatekeeper& gk, const ListenerOptions& opt, SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                       int fd, std::string peer)
    : gk_(gk), opt_(opt), server_ctx_(server_ctx), client_ctx_(client_ctx), client_(std::make_unique<Stream>(fd)),
      peer_(std::move(peer)) {
  ctl_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Connection::~Connection() {
  if (has_backend_key_) unregisterCancelKey(static_cast<std::int32_t>(backend_pid_), static_cast<std::int32_t>(backend_key_));
  if (ctl_fd_ >= 0) ::close(ctl_fd_);
}

void Connection::suspend(const std::string& message) {
  std::lock_guard lk(ctl_mu_);
  ctl_pending_ |= static_cast<std::uint64_t>(Ctl::Suspend);
  ctl_pending_ &= ~static_cast<std::uint64_t>(Ctl::Resume);
  suspend_message_ = message;
  std::uint64_t one = 1;
  (void)!::write(ctl_fd_, &one, sizeof one);
}
void Connection::resume() {
  std::lock_guard lk(ctl_mu_);
  ctl_pending_ |= static_cast<std::uint64_t>(Ctl::Resume);
  ctl_pending_ &= ~static_cast<std::uint64_t>(Ctl::Suspend);
  std::uint64_t one = 1;
  (void)!::write(ctl_fd_, &one, sizeof one);
}
void Connection::terminate(const std::string& reason) {
  std::lock_guard lk(ctl_mu_);
  ctl_pending_ |= static_cast<std::uint64_t>(Ctl::Terminate);
  if (terminate_reason_.empty()) terminate_reason_ = reason;
  std::uint64_t one = 1;
  (void)!::write(ctl_fd_, &one, sizeof one);
}

void Connection::fatal(std::string_view sqlstate, std::string_view message) {
  const std::string m = errorResponse("FATAL", sqlstate, message);
  if (client_->writeAll(m)) to_client_ += m.size();
}

bool Connection::readMessage(Stream& s, Framer& f, Message& m, Clock::time_point deadline) {
  char buf[16384];
  while (!f.next(m)) {
    if (!f.error().empty()) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || !s.waitReadable(static_cast<int>(left))) return false;
    const long n = s.read(buf, sizeof buf);
    if (n <= 0) return false;
    if (&s == client_.get()) from_client_ += static_cast<std::uint64_t>(n);
    f.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return true;
}

bool Connection::clientStartup(Startup& st) {
  const auto deadline = Clock::now() + std::chrono::seconds(opt_.login_grace_seconds);
  Framer f(true, 10000);
  for (int round = 0; round < 3; ++round) {
    Message m;
    if (!readMessage(*client_, f, m, deadline)) {
      if (!f.error().empty()) {
        log().warn("client={} refused: {}", peer_, f.error());
        fatal("08P01", "invalid startup packet: " + f.error() + " (this is Vigil's PostgreSQL listener)");
      }
      return false;
    }
    Reader r(m.body);
    const auto code = static_cast<std::uint32_t>(r.i32());
    if (code == kSslRequestCode || code == kGssEncRequestCode) {
      if (f.buffered() > 0) {  // bytes sent before the TLS handshake could be injected by anyone on the path
        fatal("08P01", "unexpected data after the encryption request");
        return false;
      }
      const bool tls = code == kSslRequestCode && server_ctx_ && !client_->tls();
      if (!client_->writeAll(tls ? "S" : "N")) return false;
      if (!tls) continue;
      std::string err;
      if (!client_->acceptTls(server_ctx_, err)) {
        log().warn("client={} {}", peer_, err);
        return false;
      }
      continue;
    }
    if (code == kCancelRequestCode) {
      const auto pid = r.i32();
      const auto key = r.i32();
      std::string addr;
      int port = 0;
      if (r.ok() && lookupCancelKey(pid, key, addr, port)) {
        std::string err;
        const int fd = dialTcp(addr, port, opt_.connect_timeout_seconds * 1000, err);
        if (fd >= 0) {
          Stream t(fd);
          t.writeAll(m.raw);  // the target checks the key; it answers nothing
        }
        log().info("client={} relayed a cancel request to {}:{}", peer_, addr, port);
      }
      return false;
    }
    if (!parseStartup(m.body, st)) {
      log().warn("client={} refused: invalid startup message (protocol {})", peer_, code);
      fatal("0A000", "unsupported frontend protocol or invalid startup message");
      return false;
    }
    return true;
  }
  fatal("08P01", "too many encryption requests");
  return false;
}

bool Connection::loginTarget(const Startup& cs, std::string& rest) {
  auto cred = session_->takeCredential();
  std::string password(cred.secret.begin(), cred.secret.end());
  cred.secret.clear();
  struct Wipe {
    std::string& s;
    ~Wipe() { wipe(s); }
  } wiper{password};
  const std::string& sid = session_->id();
  auto failAuth = [&](const std::string& why) {
    log().warn("session={} target login failed: {}", sid, why);
    fatal("28P01", "Vigil could not log in to the target " + grant_.target.name + " as " + cred.username + ": " + why);
    session_->end("target_auth_failed", why, from_client_, to_client_);
    return false;
  };
  if (cred.kind != "password") return failAuth("the vault credential of this account is not a password");
  const auto deadline = Clock::now() + std::chrono::seconds(opt_.login_grace_seconds);
  std::string err;
  const int fd = dialTcp(grant_.target.address, grant_.target.port, opt_.connect_timeout_seconds * 1000, err);
  if (fd < 0) {
    log().warn("session={} {}", sid, err);
    fatal("08001", "Vigil could not reach the target " + grant_.target.name + ": " + err);
    session_->end("target_unreachable", err, from_client_, to_client_);
    return false;
  }
  {
    std::lock_guard lk(ctl_mu_);
    target_ = std::make_unique<Stream>(fd);
  }
  setReadTimeout(fd, opt_.login_grace_seconds);
  // TLS to the target whenever it offers it.
  char answer = 0;
  if (!target_->writeAll(sslRequest()) || !target_->readExact(&answer, 1, deadline) || (answer != 'S' && answer != 'N')) {
    fatal("08001", "Vigil could not reach the target " + grant_.target.name + ": no PostgreSQL answer");
    session_->end("target_unreachable", "no answer to SSLRequest", from_client_, to_client_);
    return false;
  }
  if (answer == 'S' && !target_->connectTls(client_ctx_, err)) {
    fatal("08001", "Vigil could not reach the target " + grant_.target.name + ": " + err);
    session_->end("target_unreachable", err, from_client_, to_client_);
    return false;
  }
  if (answer == 'N') log().warn("session={} the target {} does not offer TLS", sid, grant_.target.name);
  // The target's certificate is checked against the target's pin before the vault credential
  // goes out; a pinned target that no longer offers TLS is refused (a downgrade).
  if (answer == 'N' && proto::hasPin(grant_.target)) {
    fatal("08001", "Vigil refused: " + grant_.target.name + " has a pinned certificate but did not offer TLS.");
    session_->end("host_key_mismatch", "pinned, but the target offered no TLS", from_client_, to_client_);
    return false;
  }
  if (answer == 'S') {
    const std::string seen = target_->peerFingerprint();
    const auto pin = proto::checkTargetPin(grant_, gk_, sid, seen, "certificate", false);
    if (!pin.ok) {
      log().warn("session={} certificate of {} refused: {} ({})", sid, grant_.target.name, pin.reason, pin.detail);
      fatal("08001", pin.message);
      session_->end(pin.reason, pin.detail, from_client_, to_client_);
      return false;
    }
    if (pin.newly_pinned) session_->note("host_key_pinned", seen);
    else if (pin.unpinned) session_->note("host_key_unpinned", "offered " + seen);
  }
  Startup ts;
  ts.version = kProtocol3;
  ts.params.emplace_back("user", cred.username);
  std::string db = cs.get("database");
  ts.params.emplace_back("database", db.empty() ? cred.username : db);
  for (const auto& [k, v] : cs.params)
    if (k != "user" && k != "database" && k != "replication") ts.params.emplace_back(k, v);
  if (!target_->writeAll(startupMessage(ts))) return failAuth("the target closed the connection");
  Framer tf(false, 1 << 20);
  ScramClient scram(password);
  for (;;) {
    Message m;
    if (!readMessage(*target_, tf, m, deadline)) return failAuth(tf.error().empty() ? "no answer from the target" : tf.error());
    Reader r(m.body);
    if (m.type == 'E') return failAuth(parseError(m.body).message);
    if (m.type != 'R') continue;  // NoticeResponse, NegotiateProtocolVersion
    const auto code = r.i32();
    std::string reply;
    if (code == 0) {
      rest = tf.takeRest();
      return true;
    } else if (code == 3) {
      reply = password;
      reply.push_back('\0');
    } else if (code == 5) {
      auto salt = r.bytes(4);
      if (!r.ok()) return failAuth("malformed md5 request");
      reply = md5Password(cred.username, password, salt);
      reply.push_back('\0');
    } else if (code == 10) {
      bool scram_ok = false;
      for (auto mech = r.cstr(); r.ok() && !mech.empty(); mech = r.cstr()) scram_ok |= mech == "SCRAM-SHA-256";
      if (!scram_ok) return failAuth("the target offers no supported SASL mechanism");
      const std::string first = scram.first();
      reply = "SCRAM-SHA-256";
      reply.push_back('\0');
      putI32(reply, static_cast<std::int32_t>(first.size()));
      reply += first;
    } else if (code == 11) {
      reply = scram.final(m.body.substr(4));
      if (reply.empty()) return failAuth(scram.error());
    } else if (code == 12) {
      if (!scram.verify(m.body.substr(4))) return failAuth(scram.error());
      continue;
    } else {
      return failAuth("unsupported authentication method (code " + std::to_string(code) + ")");
    }
    const std::string msg = message('p', reply);
    wipe(reply);
    if (!target_->writeAll(msg)) return failAuth("the target closed the connection");
  }
}

void Connection::setReadTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void Connection::run() {
  // A client that stalls inside the TLS handshake must not hold the thread beyond the grace.
  setReadTimeout(client_->fd(), opt_.login_grace_seconds);
  Startup st;
  if (!clientStartup(st)) return;
  if (!client_->tls() && !opt_.allow_cleartext) {
    log().warn("client={} refused: no TLS", peer_);
    fatal("28000", "Vigil requires TLS for the launch token: connect with sslmode=require");
    return;
  }
  if (!client_->writeAll(authRequest(3))) return;
  Framer f(false, 4096);
  Message m;
  if (!readMessage(*client_, f, m, Clock::now() + std::chrono::seconds(opt_.login_grace_seconds))) {
    if (!f.error().empty()) fatal("08P01", "invalid password message: " + f.error());
    return;
  }
  if (m.type != 'p') {
    fatal("08P01", "expected a password message");
    return;
  }
  Reader r(m.body);
  auto pw = r.cstr();
  crypto::SecureString secret(pw.begin(), pw.end());
  proto::ClientInfo ci{"postgres", peer_, "postgres"};
  // user "alice%dba%pg01" is an identity login with alice's Vigil password (one login per
  // connection, for pools and pgbench); any other user name takes a launch token as password.
  const std::string user = st.get("user");
  proto::IdentityLogin id;
  if (proto::parseIdentityLogin(user, id)) {
    grant_ = gk_.loginWithPassword(id, secret, "", ci);
    if (grant_.status == proto::Grant::Status::NeedTotp)
      grant_ = gk_.refuseMissingTotp(grant_, "your Vigil user has TOTP: connect with a launch token from the portal", ci);
  } else {
    grant_ = gk_.redeemLaunchToken(secret, ci);
  }
  secret.clear();
  f.wipe();
  if (grant_.status != proto::Grant::Status::Ok) {
    log().info("client={} refused: {}", peer_, grant_.message);
    fatal("28P01", "Vigil: " + (grant_.message.empty() ? std::string("authentication failed") : grant_.message));
    return;
  }
  if (!st.get("user").empty() && st.get("user") != grant_.account_user)
    log().info("client={} user '{}' in the startup message; the token opens '{}'", peer_, st.get("user"), grant_.account_user);
  std::string err;
  session_ = gk_.startSession(grant_, ci, err);
  if (!session_) {
    fatal("28000", "Vigil: " + err);
    return;
  }
  const std::string sid = session_->id();
  log().info("session={} client={} user={} account={}@{} database={}", sid, peer_, grant_.username,
             grant_.account_user, grant_.target.name, st.get("database"));
  std::string rest;
  if (!loginTarget(st, rest)) return;
  PgDecoder::Options o;
  o.after_login = true;
  decoder_ = std::make_unique<PgDecoder>(*this, o);
  const std::string ok = authRequest(0);
  if (!client_->writeAll(ok) || !client_->writeAll(rest)) {
    session_->end("client_closed", "the client left during the login", from_client_, to_client_);
    return;
  }
  to_client_ += ok.size() + rest.size();
  decoder_->serverBytes(rest);
  session_->note("tls", "client " + (client_->tls() ? client_->tlsDescription() : std::string("without TLS")) +
                            "; target " + (target_->tls() ? target_->tlsDescription() : std::string("without TLS")));
  session_->setControl(this);
  setReadTimeout(client_->fd(), 0);  // the relay polls before every read
  setReadTimeout(target_->fd(), 0);
  relay();
}

void Connection::applyControl() {
  std::uint64_t v = 0;
  (void)!::read(ctl_fd_, &v, sizeof v);
  std::uint64_t pending;
  std::string msg, reason;
  {
    std::lock_guard lk(ctl_mu_);
    pending = ctl_pending_;
    ctl_pending_ = 0;
    msg = suspend_message_;
    reason = terminate_reason_;
  }
  if (pending & static_cast<std::uint64_t>(Ctl::Terminate)) {
    fatal("57P01", "Vigil terminated this session" + (reason.empty() ? std::string() : ": " + reason));
    terminated_ = true;
    return;
  }
  if ((pending & static_cast<std::uint64_t>(Ctl::Suspend)) && !suspended_) {
    suspended_ = true;  // the client's next statements wait (not read) until resumed
    session_->note("suspended", msg);
    // Told at the next message boundary (psql prints it with its next result).
    injected_ += noticeResponse("WARNING", "01000",
                                "Vigil suspended this session" + (msg.empty() ? std::string() : ": " + msg) +
                                    ". Your statements wait until it is resumed.");
  }
  if ((pending & static_cast<std::uint64_t>(Ctl::Resume)) && suspended_) {
    suspended_ = false;
    session_->note("resumed", "");
    injected_ += noticeResponse("WARNING", "01000", "Vigil resumed this session.");
  }
}

void Connection::onStatement(const proto::SqlStatement& s) { session_->sqlStatement(s); }
void Connection::onMalformed(std::string_view why) {
  log().warn("session={} the PostgreSQL decoder stopped: {}", session_->id(), why);
  session_->note("decoder_error", "PostgreSQL decoding stopped (the connection continues): " + std::string(why));
}
void Connection::onReady(char status) {
  status_ = status;
  if (outstanding_ > 0) --outstanding_;
}
void Connection::onBackendKey(std::int32_t pid, std::int32_t key) {
  if (has_backend_key_) return;
  has_backend_key_ = true;
  backend_pid_ = pid;
  backend_key_ = key;
  registerCancelKey(pid, key, grant_.target.address, grant_.target.port);
}

void Connection::screen(const Message& m, std::string& forward) {
  if (swallowing_) {
    if (m.type == 'S') {
      injected_ += errorResponse("ERROR", "42501", swallow_error_) + readyForQuery(status_);
      swallowing_ = false;
      // Messages of this batch forwarded before the refused Parse still need their Sync.
      if (batch_forwarded_) {
        forward.append(m.raw);
        ++outstanding_;
      }
      batch_forwarded_ = false;
    }
    return;
  }
  if (m.type == 'Q' || m.type == 'P') {
    Reader r(m.body);
    if (m.type == 'P') r.cstr();
    auto text = r.cstr();
    if (r.ok()) {
      auto d = session_->screenSql(text);
      if (!d.forward) {
        proto::SqlStatement s;
        s.text = std::string(text.substr(0, PgDecoder::kMaxStatementText));
        s.kind = m.type == 'Q' ? "query" : "extended";
        s.blocked = true;
        s.error = d.message.empty() ? "blocked by Vigil" : d.message;
        session_->sqlStatement(s);
        log().info("session={} refused a statement: {}", session_->id(), s.error);
        if (m.type == 'Q') {
          injected_ += errorResponse("ERROR", "42501", s.error) + readyForQuery(status_);
        } else {
          swallowing_ = true;
          swallow_error_ = s.error;
        }
        return;
      }
    }
  }
  forward.append(m.raw);
  if (m.type == 'Q' || m.type == 'S' || m.type == 'F') {
    ++outstanding_;
    batch_forwarded_ = false;
  } else if (m.type == 'P' || m.type == 'B' || m.type == 'E' || m.type == 'D' || m.type == 'C') {
    batch_forwarded_ = true;
  }
}

bool Connection::clientMessages() {
  std::string forward;
  Message m;
  while (injected_.empty() && !suspended_ && client_framer_.next(m)) {
    screen(m, forward);
    if (m.type == 'X') {
      client_said_bye_ = true;  // the target closes next: that is the client's doing
      break;
    }
  }
  if (!forward.empty()) {
    if (!target_->writeAll(forward)) {
      end_reason_ = "target_closed";
      return false;
    }
    decoder_->clientBytes(forward);
  }
  if (!client_framer_.error().empty()) {
    log().warn("session={} invalid client message: {}", session_->id(), client_framer_.error());
    fatal("08P01", "Vigil: invalid message from the client: " + client_framer_.error());
    end_reason_ = "error";
    end_detail_ = "invalid client message: " + client_framer_.error();
    return false;
  }
  return true;
}

bool Connection::flushInjected() {
  // The refusal goes out only after the target answered what was sent before it (order).
  while (!injected_.empty() && (outstanding_ <= 0 || decoder_->inert())) {
    if (!client_->writeAll(injected_)) {
      end_reason_ = "client_closed";
      return false;
    }
    to_client_ += injected_.size();
    injected_.clear();
    if (!clientMessages()) return false;  // messages held behind the refusal
  }
  return true;
}

void Connection::relay() {
  std::vector<char> buf(64 * 1024);
  end_reason_ = "client_closed";
  while (!terminated_) {
    const bool want_client = !suspended_ && injected_.empty();
    pollfd fds[3] = {{client_->fd(), static_cast<short>(want_client ? POLLIN : 0), 0},
                     {target_->fd(), POLLIN, 0},
                     {ctl_fd_, POLLIN, 0}};
    const bool ready = (want_client && client_->pending()) || target_->pending();
    const int rc = ::poll(fds, 3, ready ? 0 : 1000);
    if (rc < 0 && errno != EINTR) {
      end_reason_ = "error";
      end_detail_ = "poll failed";
      break;
    }
    if (!want_client && (fds[0].revents & (POLLHUP | POLLERR))) {
      end_reason_ = "client_closed";  // gone while its statements were held
      break;
    }
    if (fds[2].revents & POLLIN) {
      applyControl();
      if (terminated_) {
        end_reason_ = "terminated";
        std::lock_guard lk(ctl_mu_);
        end_detail_ = terminate_reason_;
        break;
      }
      if (!suspended_ && client_framer_.buffered() > 0 && !clientMessages()) break;
      if (!flushInjected()) break;  // a suspend/resume notice, once the target is idle
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) || target_->pending()) {
      const long n = target_->read(buf.data(), buf.size());
      if (n <= 0) {
        end_reason_ = client_said_bye_ ? "client_closed" : "target_closed";
        break;
      }
      const std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
      if (!client_->writeAll(chunk)) {
        end_reason_ = "client_closed";
        break;
      }
      to_client_ += static_cast<std::uint64_t>(n);
      decoder_->serverBytes(chunk);
      if (!flushInjected()) break;
    }
    if (want_client && ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) || client_->pending())) {
      const long n = client_->read(buf.data(), buf.size());
      if (n <= 0) {
        end_reason_ = "client_closed";
        break;
      }
      from_client_ += static_cast<std::uint64_t>(n);
      client_framer_.append(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (!clientMessages() || !flushInjected()) break;
    }
  }
  decoder_->finish();
  session_->end(end_reason_, end_detail_, from_client_, to_client_);
  log().info("session={} ended: {}", session_->id(), end_reason_);
}

void Connection::shutdownSockets() {
  std::lock_guard lk(ctl_mu_);
  client_->shutdownBoth();
  if (target_) target_->shutdownBoth();
}

}  // namespace vigil::pg
