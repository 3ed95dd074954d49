#include "recorder/screen_snapshot.hpp"

#include <vterm.h>

#include <cstdint>

namespace vigil::recorder {
namespace {

void appendUtf8(std::string& out, std::uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x110000) {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// ";38;5;N" / ";38;2;R;G;B" (base 38 for the foreground, 48 for the background); "" for default.
std::string colourParams(const VTermColor& c, int base) {
  if ((base == 38 && VTERM_COLOR_IS_DEFAULT_FG(&c)) || (base == 48 && VTERM_COLOR_IS_DEFAULT_BG(&c))) return {};
  if (VTERM_COLOR_IS_INDEXED(&c)) {
    const int i = c.indexed.idx;
    if (i < 8) return ";" + std::to_string(base - 8 + i);        // 30..37 / 40..47
    if (i < 16) return ";" + std::to_string(base + 52 + i - 8);  // 90..97 / 100..107
    return ";" + std::to_string(base) + ";5;" + std::to_string(i);
  }
  return ";" + std::to_string(base) + ";2;" + std::to_string(c.rgb.red) + ";" + std::to_string(c.rgb.green) + ";" +
         std::to_string(c.rgb.blue);
}

std::string sgrOf(const VTermScreenCell& cell) {
  std::string s = "\x1b[0";
  if (cell.attrs.bold) s += ";1";
  if (cell.attrs.italic) s += ";3";
  if (cell.attrs.underline) s += ";4";
  if (cell.attrs.blink) s += ";5";
  if (cell.attrs.reverse) s += ";7";
  if (cell.attrs.strike) s += ";9";
  s += colourParams(cell.fg, 38);
  s += colourParams(cell.bg, 48);
  return s + "m";
}

}  // namespace

std::string screenSnapshotAnsi(VTerm* vt) {
  int rows = 0, cols = 0;
  vterm_get_size(vt, &rows, &cols);
  VTermScreen* screen = vterm_obtain_screen(vt);
  // Reset attributes, home, clear; no wrap while painting so a full last column cannot scroll.
  std::string out = "\x1b[0m\x1b[H\x1b[2J\x1b[?7l";
  std::string current = "\x1b[0m";
  for (int r = 0; r < rows; ++r) {
    out += "\x1b[" + std::to_string(r + 1) + ";1H";
    std::string line;
    std::size_t keep = 0;              // line length up to the last cell that is not a default blank
    std::string sgr_at_keep = current;  // the attributes in force at `keep`
    std::string line_sgr = current;
    for (VTermPos pos{r, 0}; pos.col < cols;) {
      VTermScreenCell cell;
      if (!vterm_screen_get_cell(screen, pos, &cell)) break;
      std::string sgr = sgrOf(cell);
      if (sgr != line_sgr) {
        line += sgr;
        line_sgr = sgr;
      }
      if (cell.chars[0] == 0) {
        line += ' ';
      } else {
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i] && cell.chars[i] != 0xFFFFFFFFu; ++i)
          appendUtf8(line, cell.chars[i]);
      }
      // Trailing default blanks are not written: the cleared screen already has them.
      if ((cell.chars[0] != 0 && cell.chars[0] != ' ') || sgr != "\x1b[0m") {
        keep = line.size();
        sgr_at_keep = line_sgr;
      }
      pos.col += cell.width > 0 ? cell.width : 1;
    }
    out.append(line, 0, keep);
    current = sgr_at_keep;
    // Rows are painted on a cleared screen: end each in the default attributes.
    if (current != "\x1b[0m") {
      out += "\x1b[0m";
      current = "\x1b[0m";
    }
  }
  VTermPos cursor;
  vterm_state_get_cursorpos(vterm_obtain_state(vt), &cursor);
  out += "\x1b[0m\x1b[?7h\x1b[" + std::to_string(cursor.row + 1) + ";" + std::to_string(cursor.col + 1) + "H";
  return out;
}

}  // namespace vigil::recorder
