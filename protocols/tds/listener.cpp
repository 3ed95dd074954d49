#include "protocols/net/tcp_listen.hpp"
#include "protocols/tds/listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "protocols/tds/proxy.hpp"
#include "protocols/tds/tls_leg.hpp"

namespace vigil::tds {

struct TdsListener::Conn {
  std::uint64_t id = 0;
  int fd = -1;
  std::string client_addr;
  bool shut = false;                         // guarded by mu_
  proto::SessionControl* control = nullptr;  // guarded by mu_
};

namespace {
}  // namespace

TdsListener::TdsListener(proto::Gatekeeper& gatekeeper, ListenerOptions options)
    : gatekeeper_(gatekeeper), options_(std::move(options)) {}

TdsListener::~TdsListener() {
  stop();
  if (server_tls_) SSL_CTX_free(server_tls_);
  if (client_tls_) SSL_CTX_free(client_tls_);
}

bool TdsListener::start(std::string& error) {
  if (started_) {
    error = "already started";
    return false;
  }
  server_tls_ = makeServerTlsContext(options_.cert_file, options_.key_file, error);
  if (server_tls_ == nullptr) return false;
  client_tls_ = makeClientTlsContext(error);
  if (client_tls_ == nullptr) return false;
  listen_fd_ = net::listenTcp(options_.bind_address, options_.port, "TDS", port_, error);
  if (listen_fd_ < 0) return false;
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  started_ = true;
  accept_thread_ = std::thread([this] { acceptLoop(); });
  log().info("TDS listener on {}:{}", options_.bind_address, port_);
  return true;
}

void TdsListener::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::unique_lock lk(mu_);
  bool any = false;
  for (auto& [id, c] : conns_) {
    if (c->control != nullptr) {
      c->control->terminate("Vigil is stopping");
      any = true;
    }
  }
  if (any) all_done_.wait_for(lk, std::chrono::seconds(3), [this] { return conns_.empty(); });
  for (auto& [id, c] : conns_) {
    if (!c->shut) ::shutdown(c->fd, SHUT_RDWR);
    c->shut = true;
  }
  if (!all_done_.wait_for(lk, std::chrono::seconds(60), [this] { return conns_.empty(); }))
    log().error("TDS listener stop: {} connection(s) did not finish", conns_.size());
  lk.unlock();
  ::close(stop_fd_);
  log().info("TDS listener stopped");
}

void TdsListener::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0 || stopping_ || !(fds[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    conn->client_addr = net::peerName(ss);
    {
      std::lock_guard lk(mu_);
      if (static_cast<int>(conns_.size()) >= options_.max_sessions) {
        log().warn("client={} refused: too many TDS connections", conn->client_addr);
        ::close(fd);
        continue;
      }
      conn->id = next_id_++;
      conns_[conn->id] = conn;
    }
    std::thread([this, conn] { serve(conn); }).detach();
  }
}

void TdsListener::serve(std::shared_ptr<Conn> conn) {
  ConnectionContext ctx;
  ctx.gatekeeper = &gatekeeper_;
  ctx.server_tls = server_tls_;
  ctx.client_tls = client_tls_;
  ctx.client_addr = conn->client_addr;
  ctx.login_grace_seconds = options_.login_grace_seconds;
  ctx.connect_timeout_seconds = options_.connect_timeout_seconds;
  ctx.on_control = [this, c = conn.get()](proto::SessionControl* control) {
    std::lock_guard lk(mu_);
    c->control = control;
  };
  serveConnection(conn->fd, ctx);
  {
    std::lock_guard lk(mu_);
    conn->shut = true;
  }
  ::close(conn->fd);
  std::lock_guard lk(mu_);
  conns_.erase(conn->id);
  if (conns_.empty()) all_done_.notify_all();
}

}  // namespace vigil::tds
