#include "protocols/rdp/keyboard_text.hpp"

#include "protocols/utf8.hpp"
#include <cctype>

namespace vigil::rdp {
namespace {

// US layout, set-1 scancodes 0x00..0x39: unshifted and shifted characters (0 = not printable).
constexpr char kPlain[0x3A] = {
    0,   0,   '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', 0,   0,     // 0x00
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', 0,   0,   'a', 's',  // 0x10
    'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0,  '\\', 'z', 'x', 'c', 'v', // 0x20
    'b', 'n', 'm', ',', '.', '/', 0,   '*', 0,   ' '};                               // 0x30
constexpr char kShift[0x3A] = {
    0,   0,   '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', 0,   0,
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', 0,   0,   'A', 'S',
    'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0,   '|', 'Z', 'X', 'C', 'V',
    'B', 'N', 'M', '<', '>', '?', 0,   '*', 0,   ' '};

const char* specialName(std::uint16_t code, bool extended) {
  if (extended) {
    switch (code) {
      case 0x1C: return "Enter";
      case 0x35: return nullptr;  // keypad '/': text
      case 0x47: return "Home";
      case 0x48: return "Up";
      case 0x49: return "PgUp";
      case 0x4B: return "Left";
      case 0x4D: return "Right";
      case 0x4F: return "End";
      case 0x50: return "Down";
      case 0x51: return "PgDn";
      case 0x52: return "Ins";
      case 0x53: return "Del";
      default: return nullptr;
    }
  }
  switch (code) {
    case 0x01: return "Esc";
    case 0x0E: return "Backspace";
    case 0x0F: return "Tab";
    case 0x1C: return "Enter";
    case 0x3B: return "F1";
    case 0x3C: return "F2";
    case 0x3D: return "F3";
    case 0x3E: return "F4";
    case 0x3F: return "F5";
    case 0x40: return "F6";
    case 0x41: return "F7";
    case 0x42: return "F8";
    case 0x43: return "F9";
    case 0x44: return "F10";
    case 0x57: return "F11";
    case 0x58: return "F12";
    default: return nullptr;
  }
}


constexpr std::size_t kMaxRow = 500;

}  // namespace

KeyboardText::KeyboardText(std::uint32_t layout) : layout_(layout) {
  if (layout != 0x409 && layout != 0) xkb_ = KeyboardLayout::forWindowsLayout(layout);
}

void KeyboardText::endRow() {
  if (!row_.empty()) done_.push_back(std::move(row_));
  row_.clear();
}

void KeyboardText::text(const std::string& s, std::int64_t now_ms) {
  row_ += s;
  last_ms_ = now_ms;
  if (row_.size() >= kMaxRow) endRow();
}

void KeyboardText::special(const std::string& name, std::int64_t now_ms) { text("[" + name + "]", now_ms); }

void KeyboardText::key(std::uint16_t code, bool extended, bool release, std::int64_t now_ms) {
  // Modifiers: tracked on both edges.
  switch (code) {
    case 0x2A: lshift_ = !release; return;
    case 0x36: if (!extended) { rshift_ = !release; return; } break;
    case 0x1D: (extended ? rctrl_ : lctrl_) = !release; return;
    case 0x38: (extended ? ralt_ : lalt_) = !release; return;
    case 0x5B:
    case 0x5C:
      if (extended) {
        if (!release) win_ = true;
        else win_ = false;
        return;
      }
      break;
    case 0x3A:
      if (!release) caps_ = !caps_;
      return;
    default: break;
  }
  if (release) return;
  const bool shift = lshift_ || rshift_;
  const bool ctrl = lctrl_ || rctrl_;
  const bool alt = lalt_;  // AltGr (right Alt) types characters on most layouts
  std::string mods;
  if (ctrl) mods += "Ctrl+";
  if (alt) mods += "Alt+";
  if (win_) mods += "Win+";

  if (const char* name = specialName(code, extended)) {
    const std::string n(name);
    if (mods.empty() && n == "Enter") {
      endRow();
      last_ms_ = now_ms;
      return;
    }
    if (mods.empty() && n == "Backspace" && !row_.empty() && row_.back() != ']') {
      // Remove the last UTF-8 character typed.
      std::size_t i = row_.size() - 1;
      while (i > 0 && (static_cast<unsigned char>(row_[i]) & 0xC0) == 0x80) --i;
      row_.erase(i);
      last_ms_ = now_ms;
      return;
    }
    special(mods + (shift && !mods.empty() ? "Shift+" : "") + n, now_ms);
    if (n == "Enter") endRow();
    return;
  }
  if (xkb_ && !extended) {
    // The client's layout: what the key types with Shift, AltGr and Caps Lock as they are. A
    // client may send AltGr as Ctrl+Alt: text typed with AltGr is text, not a shortcut.
    const std::string typed = xkb_->text(code, shift, ralt_, caps_);
    if (!typed.empty() && (mods.empty() || (ralt_ && !lalt_ && !win_))) {
      text(typed, now_ms);
      return;
    }
    const std::string base = xkb_->text(code, false, false, false);
    if (!mods.empty() && !base.empty()) {
      std::string k = base;
      if (k.size() == 1) k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
      special(mods + (shift ? "Shift+" : "") + k, now_ms);
      return;
    }
    if (!base.empty() || typed.empty()) return;  // a dead key (accents are not composed) or nothing
  }
  char c = 0;
  if (extended && code == 0x35) c = '/';
  else if (code < sizeof kPlain) c = shift ? kShift[code] : kPlain[code];
  if (!c) return;  // keys we do not name (keypad with Num Lock, media keys)
  if (std::isalpha(static_cast<unsigned char>(c)) && caps_)
    c = static_cast<char>(shift ? std::tolower(c) : std::toupper(c));
  if (!mods.empty()) {
    // A shortcut: [Ctrl+C], [Ctrl+Shift+T]
    char k = static_cast<char>(std::toupper(static_cast<unsigned char>(kPlain[code] ? kPlain[code] : c)));
    special(mods + (shift ? "Shift+" : "") + std::string(1, k), now_ms);
    return;
  }
  text(std::string(1, c), now_ms);
}

void KeyboardText::unicode(std::uint16_t unit, bool release, std::int64_t now_ms) {
  if (release) return;
  if (unit >= 0xD800 && unit <= 0xDBFF) {
    high_surrogate_ = unit;
    return;
  }
  std::uint32_t cp = unit;
  if (unit >= 0xDC00 && unit <= 0xDFFF) {
    if (!high_surrogate_) return;
    cp = 0x10000 + ((static_cast<std::uint32_t>(high_surrogate_) - 0xD800) << 10) + (unit - 0xDC00);
  }
  high_surrogate_ = 0;
  if (cp == '\r' || cp == '\n') {
    endRow();
    return;
  }
  if (cp < 0x20) return;
  std::string s;
  proto::appendUtf8(s, cp);
  text(s, now_ms);
}

void KeyboardText::poll(std::int64_t now_ms, std::int64_t pause_ms) {
  if (!row_.empty() && now_ms - last_ms_ >= pause_ms) endRow();
}

void KeyboardText::finish() { endRow(); }

std::vector<std::string> KeyboardText::take() {
  std::vector<std::string> out;
  out.swap(done_);
  return out;
}

}  // namespace vigil::rdp
