#pragma once
// Turns RDP keyboard input (scancodes with the client's layout, and Unicode key events) into the
// keystroke transcript: printable text as typed, special keys as "[Ctrl+C]", "[Tab]", "[F5]".
// Text is cut into rows at Enter, at a pause, and when a row grows long. No FreeRDP here.
//
// SENSITIVE: sees every keystroke (passwords typed on the target too). The rows go to the
// recording's timeline only, never to logs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocols/rdp/keyboard_layout.hpp"

namespace vigil::rdp {

class KeyboardText {
 public:
  /// `layout`: the client's keyboard layout id (0x409 US). Other layouts are read through their
  /// XKB equivalent (KeyboardLayout); a layout without one is read as US (see layoutKnown()).
  explicit KeyboardText(std::uint32_t layout = 0x409);

  /// A scancode event: `code` is the set-1 scancode, `extended` the E0 prefix, `release` a key up.
  void key(std::uint16_t code, bool extended, bool release, std::int64_t now_ms);
  /// A Unicode key event (UTF-16 code unit); only key downs are text.
  void unicode(std::uint16_t code_unit, bool release, std::int64_t now_ms);
  /// Caps Lock state from a synchronize event.
  void setCapsLock(bool on) { caps_ = on; }

  /// Rows completed so far (moved out). Call `poll(now)` first to cut a row after a pause.
  std::vector<std::string> take();
  /// Ends the current row if nothing was typed for `pause_ms`.
  void poll(std::int64_t now_ms, std::int64_t pause_ms = 2000);
  /// Ends the current row (session end).
  void finish();
  std::uint32_t layout() const { return layout_; }
  /// False when the client's layout is neither US nor one KeyboardLayout knows: typed text is
  /// transcribed as if on a US keyboard.
  bool layoutKnown() const { return layout_ == 0x409 || layout_ == 0 || xkb_ != nullptr; }

 private:
  void text(const std::string& s, std::int64_t now_ms);
  void special(const std::string& name, std::int64_t now_ms);
  void endRow();

  std::uint32_t layout_;
  std::shared_ptr<const KeyboardLayout> xkb_;  // non-US layouts
  bool lshift_ = false, rshift_ = false, lctrl_ = false, rctrl_ = false, lalt_ = false, ralt_ = false;
  bool win_ = false, caps_ = false;
  std::uint16_t high_surrogate_ = 0;
  std::string row_;
  std::int64_t last_ms_ = 0;
  std::vector<std::string> done_;
};

}  // namespace vigil::rdp
