#include "protocols/rdp/cert_fingerprint.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>

namespace vigil::rdp {

std::string certificateFingerprintFromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return {};
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return {};
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return {};
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  unsigned char b64[64] = {0};
  const int n = EVP_EncodeBlock(b64, digest, sizeof digest);
  std::string out(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return "SHA256:" + out;
}

}  // namespace vigil::rdp
