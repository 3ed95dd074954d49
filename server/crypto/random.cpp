#include "server/crypto/random.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>
#include <stdexcept>

namespace vigil::crypto {

namespace {

void fillRandom(std::uint8_t* out, std::size_t n) {
  // RAND_bytes takes an int; chunk so huge requests cannot overflow it.
  while (n > 0) {
    const int chunk = n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(out, chunk) != 1) throw std::runtime_error("RAND_bytes failed");
    out += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

Bytes randomBytes(std::size_t n) {
  Bytes out(n);
  fillRandom(out.data(), n);
  return out;
}

SecureBytes randomSecureBytes(std::size_t n) {
  SecureBytes out(n);
  fillRandom(out.data(), n);
  return out;
}

std::string randomToken(std::size_t n) {
  SecureBytes raw = randomSecureBytes(n);
  return base64UrlEncode(raw.data(), raw.size());
}

std::string base64Encode(const std::uint8_t* data, std::size_t len) {
  if (len == 0) return {};
  if (len > static_cast<std::size_t>(INT_MAX) / 4 * 3) throw std::length_error("base64 input too large");
  std::string out(4 * ((len + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock writes a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Bytes base64Decode(std::string_view text) {
  // EVP_DecodeBlock skips leading/trailing whitespace and keeps padding bytes as zeros; validate
  // strictly ourselves so that malformed input is an error rather than garbage.
  if (text.size() % 4 != 0) throw std::invalid_argument("base64: length not a multiple of 4");
  if (text.empty()) return {};
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  for (std::size_t i = 0; i < text.size() - pad; ++i)
    if (!isBase64Char(text[i])) throw std::invalid_argument("base64: invalid character");
  if (text.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("base64: too long");
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < pad) throw std::invalid_argument("base64: invalid input");
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string base64UrlEncode(const std::uint8_t* data, std::size_t len) {
  std::string s = base64Encode(data, len);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

std::string hexEncode(const std::uint8_t* data, std::size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

Bytes hexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("hex: odd length");
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hexValue(hex[i]);
    const int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("hex: invalid character");
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

Bytes sha256(std::string_view data) {
  Bytes out(32);
  unsigned int outLen = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &outLen, EVP_sha256(), nullptr) != 1 ||
      outLen != out.size())
    throw std::runtime_error("SHA-256 failed");
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) noexcept {
  // The length is not secret (codes and tokens have fixed lengths); the contents are.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vigil::crypto
