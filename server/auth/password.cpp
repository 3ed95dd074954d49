#include "server/auth/password.hpp"

#include <argon2.h>

#include <cstring>
#include <stdexcept>

#include "server/crypto/random.hpp"

namespace vigil::auth {

namespace {

constexpr std::size_t kSaltLen = 16;
constexpr std::size_t kHashLen = 32;
constexpr std::size_t kMinChars = 12;
constexpr std::size_t kMaxBytes = 1024;
// A stored hash far longer than any we write is corrupt; do not hand it to the parser.
constexpr std::size_t kMaxEncodedLen = 512;

// No 0/O/o, 1/l/I/i: initial passwords are read off a screen and typed by hand.
constexpr std::string_view kAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";

// Decodes one UTF-8 sequence at `i` (strict: no overlongs, surrogates or values past U+10FFFF).
// Returns the code point and advances `i`, or -1.
long nextCodePoint(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t n = 0;  // continuation bytes
  long cp = 0;
  long min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 1;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return -1;
  }
  if (s.size() - i <= n) return -1;  // truncated sequence
  for (std::size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += n + 1;
  return cp;
}

}  // namespace

std::string hashPassword(std::string_view password, const Argon2Params& params) {
  const crypto::Bytes salt = crypto::randomBytes(kSaltLen);
  const std::size_t encodedLen = argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism,
                                                   kSaltLen, kHashLen, Argon2_id);
  std::string encoded(encodedLen, '\0');
  const int rc = argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kHashLen, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2id: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));  // encodedlen is an upper bound incl. NUL
  return encoded;
}

bool verifyPassword(std::string_view password, const std::string& encoded) {
  // Only Argon2id is ever written; accepting argon2i/d would let a forged row pick a weaker mode.
  if (encoded.rfind("$argon2id$", 0) != 0 || encoded.size() > kMaxEncodedLen) return false;
  if (encoded.find('\0') != std::string::npos) return false;
  // argon2id_verify compares in constant time and rejects malformed strings with an error code.
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string generatePassword(std::size_t length) {
  const std::size_t n = kAlphabet.size();
  // Reject bytes from the incomplete last block of 256 so every character is equally likely.
  const unsigned limit = 256 - 256 % n;
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    crypto::SecureBytes buf = crypto::randomSecureBytes(length - out.size() + 8);
    for (std::uint8_t b : buf) {
      if (b >= limit) continue;
      out.push_back(kAlphabet[b % n]);
      if (out.size() == length) break;
    }
  }
  return out;
}

std::string passwordPolicyViolation(std::string_view password) {
  if (password.size() > kMaxBytes) return "password must be at most 1024 bytes";
  std::size_t chars = 0;
  long first = -1;
  bool allSame = true;
  for (std::size_t i = 0; i < password.size();) {
    const long cp = nextCodePoint(password, i);
    if (cp < 0) return "password must be valid UTF-8";
    if (chars == 0) first = cp;
    else if (cp != first) allSame = false;
    ++chars;
  }
  if (chars < kMinChars) return "password must be at least 12 characters";
  if (allSame) return "password must not repeat a single character";
  return {};
}

}  // namespace vigil::auth
