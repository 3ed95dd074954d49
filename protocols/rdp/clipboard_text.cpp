#include "protocols/rdp/clipboard_text.hpp"

#include <algorithm>

#include "protocols/utf8.hpp"

namespace vigil::rdp {
namespace {

std::uint32_t unitAt(std::string_view s, std::size_t i) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i]) | (static_cast<unsigned char>(s[i + 1]) << 8));
}

/// Cuts `s` to at most `max_bytes` on a character boundary; true if it cut.
bool cutUtf8(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return false;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return true;
}

}  // namespace

// Only a prefix is decoded (a paste may be megabytes; the timeline keeps the start), but every
// character is counted.
ClipboardText decodeClipboardText(std::uint32_t format, std::string_view data, std::size_t max_bytes) {
  ClipboardText t;
  if (format == kCfUnicodeText) {
    std::size_t end = 0;  // bytes before the NUL code unit
    while (end + 1 < data.size() && (data[end] != 0 || data[end + 1] != 0)) end += 2;
    for (std::size_t i = 0; i < end; i += 2, ++t.chars) {
      const std::uint32_t u = unitAt(data, i);
      if (u >= 0xD800 && u <= 0xDBFF && i + 3 < end) {
        const std::uint32_t lo = unitAt(data, i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) i += 2;  // a pair is one character
      }
    }
    // Every code unit makes at least one UTF-8 byte: max_bytes + 2 units (a pair) are enough.
    const std::size_t prefix = std::min(end, 2 * (max_bytes + 2));
    t.utf8 = proto::utf16leToUtf8(data.substr(0, prefix));
    t.truncated = cutUtf8(t.utf8, max_bytes) || prefix < end;
  } else {
    const std::size_t end = std::min(data.find('\0'), data.size());
    t.chars = end;
    for (std::size_t i = 0; i < std::min(end, max_bytes + 1); ++i)
      proto::appendUtf8(t.utf8, static_cast<unsigned char>(data[i]));
    t.truncated = cutUtf8(t.utf8, max_bytes) || end > max_bytes + 1;
  }
  return t;
}

}  // namespace vigil::rdp
