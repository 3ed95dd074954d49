// libFuzzer target for the RDP clipboard text of a transfer (what the timeline keeps). Input: a
// format byte, a 16-bit byte budget, the clipboard data. Aborts unless the kept text is valid
// UTF-8 within the budget, and its character count agrees with the count of the whole text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocols/rdp/clipboard_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static const std::uint32_t kFormats[] = {vigil::rdp::kCfText, vigil::rdp::kCfOemText, vigil::rdp::kCfUnicodeText};
  const std::uint32_t format = kFormats[data[0] % 3];
  const std::size_t budget = data[1] | (data[2] << 8);
  const std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  const auto t = vigil::rdp::decodeClipboardText(format, body, budget);
  if (t.utf8.size() > budget) std::abort();
  std::uint64_t kept = 0;
  for (std::size_t i = 0; i < t.utf8.size();) {  // well-formed UTF-8, counted
    const auto c = static_cast<unsigned char>(t.utf8[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > t.utf8.size()) std::abort();
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(t.utf8[i + k]) & 0xC0) != 0x80) std::abort();
    i += n;
    ++kept;
  }
  if (kept > t.chars || (!t.truncated && kept != t.chars)) std::abort();
  return 0;
}
