#include "protocols/net/tcp_listen.hpp"
#include "protocols/rdp/listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "protocols/rdp/connection.hpp"
#include "protocols/rdp/rdp_log.hpp"

namespace vigil::rdp {
RdpListener::RdpListener(proto::Gatekeeper& gatekeeper, ListenerOptions options)
    : gatekeeper_(gatekeeper), options_(std::move(options)) {}

RdpListener::~RdpListener() { stop(); }

bool RdpListener::start(std::string& error) {
  initFreeRdpOnce();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.bind_address.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = gai_strerror(rc);
    return false;
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      listen_fd_ = fd;
      break;
    }
    error = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) {
    if (error.empty()) error = "no usable address";
    return false;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                  : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  accept_thread_ = std::thread([this] { acceptLoop(); });
  rdpLog()->info("RDP listener on {}:{}", options_.bind_address, port_);
  return true;
}

void RdpListener::acceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(p, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (!(p[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard lk(mu_);
      if (active_ >= options_.max_sessions) {
        rdpLog()->warn("refused a connection from {}: {} RDP connections already", net::peerName(ss), active_);
        ::close(fd);
        continue;
      }
      ++active_;
    }
    ConnectionOptions co;
    co.cert_file = options_.cert_file;
    co.key_file = options_.key_file;
    co.login_grace_seconds = options_.login_grace_seconds;
    co.connect_timeout_seconds = options_.connect_timeout_seconds;
    co.stopping = &stopping_;
    std::string addr = net::peerName(ss);
    try {
      std::thread([this, fd, addr, co] {
        serveConnection(fd, addr, gatekeeper_, co);
        std::lock_guard lk(mu_);
        if (--active_ == 0) all_done_.notify_all();
      }).detach();
    } catch (const std::exception& e) {
      rdpLog()->error("cannot start a connection thread: {}", e.what());
      ::close(fd);
      std::lock_guard lk(mu_);
      --active_;
    }
  }
}

void RdpListener::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::unique_lock lk(mu_);
    all_done_.wait(lk, [&] { return active_ == 0; });
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

int RdpListener::connections() const {
  std::lock_guard lk(mu_);
  return active_;
}

}  // namespace vigil::rdp
