#pragma once
// A one-line notice drawn across the top of the picture Vigil sends the person's RDP client
// ("Session suspended by the security team: …"): text rendered with FreeType in a system font
// (DejaVu Sans) on an amber bar. The target's screen and the recording are not touched.
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::rdp {

class ScreenBanner {
 public:
  static constexpr int kHeight = 36;

  /// Renders `text` (UTF-8) on a bar `width` pixels wide. Without a usable font the bar is drawn
  /// without text (and the reason is logged once).
  void render(const std::string& text, int width);
  void clear() { pixels_.clear(); }
  bool shown() const { return !pixels_.empty(); }
  /// Copies the bar over the top rows of `bgrx` (`width` must be the rendered width).
  void overlay(std::uint8_t* bgrx, int width, int height, int stride) const;

 private:
  std::vector<std::uint8_t> pixels_;  // BGRX, width_ x kHeight
  int width_ = 0;
};

}  // namespace vigil::rdp
