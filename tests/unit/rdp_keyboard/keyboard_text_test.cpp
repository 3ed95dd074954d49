// Scancodes to the keystroke transcript (US layout): text as typed, special keys named.
#include <catch2/catch.hpp>

#include "protocols/rdp/keyboard_text.hpp"

using vigil::rdp::KeyboardText;

namespace {
void tap(KeyboardText& k, std::uint16_t code, std::int64_t t = 0, bool ext = false) {
  k.key(code, ext, false, t);
  k.key(code, ext, true, t);
}
}  // namespace

TEST_CASE("typed letters, shifted symbols and Enter make one transcript row", "[rdp][keyboard]") {
  KeyboardText k;
  for (std::uint16_t c : {0x12, 0x2E, 0x23, 0x18}) tap(k, c);  // e c h o
  tap(k, 0x39);                                                  // space
  k.key(0x2A, false, false, 0);                                  // Shift down
  tap(k, 0x03);                                                  // @
  k.key(0x2A, false, true, 0);                                   // Shift up
  tap(k, 0x1C);                                                  // Enter
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "echo @");
}

TEST_CASE("Ctrl+C and arrow keys are written as named keys", "[rdp][keyboard]") {
  KeyboardText k;
  tap(k, 0x1E);                  // a
  k.key(0x1D, false, false, 0);  // Ctrl down
  tap(k, 0x2E);                  // c
  k.key(0x1D, false, true, 0);
  tap(k, 0x48, 0, true);         // Up (extended)
  k.finish();
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "a[Ctrl+C][Up]");
}

TEST_CASE("Backspace removes the last character typed, Caps Lock shifts letters", "[rdp][keyboard]") {
  KeyboardText k;
  tap(k, 0x3A);  // Caps Lock on
  tap(k, 0x1E);  // A
  tap(k, 0x30);  // B
  tap(k, 0x0E);  // Backspace
  tap(k, 0x02);  // 1 (digits ignore Caps Lock)
  k.finish();
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "A1");
}

TEST_CASE("a pause ends a row; Unicode key events are text", "[rdp][keyboard]") {
  KeyboardText k;
  k.unicode(0x00E9, false, 1000);  // é
  k.unicode(0x00E9, true, 1000);
  k.poll(1500);
  CHECK(k.take().empty());
  k.poll(3100);
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "\xC3\xA9");
}

TEST_CASE("a German keyboard types through its own layout: Z/Y swapped, umlauts, AltGr, shifted digits", "[rdp][keyboard][layout]") {
  KeyboardText k(0x407);
  REQUIRE(k.layoutKnown());
  tap(k, 0x15);                  // the key where US has Y: z
  tap(k, 0x2C);                  // the key where US has Z: y
  tap(k, 0x1A);                  // ü
  k.key(0x2A, false, false, 0);  // Shift
  tap(k, 0x03);                  // "
  k.key(0x2A, false, true, 0);
  k.key(0x38, true, false, 0);   // AltGr (right Alt)
  tap(k, 0x10);                  // @
  k.key(0x38, true, true, 0);
  // A client sending AltGr as Ctrl + right Alt still types text.
  k.key(0x1D, false, false, 0);
  k.key(0x38, true, false, 0);
  tap(k, 0x1B);                  // ~
  k.key(0x38, true, true, 0);
  k.key(0x1D, false, true, 0);
  // Ctrl with the key labelled Y on this keyboard is [Ctrl+Y], named by the layout.
  k.key(0x1D, false, false, 0);
  tap(k, 0x2C);
  k.key(0x1D, false, true, 0);
  tap(k, 0x1C);
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "zy\xc3\xbc\"@~[Ctrl+Y]");
}

TEST_CASE("a French keyboard: AZERTY letters and unshifted symbols on the digit row", "[rdp][keyboard][layout]") {
  KeyboardText k(0x40C);
  REQUIRE(k.layoutKnown());
  tap(k, 0x10);                  // a
  tap(k, 0x11);                  // z
  tap(k, 0x02);                  // &
  k.key(0x2A, false, false, 0);
  tap(k, 0x02);                  // 1
  k.key(0x2A, false, true, 0);
  tap(k, 0x03);                  // é
  tap(k, 0x1A);                  // ^ is a dead key: nothing typed (accents are not composed)
  tap(k, 0x1C);
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "az&1\xc3\xa9");
}

TEST_CASE("an unknown layout is transcribed as US and says so", "[rdp][keyboard][layout]") {
  KeyboardText k(0x12345);
  CHECK_FALSE(k.layoutKnown());
  tap(k, 0x15);
  k.finish();
  auto rows = k.take();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "y");
  CHECK(vigil::rdp::KeyboardLayout::xkbName(0x407) == "de");
  CHECK(vigil::rdp::KeyboardLayout::xkbName(0x100C) == "ch(fr)");
  CHECK(vigil::rdp::KeyboardLayout::xkbName(0x12345).empty());
}
