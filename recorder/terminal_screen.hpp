#pragma once
// A terminal screen (libvterm) for playback: fed with a recording's output, it can paint itself
// back as ANSI text — reset, every cell with its colours and attributes, then the cursor — so a
// player can start at any moment from one snapshot instead of replaying from the beginning.
//
// Not thread-safe: one thread per instance.
#include <string>
#include <string_view>

struct VTerm;
struct VTermScreen;

namespace vigil::recorder {

/// ANSI text that repaints `vt`'s screen on a blank terminal of its size (the form of
/// TerminalScreen::toAnsi); `cursor_visible` < 0 leaves the cursor's visibility alone. Used for
/// playback snapshots and for live watchers joining late. Call from the thread that feeds `vt`.
std::string screenToAnsi(VTerm* vt, int cursor_visible);

class TerminalScreen {
 public:
  TerminalScreen(int cols, int rows);
  ~TerminalScreen();
  TerminalScreen(const TerminalScreen&) = delete;
  TerminalScreen& operator=(const TerminalScreen&) = delete;

  /// Terminal output bytes (any split).
  void feed(std::string_view bytes);
  /// Sizes are clamped to 2..1000 columns, 1..500 rows.
  void resize(int cols, int rows);
  int cols() const { return cols_; }
  int rows() const { return rows_; }

  /// ANSI text that, written to a terminal of this size, paints this screen: "ESC[0m ESC[H ESC[2J",
  /// each row from column 1 (SGR colours/attributes where they change, trailing default blanks
  /// left out), the attributes reset, then the cursor position and visibility.
  std::string toAnsi() const;
  /// The visible screen as UTF-8, one '\n'-terminated line per row, trailing blanks trimmed.
  std::string text() const;
  /// Cursor row and column, 0-based.
  std::pair<int, int> cursor() const;
  bool cursorVisible() const { return cursor_visible_; }

 private:
  VTerm* vt_;
  VTermScreen* screen_;
  int cols_;
  int rows_;
  bool cursor_visible_ = true;
};

}  // namespace vigil::recorder
