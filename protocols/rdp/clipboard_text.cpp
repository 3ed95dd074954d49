#include "protocols/rdp/clipboard_text.hpp"

#include "protocols/utf8.hpp"

namespace vigil::rdp {

ClipboardText decodeClipboardText(std::uint32_t format, std::string_view data, std::size_t max_bytes) {
  std::string all;
  if (format == kCfUnicodeText) {
    std::size_t end = 0;
    while (end + 1 < data.size() && (data[end] != 0 || data[end + 1] != 0)) end += 2;
    all = proto::utf16leToUtf8(data.substr(0, end));
  } else {
    for (const char c : data) {
      if (c == 0) break;
      proto::appendUtf8(all, static_cast<unsigned char>(c));
    }
  }
  ClipboardText t;
  for (const char c : all)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++t.chars;
  if (all.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(all[cut]) & 0xC0) == 0x80) --cut;  // a character boundary
    all.resize(cut);
    t.truncated = true;
  }
  t.utf8 = std::move(all);
  return t;
}

}  // namespace vigil::rdp
