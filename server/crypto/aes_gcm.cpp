#include "server/crypto/aes_gcm.hpp"

#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "server/crypto/random.hpp"

namespace vigil::crypto {

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

void checkSizes(const SecureBytes& key, const Bytes& nonce) {
  if (key.size() != kAesKeySize) throw std::invalid_argument("AES-256-GCM: key must be 32 bytes");
  if (nonce.size() != kGcmNonceSize) throw std::invalid_argument("AES-256-GCM: nonce must be 12 bytes");
}

// EVP takes int lengths; anything larger is a caller bug, not a runtime condition.
bool fitsInt(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

const unsigned char* aadPtr(std::string_view aad) {
  return reinterpret_cast<const unsigned char*>(aad.data());
}

}  // namespace

GcmSealed gcmEncrypt(const SecureBytes& key, const Bytes& nonce, const std::uint8_t* plaintext,
                     std::size_t len, std::string_view aad) {
  checkSizes(key, nonce);
  if (!fitsInt(len) || !fitsInt(aad.size())) throw std::invalid_argument("AES-256-GCM: input too large");

  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("AES-256-GCM: out of memory");

  GcmSealed out{nonce, Bytes(len), Bytes(kGcmTagSize)};
  int n = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) == 1;
  if (ok && !aad.empty())
    ok = EVP_EncryptUpdate(ctx.get(), nullptr, &n, aadPtr(aad), static_cast<int>(aad.size())) == 1;
  if (ok && len > 0)
    ok = EVP_EncryptUpdate(ctx.get(), out.ciphertext.data(), &n, plaintext, static_cast<int>(len)) == 1;
  int fin = 0;
  if (ok) ok = EVP_EncryptFinal_ex(ctx.get(), out.ciphertext.data() + len, &fin) == 1 && fin == 0;
  if (ok)
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagSize),
                             out.tag.data()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM: encryption failed");
  return out;
}

GcmSealed gcmEncrypt(const SecureBytes& key, const std::uint8_t* plaintext, std::size_t len,
                     std::string_view aad) {
  // 96-bit random nonces: safe for far more messages per key than a keyring ever sees.
  return gcmEncrypt(key, randomBytes(kGcmNonceSize), plaintext, len, aad);
}

std::optional<SecureBytes> gcmDecrypt(const SecureBytes& key, const GcmSealed& sealed,
                                      std::string_view aad) {
  if (key.size() != kAesKeySize) throw std::invalid_argument("AES-256-GCM: key must be 32 bytes");
  // A malformed blob is an authentication failure, not a programming error.
  if (sealed.nonce.size() != kGcmNonceSize || sealed.tag.size() != kGcmTagSize) return std::nullopt;
  if (!fitsInt(sealed.ciphertext.size()) || !fitsInt(aad.size())) return std::nullopt;

  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;

  const std::size_t len = sealed.ciphertext.size();
  SecureBytes plain(len);
  int n = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                               sealed.nonce.data()) == 1;
  if (ok && !aad.empty())
    ok = EVP_DecryptUpdate(ctx.get(), nullptr, &n, aadPtr(aad), static_cast<int>(aad.size())) == 1;
  if (ok && len > 0)
    ok = EVP_DecryptUpdate(ctx.get(), plain.data(), &n, sealed.ciphertext.data(),
                           static_cast<int>(len)) == 1;
  // EVP_CTRL_GCM_SET_TAG wants a non-const pointer but does not modify the tag.
  if (ok)
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagSize),
                             const_cast<std::uint8_t*>(sealed.tag.data())) == 1;
  int fin = 0;
  if (ok) ok = EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &fin) == 1 && fin == 0;
  if (!ok) return std::nullopt;  // `plain` holds unauthenticated bytes; its allocator wipes them
  return plain;
}

Bytes packSealed(const GcmSealed& s) {
  Bytes out;
  out.reserve(s.nonce.size() + s.ciphertext.size() + s.tag.size());
  out.insert(out.end(), s.nonce.begin(), s.nonce.end());
  out.insert(out.end(), s.ciphertext.begin(), s.ciphertext.end());
  out.insert(out.end(), s.tag.begin(), s.tag.end());
  return out;
}

std::optional<GcmSealed> unpackSealed(const Bytes& blob) {
  if (blob.size() < kGcmNonceSize + kGcmTagSize) return std::nullopt;
  const auto ctBegin = blob.begin() + kGcmNonceSize;
  const auto tagBegin = blob.end() - kGcmTagSize;
  return GcmSealed{Bytes(blob.begin(), ctBegin), Bytes(ctBegin, tagBegin), Bytes(tagBegin, blob.end())};
}

}  // namespace vigil::crypto
