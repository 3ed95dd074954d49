#include "protocols/postgres/pg_stream.hpp"

#include "protocols/net/target_pin.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

namespace vigil::pg {
namespace {
std::string sslError() {
  unsigned long e = ERR_get_error();
  if (!e) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}
}  // namespace

Stream::~Stream() {
  if (ssl_) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (fd_ >= 0) ::close(fd_);
}

std::string Stream::tlsDescription() const {
  if (!ssl_) return "";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

std::string Stream::peerFingerprint() const { return proto::peerCertificateFingerprint(ssl_); }

bool Stream::acceptTls(SSL_CTX* ctx, std::string& error) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return error = sslError(), false;
  ERR_clear_error();
  if (SSL_accept(ssl_) != 1) {
    error = "TLS handshake with the client failed: " + sslError();
    return false;
  }
  return true;
}

bool Stream::connectTls(SSL_CTX* ctx, std::string& error) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return error = sslError(), false;
  ERR_clear_error();
  if (SSL_connect(ssl_) != 1) {
    error = "TLS handshake with the target failed: " + sslError();
    return false;
  }
  return true;
}

long Stream::read(char* buf, std::size_t n) {
  if (ssl_) {
    ERR_clear_error();
    const int r = SSL_read(ssl_, buf, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL && errno == 0) return 0;  // EOF without close_notify
    return -1;
  }
  for (;;) {
    const ssize_t r = ::recv(fd_, buf, n, 0);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return -1;
  }
}

bool Stream::waitReadable(int ms) const {
  if (pending()) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

bool Stream::readExact(char* buf, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || !waitReadable(static_cast<int>(left))) return false;
    const long r = read(buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

bool Stream::writeAll(std::string_view bytes) {
  while (!bytes.empty()) {
    if (ssl_) {
      ERR_clear_error();
      const int r = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 30)));
      if (r <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(r));
    } else {
      const ssize_t r = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(r));
    }
  }
  return true;
}

void Stream::shutdownBoth() { ::shutdown(fd_, SHUT_RDWR); }

int dialTcp(const std::string& host, int port, int timeout_ms, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string p = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), p.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = "no address for " + host;
  for (auto* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pf{fd, POLLOUT, 0};
      rc = ::poll(&pf, 1, timeout_ms) == 1 ? 0 : -1;
      int soerr = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof soerr;
      if (rc == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr) {
        errno = soerr;
        rc = -1;
      }
    }
    if (rc == 0) {
      ::fcntl(fd, F_SETFL, flags);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      error.clear();
      break;
    }
    error = "cannot connect to " + host + ":" + p + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

}  // namespace vigil::pg
