#pragma once
// The text of a clipboard transfer (MS-RDPECLIP Format Data Response) for the session's timeline:
// which formats are text, and their bytes decoded to UTF-8, cut at the first NUL and at a byte
// budget on a character boundary. No FreeRDP types: unit-tested and fuzzed on its own.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::rdp {

/// Standard clipboard format ids (MS-RDPECLIP 2.2.1 / Windows): the only ones Vigil relays.
constexpr std::uint32_t kCfText = 1;         // CF_TEXT: ANSI text
constexpr std::uint32_t kCfOemText = 7;      // CF_OEMTEXT
constexpr std::uint32_t kCfUnicodeText = 13; // CF_UNICODETEXT: UTF-16LE

inline bool isTextFormat(std::uint32_t id) { return id == kCfText || id == kCfOemText || id == kCfUnicodeText; }

struct ClipboardText {
  std::string utf8;         // at most `max_bytes`, whole characters
  std::uint64_t chars = 0;  // characters in the whole text (before the budget)
  bool truncated = false;
};

/// Decodes `data` of text format `format` (UTF-16LE for CF_UNICODETEXT, else 8-bit text read as
/// Latin-1). Stops at the first NUL; keeps at most `max_bytes` of UTF-8.
ClipboardText decodeClipboardText(std::uint32_t format, std::string_view data, std::size_t max_bytes);

}  // namespace vigil::rdp
