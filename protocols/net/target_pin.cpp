#include "protocols/net/target_pin.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cctype>
#include <memory>

namespace vigil::proto {

std::string certificateFingerprint(X509* cert) {
  if (cert == nullptr) return {};
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
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

std::string peerCertificateFingerprint(SSL* ssl) {
  if (ssl == nullptr) return {};
  X509* cert = SSL_get1_peer_certificate(ssl);
  std::string fp = certificateFingerprint(cert);
  X509_free(cert);
  return fp;
}

std::string certificateFingerprintFromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return {};
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  return certificateFingerprint(cert.get());
}

std::string hexFingerprint(std::string_view fp) {
  if (!fp.starts_with("SHA256:")) return {};
  std::string b64(fp.substr(7));
  while (b64.size() % 4 != 0) b64.push_back('=');
  unsigned char raw[64] = {0};
  if (b64.size() > 88) return {};
  const int n = EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < SHA256_DIGEST_LENGTH) return {};  // EVP_DecodeBlock counts the padding as zero bytes
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[raw[i] >> 4]);
    out.push_back(kHex[raw[i] & 0xF]);
  }
  return out;
}

namespace {
bool sameHex(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  return true;
}
}  // namespace

PinResult checkTargetPin(const Grant& grant, Gatekeeper& gatekeeper, std::string_view session_id,
                         const std::string& seen, std::string_view what, bool require_pin) {
  PinResult r;
  // A certificate pinned in the portal's form ("AB:CD:…") wins over an older "SHA256:" pin.
  const bool hex_pin = !grant.target.certificate_fingerprint.empty();
  const std::string& pinned = hex_pin ? grant.target.certificate_fingerprint : grant.target.host_key_fingerprint;
  const std::string shown = hex_pin ? hexFingerprint(seen) : seen;
  const std::string name = grant.target.name;
  const std::string w(what);
  if (pinned.empty()) {
    if (grant.policy.trust_on_first_use) {
      if (!gatekeeper.pinHostKey(grant.target.target_id, seen, session_id)) {
        r.ok = false;
        r.reason = "host_key_mismatch";
        r.detail = "another fingerprint was pinned meanwhile; offered " + seen;
        r.message = "Vigil refused: the " + w + " of " + name + " changed while it was being pinned.";
        return r;
      }
      r.newly_pinned = true;
      return r;
    }
    if (require_pin) {
      r.ok = false;
      r.reason = "host_key_unpinned";
      r.detail = "offered " + seen;
      r.message = "Vigil refused: the " + w + " of " + name + " is not pinned yet; ask an administrator to pin " +
                  seen + ".";
    } else {
      r.unpinned = true;
    }
    return r;
  }
  if (hex_pin ? !sameHex(shown, pinned) : seen != pinned) {
    r.ok = false;
    r.reason = "host_key_mismatch";
    r.detail = "expected " + pinned + " got " + shown;
    r.message = "Vigil refused: the " + w + " of " + name + " does not match the pinned fingerprint (expected " +
                pinned + ", got " + shown + "). The session was not opened.";
  }
  return r;
}

}  // namespace vigil::proto
