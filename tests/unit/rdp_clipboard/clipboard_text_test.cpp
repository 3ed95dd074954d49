// Clipboard transfers to timeline text: the formats relayed, UTF-16 and 8-bit text decoded, cut at
// the NUL terminator and at the logging budget on a character boundary.
#include <catch2/catch.hpp>

#include <string>

#include "protocols/rdp/clipboard_text.hpp"

using namespace vigil::rdp;

namespace {
std::string utf16(const std::u16string& s, bool nul = true) {
  std::string out;
  for (const char16_t c : s) {
    out += static_cast<char>(c & 0xFF);
    out += static_cast<char>(c >> 8);
  }
  if (nul) out += std::string(2, '\0');
  return out;
}
}  // namespace

TEST_CASE("only the standard text formats are relayed", "[rdp][clipboard]") {
  CHECK(isTextFormat(kCfText));
  CHECK(isTextFormat(kCfOemText));
  CHECK(isTextFormat(kCfUnicodeText));
  CHECK_FALSE(isTextFormat(2));       // CF_BITMAP
  CHECK_FALSE(isTextFormat(8));       // CF_DIB
  CHECK_FALSE(isTextFormat(15));      // CF_HDROP (files)
  CHECK_FALSE(isTextFormat(0xC0A1));  // a registered format ("FileGroupDescriptorW", "HTML Format", ...)
}

TEST_CASE("clipboard text is decoded, counted in characters and cut where it ends", "[rdp][clipboard]") {
  SECTION("UTF-16 with a surrogate pair, stopped at the NUL") {
    const auto t = decodeClipboardText(kCfUnicodeText, utf16(u"Grüße 😀") + utf16(u"after the end"), 1024);
    CHECK(t.utf8 == "Grüße 😀");
    CHECK(t.chars == 7);
    CHECK_FALSE(t.truncated);
  }
  SECTION("UTF-16 without a terminator, an odd byte left over, a lone surrogate") {
    std::string data = utf16(u"ab", false) + std::string("\x00\xD8", 2) + std::string("c", 1);
    const auto t = decodeClipboardText(kCfUnicodeText, data, 1024);
    CHECK(t.utf8 == "ab\xEF\xBF\xBD");  // U+FFFD for the unpaired surrogate; the odd byte dropped
    CHECK(t.chars == 3);
  }
  SECTION("8-bit text is read as Latin-1 up to its NUL") {
    const auto t = decodeClipboardText(kCfText, std::string("caf\xE9\0tail", 9), 1024);
    CHECK(t.utf8 == "café");
    CHECK(t.chars == 4);
  }
  SECTION("empty and NUL-only data") {
    CHECK(decodeClipboardText(kCfUnicodeText, "", 10).utf8.empty());
    CHECK(decodeClipboardText(kCfUnicodeText, std::string(2, '\0'), 10).chars == 0);
    CHECK(decodeClipboardText(kCfText, std::string(1, '\0'), 10).utf8.empty());
  }
  SECTION("the budget cuts on a character boundary and says so; the count is of the whole text") {
    const auto t = decodeClipboardText(kCfUnicodeText, utf16(u"aé€😀b"), 6);  // 1+2+3 bytes fit; 😀 (4) does not
    CHECK(t.utf8 == "aé€");
    CHECK(t.truncated);
    CHECK(t.chars == 5);
    const auto cut_mid = decodeClipboardText(kCfUnicodeText, utf16(u"aé€"), 4);  // € would straddle the limit
    CHECK(cut_mid.utf8 == "aé");
    CHECK(cut_mid.truncated);
  }
  SECTION("a paste of megabytes: every character counted, only the start kept") {
    std::u16string big;
    for (int i = 0; i < 300000; ++i) big += (i % 2) ? u"é" : u"😀";  // 150000 pairs and 150000 BMP characters
    const auto t = decodeClipboardText(kCfUnicodeText, utf16(big), 16 * 1024);
    CHECK(t.chars == 300000);
    CHECK(t.truncated);
    CHECK(t.utf8.size() <= 16 * 1024);
    CHECK(t.utf8.size() > 16 * 1024 - 4);
    const auto a = decodeClipboardText(kCfText, std::string(5'000'000, 'x'), 1000);
    CHECK(a.chars == 5'000'000);
    CHECK(a.utf8 == std::string(1000, 'x'));
    CHECK(a.truncated);
    CHECK_FALSE(decodeClipboardText(kCfText, std::string(1000, 'x'), 1000).truncated);
  }
}
