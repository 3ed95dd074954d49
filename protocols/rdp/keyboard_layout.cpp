#include "protocols/rdp/keyboard_layout.hpp"

#include <xkbcommon/xkbcommon.h>

namespace vigil::rdp {
namespace {

struct Known {
  std::uint32_t id;
  const char* layout;
  const char* variant;
};

// Windows keyboard layout ids (KLID) of common layouts and their XKB equivalents.
constexpr Known kLayouts[] = {
    {0x0409, "us", ""},    {0x0809, "gb", ""},  {0x1009, "ca", "eng"}, {0x0407, "de", ""},
    {0x0807, "ch", ""},    {0x0C07, "at", ""},  {0x040C, "fr", ""},    {0x080C, "be", ""},
    {0x100C, "ch", "fr"},  {0x0C0C, "ca", ""},  {0x0410, "it", ""},    {0x040A, "es", ""},
    {0x0C0A, "es", ""},    {0x080A, "latam", ""}, {0x0816, "pt", ""},  {0x0416, "br", ""},
    {0x0413, "nl", ""},    {0x0813, "be", ""},  {0x0406, "dk", ""},    {0x0414, "no", ""},
    {0x041D, "se", ""},    {0x040B, "fi", ""},  {0x040F, "is", ""},    {0x0415, "pl", ""},
    {0x0405, "cz", ""},    {0x041B, "sk", ""},  {0x040E, "hu", ""},    {0x0424, "si", ""},
    {0x041A, "hr", ""},    {0x0418, "ro", ""},  {0x0419, "ru", ""},    {0x0422, "ua", ""},
    {0x0402, "bg", ""},    {0x0408, "gr", ""},  {0x041F, "tr", ""},    {0x040D, "il", ""},
    {0x0411, "jp", ""},    {0x0412, "kr", ""},  {0x0425, "ee", ""},    {0x0426, "lv", ""},
    {0x0427, "lt", ""},
};

const Known* find(std::uint32_t id) {
  for (const auto& k : kLayouts)
    if (k.id == id) return &k;
  return nullptr;
}

}  // namespace

std::string KeyboardLayout::xkbName(std::uint32_t layout_id) {
  const Known* k = find(layout_id);
  if (!k) return {};
  return *k->variant ? std::string(k->layout) + "(" + k->variant + ")" : k->layout;
}

std::unique_ptr<KeyboardLayout> KeyboardLayout::forWindowsLayout(std::uint32_t layout_id) {
  const Known* k = find(layout_id);
  if (!k) return nullptr;
  std::unique_ptr<KeyboardLayout> l(new KeyboardLayout());
  l->name_ = xkbName(layout_id);
  l->ctx_ = xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
  if (!l->ctx_) return nullptr;
  xkb_context_set_log_level(l->ctx_, XKB_LOG_LEVEL_CRITICAL);
  xkb_rule_names names{};
  names.rules = "evdev";
  names.model = "pc105";
  names.layout = k->layout;
  names.variant = k->variant;
  l->keymap_ = xkb_keymap_new_from_names(l->ctx_, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
  if (!l->keymap_) return nullptr;
  l->state_ = xkb_state_new(l->keymap_);
  if (!l->state_) return nullptr;
  auto mask = [&](const char* mod) {
    const xkb_mod_index_t i = xkb_keymap_mod_get_index(l->keymap_, mod);
    return i == XKB_MOD_INVALID ? 0u : (1u << i);
  };
  l->shift_mask_ = mask(XKB_MOD_NAME_SHIFT);
  l->caps_mask_ = mask(XKB_MOD_NAME_CAPS);
  l->altgr_mask_ = mask("Mod5");  // ISO_Level3_Shift (AltGr) in the standard XKB rules
  return l;
}

KeyboardLayout::~KeyboardLayout() {
  if (state_) xkb_state_unref(state_);
  if (keymap_) xkb_keymap_unref(keymap_);
  if (ctx_) xkb_context_unref(ctx_);
}

std::string KeyboardLayout::text(std::uint16_t scancode, bool shift, bool altgr, bool caps) const {
  if (scancode == 0 || scancode > 0x7F) return {};
  const std::uint32_t depressed = (shift ? shift_mask_ : 0) | (altgr ? altgr_mask_ : 0);
  xkb_state_update_mask(state_, depressed, 0, caps ? caps_mask_ : 0, 0, 0, 0);
  char buf[16] = {0};
  const int n = xkb_state_key_get_utf8(state_, scancode + 8, buf, sizeof buf);
  if (n <= 0 || n >= static_cast<int>(sizeof buf)) return {};
  if (static_cast<unsigned char>(buf[0]) < 0x20 || buf[0] == 0x7F) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace vigil::rdp
