#pragma once
// UTF-8 encoding of one code point, shared by the protocol decoders (TDS UTF-16 text, RDP
// Unicode keystrokes) and the recorder's terminal screens (libvterm cells). Header-only: the
// decoders and their fuzz targets need no extra library.
#include <cstdint>
#include <string>

namespace vigil::proto {

/// Appends `cp` as UTF-8; a surrogate or a value beyond U+10FFFF becomes U+FFFD.
inline void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace vigil::proto
