#include "protocols/net/tcp_listen.hpp"
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
  // One read() per TLS record batch instead of two per record (header, then body): the relay's
  // round trip is syscall-bound. Stream::pending() counts the bytes read ahead.
  SSL_CTX_set_read_ahead(server_ctx_, 1);
  SSL_CTX_set_read_ahead(client_ctx_, 1);
  // Targets usually present self-signed certificates (PostgreSQL's default); the leg is
  // encrypted, the target is trusted by its address as for a plain connection.
  SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_use_certificate_chain_file(server_ctx_, opt_.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx_, opt_.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(server_ctx_) != 1)
    return error = "cannot load the TLS certificate " + opt_.cert_file + ": " + sslError(), false;

  listen_fd_ = net::listenTcp(opt_.bind_address, opt_.port, "PostgreSQL", port_, error);
  if (listen_fd_ < 0) return false;
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
      std::string peer = net::peerName(ss);
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
