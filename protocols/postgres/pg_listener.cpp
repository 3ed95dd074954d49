#include "protocols/postgres/pg_listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "protocols/postgres/pg_connection.hpp"

namespace vigil::pg {
namespace {

std::string peerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

std::string sslError() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

}  // namespace

PgListener::PgListener(proto::Gatekeeper& gatekeeper, ListenerOptions options)
    : gatekeeper_(gatekeeper), opt_(std::move(options)) {}

PgListener::~PgListener() {
  stop();
  if (server_ctx_) SSL_CTX_free(server_ctx_);
  if (client_ctx_) SSL_CTX_free(client_ctx_);
}

bool PgListener::start(std::string& error) {
  server_ctx_ = SSL_CTX_new(TLS_server_method());
  client_ctx_ = SSL_CTX_new(TLS_client_method());
  if (!server_ctx_ || !client_ctx_) return error = "cannot create TLS contexts: " + sslError(), false;
  SSL_CTX_set_min_proto_version(server_ctx_, TLS1_2_VERSION);
  SSL_CTX_set_min_proto_version(client_ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(server_ctx_, SSL_MODE_AUTO_RETRY);
  SSL_CTX_set_mode(client_ctx_, SSL_MODE_AUTO_RETRY);
  // Targets usually present self-signed certificates (PostgreSQL's default); the leg is
  // encrypted, the target is trusted by its address as for a plain connection.
  SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_use_certificate_chain_file(server_ctx_, opt_.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx_, opt_.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(server_ctx_) != 1)
    return error = "cannot load the TLS certificate " + opt_.cert_file + ": " + sslError(), false;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_s = std::to_string(opt_.port);
  if (getaddrinfo(opt_.bind_address.c_str(), port_s.c_str(), &hints, &res) != 0 || !res)
    return error = "invalid bind address " + opt_.bind_address, false;
  listen_fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (listen_fd_ >= 0) setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || ::bind(listen_fd_, res->ai_addr, res->ai_addrlen) != 0 || ::listen(listen_fd_, 256) != 0) {
    error = "cannot listen on " + opt_.bind_address + ":" + port_s + ": " + std::strerror(errno);
    freeaddrinfo(res);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  acceptor_ = std::thread([this] { acceptLoop(); });
  log().info("PostgreSQL listener on {}:{}", opt_.bind_address, port_);
  return true;
}

void PgListener::stop() {
  if (listen_fd_ < 0 || stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::unique_lock lk(mu_);
  for (auto* c : live_) c->kill();
  if (!cv_.wait_for(lk, std::chrono::seconds(3), [this] { return running_ == 0; })) {
    for (auto* c : live_) c->shutdownSockets();
    if (!cv_.wait_for(lk, std::chrono::seconds(60), [this] { return running_ == 0; }))
      log().error("PostgreSQL listener stop: {} connection(s) did not finish", running_);
  }
  lk.unlock();
  ::close(stop_fd_);
  log().info("PostgreSQL listener stopped");
}

void PgListener::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0 || stopping_ || !(fds[0].revents & POLLIN)) continue;
    for (int i = 0; i < 64 && !stopping_; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        break;
      }
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      std::string peer = peerName(ss);
      {
        std::lock_guard lk(mu_);
        if (running_ >= opt_.max_connections) {
          log().warn("client={} refused: too many PostgreSQL connections", peer);
          ::close(fd);
          continue;
        }
        ++running_;
      }
      std::thread([this, fd, peer] { serve(fd, peer); }).detach();
    }
  }
}

void PgListener::serve(int fd, std::string peer) {
  try {
    Connection c(gatekeeper_, opt_, server_ctx_, client_ctx_, fd, std::move(peer));
    {
      std::lock_guard lk(mu_);
      live_.insert(&c);
    }
    try {
      c.run();
    } catch (const std::exception& e) {
      log().error("PostgreSQL connection failed: {}", e.what());
    }
    std::lock_guard lk(mu_);
    live_.erase(&c);
  } catch (const std::exception& e) {
    log().error("PostgreSQL connection failed: {}", e.what());
  }
  std::lock_guard lk(mu_);
  --running_;
  cv_.notify_all();
}

}  // namespace vigil::pg
