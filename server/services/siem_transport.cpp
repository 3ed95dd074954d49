#include "server/services/siem_transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server/services/siem_format.hpp"

namespace vigil::services::siem {
namespace {

std::string sslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

bool isIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void setTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string checkCaFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "cannot read '" + path + "': " + std::strerror(errno);
  int count = 0;
  while (X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr)) {
    ++count;
    X509_free(cert);
  }
  std::fclose(f);
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (count == 0) return "'" + path + "' holds no PEM certificate";
  return {};
}

Transport::Transport(TransportOptions o) : o_(std::move(o)) {
  if (o_.server_name.empty()) o_.server_name = o_.host;
}

Transport::~Transport() {
  close();
  if (ctx_) SSL_CTX_free(ctx_);
}

void Transport::close() {
  if (ssl_) {
    // A best-effort close_notify; the socket may already be gone.
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  written_ = 0;
}

bool Transport::connect(std::string& error) {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = o_.transport == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(o_.port);
  if (int rc = getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + o_.host + ": " + gai_strerror(rc);
    return false;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  error = "no address for " + o_.host;
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, o_.timeout_ms);
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (rc == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      else soerr = ETIMEDOUT;
      rc = soerr == 0 ? 0 : -1;
      errno = soerr;
    }
    if (rc != 0) {
      error = "connect " + o_.host + ":" + port + ": " + std::strerror(errno);
      ::close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setTimeouts(fd, o_.timeout_ms);
    if (o_.transport != "udp") {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fd_ = fd;
    break;
  }
  if (fd_ < 0) return false;
  if (o_.transport != "tls") return true;

  if (!ctx_) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) {
      error = "TLS: " + sslErrors();
      close();
      return false;
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, o_.ca_file.c_str(), nullptr) != 1) {
      error = "TLS: cannot load CA file '" + o_.ca_file + "': " + sslErrors();
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
      close();
      return false;
    }
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  // The receiver's certificate must name the host we meant (DNS name or IP address).
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (isIpLiteral(o_.server_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, o_.server_name.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_, o_.server_name.c_str());
    SSL_set_tlsext_host_name(ssl_, o_.server_name.c_str());
  }
  if (SSL_connect(ssl_) != 1) {
    const long verify = SSL_get_verify_result(ssl_);
    error = verify != X509_V_OK
                ? "TLS: receiver certificate refused: " + std::string(X509_verify_cert_error_string(verify))
                : "TLS handshake with " + o_.host + ":" + port + " failed: " + sslErrors();
    ERR_clear_error();
    close();
    return false;
  }
  return true;
}

bool Transport::writeAll(const char* p, std::size_t n, std::string& error) {
  while (n > 0) {
    if (ssl_) {
      int w = SSL_write(ssl_, p, static_cast<int>(n));
      if (w <= 0) {
        error = "TLS write: " + sslErrors();
        ERR_clear_error();
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    } else {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        error = std::string("write: ") + std::strerror(errno);
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
      written_ += static_cast<std::uint64_t>(w);
    }
  }
  return true;
}

bool Transport::send(const std::string& message, std::string& error) {
  if (fd_ < 0 && !connect(error)) return false;
  bool ok;
  if (o_.transport == "udp") {
    ssize_t w = ::send(fd_, message.data(), message.size(), MSG_NOSIGNAL);
    ok = w == static_cast<ssize_t>(message.size());
    if (!ok) error = std::string("send: ") + (w < 0 ? std::strerror(errno) : "short datagram");
  } else {
    const std::string frame = octetCounted(message);
    ok = writeAll(frame.data(), frame.size(), error);
  }
  // The caller closes: it first reads how much of the stream was acknowledged.
  return ok;
}

std::uint64_t Transport::bytesWritten() const {
  if (ssl_) return BIO_number_written(SSL_get_wbio(ssl_));
  return written_;
}

std::uint64_t Transport::bytesAcknowledged() const {
  if (fd_ < 0) return 0;
  int unacked = 0;
  if (ioctl(fd_, SIOCOUTQ, &unacked) != 0) return 0;
  const std::uint64_t w = bytesWritten();
  return w >= static_cast<std::uint64_t>(unacked) ? w - static_cast<std::uint64_t>(unacked) : 0;
}

bool Transport::peerClosed() const {
  if (fd_ < 0) return true;
  if (o_.transport == "udp") return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace vigil::services::siem
