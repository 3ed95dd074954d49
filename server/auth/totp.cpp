#include "server/auth/totp.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "server/crypto/random.hpp"

namespace vigil::auth {

namespace {

constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t kSecretBytes = 20;  // 160 bits, as RFC 4226 recommends
constexpr int kVerifyDigits = 6;

int base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

const EVP_MD* digestFor(std::string_view algo) {
  if (algo == "SHA1") return EVP_sha1();
  if (algo == "SHA256") return EVP_sha256();
  if (algo == "SHA512") return EVP_sha512();
  return nullptr;
}

bool allAsciiDigits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

}  // namespace

std::string base32Encode(const std::uint8_t* data, std::size_t len) {
  std::string out;
  out.reserve((len * 8 + 4) / 5);
  unsigned buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1F]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

std::optional<crypto::SecureBytes> base32Decode(std::string_view text) {
  crypto::SecureBytes out;
  out.reserve(text.size() * 5 / 8);
  unsigned buffer = 0;
  int bits = 0;
  std::size_t symbols = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = base32Value(c);
    if (v < 0 || padding) return std::nullopt;  // padding only at the end
    buffer = ((buffer << 5) | static_cast<unsigned>(v)) & 0xFFF;  // at most 12 live bits
    bits += 5;
    ++symbols;
    if (bits >= 8) {
      out.push_back(static_cast<std::uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  // 1, 3 or 6 symbols past a full 8-symbol block cannot come from any byte string.
  const std::size_t rest = symbols % 8;
  if (rest == 1 || rest == 3 || rest == 6) return std::nullopt;
  return out;
}

crypto::SecureString newTotpSecret() {
  const crypto::SecureBytes raw = crypto::randomSecureBytes(kSecretBytes);
  std::string encoded = base32Encode(raw.data(), raw.size());
  crypto::SecureString out(encoded.begin(), encoded.end());
  crypto::wipe(encoded);
  return out;
}

std::string totpCode(const crypto::SecureBytes& key, std::uint64_t step, int digits,
                     std::string_view algo) {
  if (digits < 6 || digits > 8) throw std::invalid_argument("TOTP digits must be 6..8");
  const EVP_MD* md = digestFor(algo);
  if (md == nullptr) throw std::invalid_argument("TOTP algorithm must be SHA1, SHA256 or SHA512");

  std::array<std::uint8_t, 8> counter{};
  for (int i = 7; i >= 0; --i, step >>= 8) counter[static_cast<std::size_t>(i)] = step & 0xFF;

  std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
  unsigned int macLen = 0;
  // HMAC() wants a non-null key pointer even for an empty key.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* keyPtr = key.empty() ? &kEmpty : key.data();
  if (HMAC(md, keyPtr, static_cast<int>(key.size()), counter.data(), counter.size(), mac.data(),
           &macLen) == nullptr || macLen < 20)
    throw std::runtime_error("TOTP: HMAC failed");

  // RFC 4226 dynamic truncation.
  const unsigned offset = mac[macLen - 1] & 0x0F;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7F) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(mac[offset + 3]);
  OPENSSL_cleanse(mac.data(), mac.size());
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::optional<std::uint64_t> verifyTotp(const crypto::SecureBytes& key, std::string_view code,
                                        std::uint64_t unix_time,
                                        std::optional<std::uint64_t> last_used_step, int period) {
  if (period <= 0 || key.empty()) return std::nullopt;
  if (code.size() != static_cast<std::size_t>(kVerifyDigits) || !allAsciiDigits(code))
    return std::nullopt;
  const std::uint64_t now = unix_time / static_cast<std::uint64_t>(period);
  std::optional<std::uint64_t> match;
  // Compare every candidate so timing does not reveal which step matched.
  for (int delta = -1; delta <= 1; ++delta) {
    if (delta < 0 && now == 0) continue;
    const std::uint64_t step = now + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
    std::string expected = totpCode(key, step, kVerifyDigits);
    const bool equal = crypto::constantTimeEqual(expected, code);
    crypto::wipe(expected);
    if (equal && (!last_used_step || step > *last_used_step)) match = step;
  }
  return match;
}

std::string otpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view base32_secret) {
  return "otpauth://totp/" + percentEncode(issuer) + ":" + percentEncode(account) +
         "?secret=" + percentEncode(base32_secret) + "&issuer=" + percentEncode(issuer) +
         "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace vigil::auth
