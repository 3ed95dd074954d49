// screenToAnsi: the bytes a late watcher gets must repaint the same screen on a blank
// terminal — same characters, same attributes and colours, same cursor.
#include <catch2/catch.hpp>
#include <vterm.h>

#include <memory>
#include <string>

#include "recorder/terminal_screen.hpp"
#include "recorder/terminal_transcript.hpp"

using vigil::recorder::screenToAnsi;

namespace {

struct Term {
  VTerm* vt;
  VTermScreen* screen;
  Term(int rows, int cols) : vt(vterm_new(rows, cols)) {
    vterm_set_utf8(vt, 1);
    screen = vterm_obtain_screen(vt);
    vterm_screen_enable_altscreen(screen, 1);
    vterm_screen_reset(screen, 1);
  }
  ~Term() { vterm_free(vt); }
  void feed(const std::string& s) { vterm_input_write(vt, s.data(), s.size()); }
  VTermScreenCell cell(int r, int c) {
    VTermScreenCell x;
    vterm_screen_get_cell(screen, {r, c}, &x);
    return x;
  }
  VTermPos cursor() {
    VTermPos p;
    vterm_state_get_cursorpos(vterm_obtain_state(vt), &p);
    return p;
  }
};

bool sameColour(const VTermColor& a, const VTermColor& b) {
  if (a.type != b.type) return false;
  if (VTERM_COLOR_IS_INDEXED(&a)) return a.indexed.idx == b.indexed.idx;
  return a.rgb.red == b.rgb.red && a.rgb.green == b.rgb.green && a.rgb.blue == b.rgb.blue;
}

/// Every cell of `b` equals `a` (characters, bold/underline/italic/reverse, colours), and the cursor.
void requireSameScreen(Term& a, Term& b, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      auto x = a.cell(r, c), y = b.cell(r, c);
      INFO("row " << r << " col " << c);
      REQUIRE(x.chars[0] == y.chars[0]);
      REQUIRE(x.attrs.bold == y.attrs.bold);
      REQUIRE(x.attrs.underline == y.attrs.underline);
      REQUIRE(x.attrs.italic == y.attrs.italic);
      REQUIRE(x.attrs.reverse == y.attrs.reverse);
      REQUIRE(sameColour(x.fg, y.fg));
      REQUIRE(sameColour(x.bg, y.bg));
    }
  REQUIRE(a.cursor().row == b.cursor().row);
  REQUIRE(a.cursor().col == b.cursor().col);
}

}  // namespace

TEST_CASE("a snapshot repaints text, colours, attributes and the cursor on a blank terminal", "[recorder][snapshot]") {
  Term src(6, 30);
  src.feed("plain line\r\n\x1b[1;31mbold red\x1b[0m and \x1b[4;44munderlined on blue\x1b[0m\r\n");
  src.feed("\x1b[38;5;202m256-colour\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[0m \x1b[7mrev\x1b[0m\r\n");
  src.feed("caf\xc3\xa9 \xe2\x82\xac \xe4\xb8\xad\r\n$ ls -l");
  Term dst(6, 30);
  dst.feed(screenToAnsi(src.vt, -1));
  requireSameScreen(src, dst, 6, 30);
}

TEST_CASE("a snapshot over a terminal with old content shows only the current screen", "[recorder][snapshot]") {
  Term src(4, 20);
  src.feed("one\r\ntwo\r\nthree\r\nfour\r\nfive\x1b[2;3H");
  Term dst(4, 20);
  dst.feed("garbage garbage garbage\r\n\x1b[42mgreen background everywhere\r\nxx");
  dst.feed(screenToAnsi(src.vt, -1));
  requireSameScreen(src, dst, 4, 20);
}

TEST_CASE("a full last column does not scroll the painted screen", "[recorder][snapshot]") {
  Term src(3, 10);
  src.feed("0123456789\r\nabcdefghij\r\nKLMNOPQRST");
  Term dst(3, 10);
  dst.feed(screenToAnsi(src.vt, -1));
  requireSameScreen(src, dst, 3, 10);
}

TEST_CASE("a full-screen program on the alternate screen is what the snapshot shows", "[recorder][snapshot]") {
  Term src(5, 20);
  src.feed("$ top\r\n\x1b[?1049h\x1b[H\x1b[2Jtop - 10:00\r\n\x1b[1mPID USER\x1b[0m");
  Term dst(5, 20);
  dst.feed(screenToAnsi(src.vt, -1));
  requireSameScreen(src, dst, 5, 20);
}

TEST_CASE("the transcript's snapshot is its screen", "[recorder][snapshot]") {
  vigil::recorder::TerminalTranscript t(40, 5);
  t.output("user@host:~$ echo hi\r\nhi\r\nuser@host:~$ ");
  Term dst(5, 40);
  dst.feed(t.snapshotAnsi());
  REQUIRE(dst.cell(1, 0).chars[0] == 'h');
  REQUIRE(dst.cell(2, 0).chars[0] == 'u');
  REQUIRE(dst.cursor().row == 2);
  REQUIRE(dst.cursor().col == 13);
}
