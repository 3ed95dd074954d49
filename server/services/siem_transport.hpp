#pragma once
// Sockets to a syslog receiver: UDP (one message per datagram), TCP and TLS (RFC 5425 / 6587
// octet counting). TLS verifies the receiver's certificate against a CA file and checks its name.
#include <cstdint>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace vigil::services::siem {

/// "" when `path` is a readable PEM file holding at least one certificate, else the reason.
std::string checkCaFile(const std::string& path);

struct TransportOptions {
  std::string transport;    // udp, tcp, tls
  std::string host;
  std::uint16_t port = 0;
  std::string ca_file;      // tls
  std::string server_name;  // tls: name (or IP) required in the certificate; default host
  int timeout_ms = 5000;    // connect, handshake, and each blocked write
};

class Transport {
 public:
  explicit Transport(TransportOptions o);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  bool connected() const { return fd_ >= 0; }
  /// Connects (TLS: handshake and verification). false with the reason in `error`.
  bool connect(std::string& error);
  void close();
  /// Sends one message: a datagram (udp) or an octet-counted frame (tcp, tls). On failure
  /// `error` says why and the caller closes (after reading bytesAcknowledged()).
  bool send(const std::string& message, std::string& error);

  /// TCP/TLS: bytes written to the socket on this connection (TLS: record bytes) and how many of
  /// them the receiver's TCP has acknowledged. The forwarder moves its cursor only past messages
  /// whose last byte is acknowledged, so a receiver that goes away does not lose them silently.
  std::uint64_t bytesWritten() const;
  std::uint64_t bytesAcknowledged() const;
  /// The receiver closed or reset the connection (checked before writing into a dead socket).
  bool peerClosed() const;
  bool stream() const { return o_.transport != "udp"; }

 private:
  bool writeAll(const char* p, std::size_t n, std::string& error);
  TransportOptions o_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::uint64_t written_ = 0;
};

}  // namespace vigil::services::siem
