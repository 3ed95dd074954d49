#include "server/services/ids.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>

#include "server/auth/totp.hpp"
#include "server/crypto/random.hpp"

namespace vigil::services {

std::string newUuidV7() {
  static std::mutex mu;
  static std::uint64_t last_ms = 0;
  static std::uint16_t seq = 0;
  auto rnd = crypto::randomBytes(10);
  std::uint64_t ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::uint16_t counter;
  {
    // rand_a (12 bits) is a counter within one millisecond (RFC 9562 method 1), so ids from
    // this process are strictly increasing even when the clock stands still or steps back.
    std::lock_guard g(mu);
    if (ms <= last_ms) {
      ms = last_ms;
      if (++seq > 0xFFF) {
        ++ms;
        seq = 0;
      }
    } else {
      seq = static_cast<std::uint16_t>(rnd[0] & 0x3FF);  // random start, room to count up
    }
    last_ms = ms;
    counter = seq;
  }
  std::uint8_t b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0F));
  b[7] = static_cast<std::uint8_t>(counter & 0xFF);
  b[8] = static_cast<std::uint8_t>(0x80 | (rnd[1] & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = rnd[static_cast<std::size_t>(i - 7)];
  const std::string hex = crypto::hexEncode(b, 16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

bool isUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string newLaunchToken() {
  auto raw = crypto::randomSecureBytes(20);
  std::string t = auth::base32Encode(raw.data(), raw.size());
  for (char& c : t)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return t;
}

bool looksLikeLaunchToken(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  return true;
}

}  // namespace vigil::services
