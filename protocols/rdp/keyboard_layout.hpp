#pragma once
// The characters a key types on the RDP client's keyboard layout (German, French, UK, Nordic, …),
// read from the X keyboard database through libxkbcommon: RDP sends set-1 scancodes, which are
// evdev key codes for the main block (xkb key code = scancode + 8). No FreeRDP here.
#include <cstdint>
#include <memory>
#include <string>

struct xkb_context;
struct xkb_keymap;
struct xkb_state;

namespace vigil::rdp {

class KeyboardLayout {
 public:
  /// The layout for a Windows keyboard layout id (0x407 German, 0x40C French, …); null when the
  /// id has no known XKB layout or the XKB data cannot be loaded (the caller falls back to US).
  static std::unique_ptr<KeyboardLayout> forWindowsLayout(std::uint32_t layout_id);
  /// The XKB layout name of a Windows layout id ("de", "fr", "gb", …), "" when unknown.
  static std::string xkbName(std::uint32_t layout_id);
  ~KeyboardLayout();
  KeyboardLayout(const KeyboardLayout&) = delete;
  KeyboardLayout& operator=(const KeyboardLayout&) = delete;

  /// UTF-8 text of a non-extended scancode with these modifiers; "" for keys that type nothing
  /// (dead keys, modifiers, control characters).
  std::string text(std::uint16_t scancode, bool shift, bool altgr, bool caps) const;
  const std::string& name() const { return name_; }

 private:
  KeyboardLayout() = default;
  std::string name_;
  xkb_context* ctx_ = nullptr;
  xkb_keymap* keymap_ = nullptr;
  xkb_state* state_ = nullptr;
  std::uint32_t shift_mask_ = 0, altgr_mask_ = 0, caps_mask_ = 0;
};

}  // namespace vigil::rdp
