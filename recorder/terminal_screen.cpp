#include "recorder/terminal_screen.hpp"

#include <vterm.h>

#include "protocols/utf8.hpp"

#include <algorithm>
#include <stdexcept>

namespace vigil::recorder {
namespace {

void colorSgr(std::string& out, const VTermColor& c, bool fg) {
  if (fg ? VTERM_COLOR_IS_DEFAULT_FG(&c) : VTERM_COLOR_IS_DEFAULT_BG(&c)) return;
  if (VTERM_COLOR_IS_INDEXED(&c)) {
    const int i = c.indexed.idx;
    if (i < 8) out += ";" + std::to_string((fg ? 30 : 40) + i);
    else if (i < 16) out += ";" + std::to_string((fg ? 90 : 100) + i - 8);
    else out += std::string(fg ? ";38;5;" : ";48;5;") + std::to_string(i);
  } else {
    out += std::string(fg ? ";38;2;" : ";48;2;") + std::to_string(c.rgb.red) + ";" + std::to_string(c.rgb.green) +
           ";" + std::to_string(c.rgb.blue);
  }
}

/// The full SGR sequence for a cell's pen, starting from a reset (so no state carries over).
std::string sgrOf(const VTermScreenCell& cell) {
  std::string s = "\x1b[0";
  if (cell.attrs.bold) s += ";1";
  if (cell.attrs.italic) s += ";3";
  if (cell.attrs.underline == VTERM_UNDERLINE_DOUBLE) s += ";21";
  else if (cell.attrs.underline) s += ";4";
  if (cell.attrs.blink) s += ";5";
  if (cell.attrs.reverse) s += ";7";
  if (cell.attrs.strike) s += ";9";
  colorSgr(s, cell.fg, true);
  colorSgr(s, cell.bg, false);
  return s + "m";
}

bool blankDefault(const VTermScreenCell& c) {
  return (c.chars[0] == 0 || c.chars[0] == ' ') && !c.attrs.reverse && !c.attrs.underline && !c.attrs.strike &&
         VTERM_COLOR_IS_DEFAULT_BG(&c.bg);
}

int onTermProp(VTermProp prop, VTermValue* val, void* user) {
  if (prop == VTERM_PROP_CURSORVISIBLE) *static_cast<bool*>(user) = val->boolean != 0;
  return 1;
}

}  // namespace

TerminalScreen::TerminalScreen(int cols, int rows)
    : cols_(std::clamp(cols, 2, 1000)), rows_(std::clamp(rows, 1, 500)) {
  vt_ = vterm_new(rows_, cols_);
  if (!vt_) throw std::runtime_error("vterm_new failed");
  vterm_set_utf8(vt_, 1);
  vterm_output_set_callback(vt_, [](const char*, size_t, void*) {}, nullptr);
  screen_ = vterm_obtain_screen(vt_);
  static const VTermScreenCallbacks callbacks = [] {
    VTermScreenCallbacks cb{};
    cb.settermprop = onTermProp;
    return cb;
  }();
  vterm_screen_set_callbacks(screen_, &callbacks, &cursor_visible_);
  vterm_screen_enable_altscreen(screen_, 1);
  vterm_screen_reset(screen_, 1);
}

TerminalScreen::~TerminalScreen() { vterm_free(vt_); }

void TerminalScreen::feed(std::string_view bytes) {
  if (!bytes.empty()) vterm_input_write(vt_, bytes.data(), bytes.size());
}

void TerminalScreen::resize(int cols, int rows) {
  cols_ = std::clamp(cols, 2, 1000);
  rows_ = std::clamp(rows, 1, 500);
  vterm_set_size(vt_, rows_, cols_);
}

std::pair<int, int> TerminalScreen::cursor() const {
  VTermPos pos;
  vterm_state_get_cursorpos(vterm_obtain_state(vt_), &pos);
  return {pos.row, pos.col};
}

std::string TerminalScreen::toAnsi() const { return screenToAnsi(vt_, cursor_visible_ ? 1 : 0); }

std::string screenToAnsi(VTerm* vt, int cursor_visible) {
  int rows = 0, cols = 0;
  vterm_get_size(vt, &rows, &cols);
  VTermScreen* screen = vterm_obtain_screen(vt);
  std::string out = "\x1b[0m\x1b[H\x1b[2J";
  VTermScreenCell cell;
  for (int r = 0; r < rows; ++r) {
    // Trailing cells that a clear screen already shows are left out.
    int end = cols;
    while (end > 0 && vterm_screen_get_cell(screen, {r, end - 1}, &cell) && blankDefault(cell)) --end;
    if (end == 0) continue;
    out += "\x1b[" + std::to_string(r + 1) + ";1H";
    std::string pen = "\x1b[0m";
    for (int c = 0; c < end; ++c) {
      if (!vterm_screen_get_cell(screen, {r, c}, &cell)) break;
      const std::string sgr = sgrOf(cell);
      if (sgr != pen) out += sgr, pen = sgr;
      if (cell.chars[0] == 0 || cell.chars[0] == 0xFFFFFFFFu) {
        out += ' ';
      } else {
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; ++i) proto::appendUtf8(out, cell.chars[i]);
      }
      if (cell.width == 2) ++c;  // the next column is the right half of this character
    }
    if (pen != "\x1b[0m") out += "\x1b[0m";
  }
  VTermPos pos;
  vterm_state_get_cursorpos(vterm_obtain_state(vt), &pos);
  out += "\x1b[" + std::to_string(pos.row + 1) + ";" + std::to_string(pos.col + 1) + "H";
  if (cursor_visible >= 0) out += cursor_visible ? "\x1b[?25h" : "\x1b[?25l";
  return out;
}

std::string TerminalScreen::text() const {
  std::string out;
  VTermScreenCell cell;
  for (int r = 0; r < rows_; ++r) {
    std::string line;
    for (int c = 0; c < cols_; ++c) {
      if (!vterm_screen_get_cell(screen_, {r, c}, &cell)) break;
      if (cell.chars[0] == 0 || cell.chars[0] == 0xFFFFFFFFu) line += ' ';
      else
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; ++i) proto::appendUtf8(line, cell.chars[i]);
      if (cell.width == 2) ++c;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace vigil::recorder
