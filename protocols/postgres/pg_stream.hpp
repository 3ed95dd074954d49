#pragma once
// One leg of a proxied PostgreSQL connection: a blocking TCP socket, optionally wrapped in TLS
// (OpenSSL) after the SSLRequest exchange. Reads are preceded by poll(), so they do not block
// for long; writes block (back-pressure from a slow peer).
#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <string_view>

namespace vigil::pg {

class Stream {
 public:
  explicit Stream(int fd) : fd_(fd) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  /// TLS version and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" ('' without TLS).
  std::string tlsDescription() const;
  /// "SHA256:..." of the peer's TLS certificate ('' without TLS or certificate).
  std::string peerFingerprint() const;
  bool acceptTls(SSL_CTX* ctx, std::string& error);
  bool connectTls(SSL_CTX* ctx, std::string& error);
  /// Bytes read (> 0), 0 at EOF, -1 on an error.
  long read(char* buf, std::size_t n);
  /// Reads until `n` bytes arrived or `deadline`; false on EOF, error or timeout.
  bool readExact(char* buf, std::size_t n, std::chrono::steady_clock::time_point deadline);
  bool writeAll(std::string_view bytes);
  /// Bytes already buffered by TLS, decrypted or read ahead (readable without waiting for the socket).
  bool pending() const { return ssl_ && SSL_has_pending(ssl_) == 1; }
  /// Waits up to `ms` for data; true when readable.
  bool waitReadable(int ms) const;
  void shutdownBoth();

 private:
  int fd_;
  SSL* ssl_ = nullptr;
};

/// Connects to host:port with a timeout; -1 with `error` set on failure.
int dialTcp(const std::string& host, int port, int timeout_ms, std::string& error);

}  // namespace vigil::pg
