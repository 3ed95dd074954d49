#pragma once
// One TLS session over memory BIOs, for TDS's two ways of carrying TLS: during PRELOGIN the TLS
// handshake records travel as the payload of PRELOGIN packets; afterwards the TLS records go on
// the TCP stream itself (for the whole connection, or only for LOGIN7 when the two sides
// negotiated login-only encryption). The caller moves the bytes; no sockets here.
#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace vigil::tds {

/// TLS 1.2 (what SQL Server speaks inside PRELOGIN), no session tickets (a ticket after the
/// handshake would arrive outside the PRELOGIN packets). Null with `error` set on failure.
SSL_CTX* makeServerTlsContext(const std::string& cert_file, const std::string& key_file, std::string& error);
/// Does not verify the target's certificate (SQL Server's usual self-signed one; the target is
/// chosen by the administrator, not the person).
SSL_CTX* makeClientTlsContext(std::string& error);

class TlsLeg {
 public:
  /// Takes a reference on `ctx`.
  TlsLeg(SSL_CTX* ctx, bool server);
  ~TlsLeg();
  TlsLeg(const TlsLeg&) = delete;
  TlsLeg& operator=(const TlsLeg&) = delete;

  /// Feeds handshake bytes from the peer (may be empty to start a client handshake) and
  /// appends the bytes to send to `out`. 1: done, 0: continue, -1: failed (`error`).
  int handshake(std::string_view in, std::string& out, std::string& error);
  /// Decrypts stream bytes from the peer, appending the plaintext. False on a TLS error.
  bool decrypt(std::string_view in, std::string& plain, std::string& error);
  /// Encrypts plaintext, appending the records to send.
  bool encrypt(std::string_view plain, std::string& out, std::string& error);
  /// "SHA256:..." of the peer's certificate after the handshake ('' when it sent none).
  std::string peerFingerprint() const;

 private:
  void drain(std::string& out);
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // peer -> us (owned by ssl_)
  BIO* out_ = nullptr;  // us -> peer (owned by ssl_)
};

}  // namespace vigil::tds
