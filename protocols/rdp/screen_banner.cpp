#include "protocols/rdp/screen_banner.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "protocols/rdp/rdp_log.hpp"

namespace vigil::rdp {
namespace {

constexpr std::uint8_t kBar[3] = {0x0b, 0x9e, 0xf5};   // BGR of amber (#f59e0b)
constexpr std::uint8_t kInk[3] = {0x1b, 0x0f, 0x11};   // near-black text

const char* fontFile() {
  static const char* const kFonts[] = {
      "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
      "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
      "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
  };
  for (const char* f : kFonts)
    if (std::filesystem::exists(f)) return f;
  return nullptr;
}

/// Next code point of UTF-8 text (invalid bytes read as '?').
char32_t nextCodePoint(const std::string& s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
  if (extra < 0) return U'?';
  char32_t cp = c & (0x3f >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) return U'?';
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3f);
  }
  return cp;
}

}  // namespace

void ScreenBanner::render(const std::string& text, int width) {
  width_ = std::max(width, 1);
  pixels_.assign(static_cast<std::size_t>(width_) * kHeight * 4, 0);
  for (std::size_t p = 0; p < pixels_.size(); p += 4) std::memcpy(&pixels_[p], kBar, 3);

  static std::atomic<bool> warned{false};  // sessions render on their own threads
  const char* font = fontFile();
  FT_Library lib = nullptr;
  FT_Face face = nullptr;
  if (!font || FT_Init_FreeType(&lib) != 0 || FT_New_Face(lib, font, 0, &face) != 0) {
    if (!warned.exchange(true))
      rdpLog()->warn("no font for the on-screen notice (install fonts-dejavu-core); the bar has no text");
    if (lib) FT_Done_FreeType(lib);
    return;
  }
  FT_Set_Pixel_Sizes(face, 0, 17);
  const int baseline = kHeight / 2 + 6;
  int pen = 14;
  for (std::size_t i = 0; i < text.size() && pen < width_ - 10;) {
    const char32_t cp = nextCodePoint(text, i);
    if (FT_Load_Char(face, cp, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot g = face->glyph;
    for (unsigned row = 0; row < g->bitmap.rows; ++row) {
      const int y = baseline - g->bitmap_top + static_cast<int>(row);
      if (y < 0 || y >= kHeight) continue;
      for (unsigned col = 0; col < g->bitmap.width; ++col) {
        const int x = pen + g->bitmap_left + static_cast<int>(col);
        if (x < 0 || x >= width_) continue;
        const unsigned a = g->bitmap.buffer[row * static_cast<unsigned>(g->bitmap.pitch) + col];
        std::uint8_t* px = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 4];
        for (int k = 0; k < 3; ++k) px[k] = static_cast<std::uint8_t>((kInk[k] * a + px[k] * (255 - a)) / 255);
      }
    }
    pen += static_cast<int>(g->advance.x >> 6);
  }
  FT_Done_Face(face);
  FT_Done_FreeType(lib);
}

void ScreenBanner::overlay(std::uint8_t* bgrx, int width, int height, int stride) const {
  if (pixels_.empty() || width != width_) return;
  const std::size_t row = static_cast<std::size_t>(width) * 4;
  for (int y = 0; y < std::min(height, kHeight); ++y)
    std::memcpy(bgrx + static_cast<std::size_t>(stride) * y, &pixels_[row * y], row);
}

}  // namespace vigil::rdp
