#include "protocols/tds/tls_leg.hpp"

#include "protocols/net/target_pin.hpp"

#include <openssl/err.h>

namespace vigil::tds {

namespace {
std::string lastError(const char* what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + (e != 0 ? std::string(": ") + buf : std::string());
}

SSL_CTX* baseContext(const SSL_METHOD* method, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) {
    error = lastError("SSL_CTX_new");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  // Old TDS clients (FreeTDS builds, older drivers) still offer SHA-1 era suites at level 1.
  SSL_CTX_set_security_level(ctx, 1);
  return ctx;
}
}  // namespace

SSL_CTX* makeServerTlsContext(const std::string& cert_file, const std::string& key_file, std::string& error) {
  SSL_CTX* ctx = baseContext(TLS_server_method(), error);
  if (ctx == nullptr) return nullptr;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = lastError(("cannot load the TLS certificate " + cert_file).c_str());
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

SSL_CTX* makeClientTlsContext(std::string& error) {
  SSL_CTX* ctx = baseContext(TLS_client_method(), error);
  if (ctx != nullptr) SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  return ctx;
}

TlsLeg::TlsLeg(SSL_CTX* ctx, bool server) {
  ssl_ = SSL_new(ctx);
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  if (server) SSL_set_accept_state(ssl_);
  else SSL_set_connect_state(ssl_);
}

TlsLeg::~TlsLeg() { SSL_free(ssl_); }

void TlsLeg::drain(std::string& out) {
  char buf[16384];
  int n;
  while ((n = BIO_read(out_, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
}

int TlsLeg::handshake(std::string_view in, std::string& out, std::string& error) {
  if (!in.empty()) BIO_write(in_, in.data(), static_cast<int>(in.size()));
  const int rc = SSL_do_handshake(ssl_);
  drain(out);
  if (rc == 1) return 1;
  const int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  error = lastError("TLS handshake failed");
  return -1;
}

bool TlsLeg::decrypt(std::string_view in, std::string& plain, std::string& error) {
  if (!in.empty()) BIO_write(in_, in.data(), static_cast<int>(in.size()));
  char buf[16384];
  for (;;) {
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plain.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ) return true;
    if (e == SSL_ERROR_ZERO_RETURN) {
      error = "TLS closed by the peer";
      return false;
    }
    error = lastError("TLS read failed");
    return false;
  }
}

bool TlsLeg::encrypt(std::string_view plain, std::string& out, std::string& error) {
  if (!plain.empty() && SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())) <= 0) {
    error = lastError("TLS write failed");
    return false;
  }
  drain(out);
  return true;
}

std::string TlsLeg::peerFingerprint() const { return proto::peerCertificateFingerprint(ssl_); }

}  // namespace vigil::tds
