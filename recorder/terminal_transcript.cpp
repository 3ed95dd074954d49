#include "recorder/terminal_transcript.hpp"

#include <vterm.h>

#include "protocols/utf8.hpp"
#include "recorder/terminal_screen.hpp"

#include <algorithm>
#include <stdexcept>

namespace vigil::recorder {

namespace {

constexpr int kMaxCols = 1000;
constexpr int kMaxRows = 500;
constexpr std::size_t kMaxSubmitted = 64;  // bounds memory if the remote never echoes newlines
constexpr std::u32string_view kMask = U"********";

std::string toUtf8(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) proto::appendUtf8(out, static_cast<std::uint32_t>(c));
  return out;
}

std::u32string_view trim(std::u32string_view s) {
  while (!s.empty() && s.back() == U' ') s.remove_suffix(1);
  while (!s.empty() && s.front() == U' ') s.remove_prefix(1);
  return s;
}

// libvterm 0.1.4 writes through a null pointer on some input at a width of one column.
constexpr int kMinCols = 2;

int clampSize(int v, int min, int max) { return std::clamp(v, min, max); }

std::string rowText(const VTermScreenCell* cells, int cols);  // a row pushed off the screen, as UTF-8

}  // namespace

TerminalTranscript::TerminalTranscript(int cols, int rows)
    : rows_(clampSize(rows, 1, kMaxRows)), cols_(clampSize(cols, kMinCols, kMaxCols)) {
  vt_ = vterm_new(rows_, cols_);
  if (!vt_) throw std::runtime_error("vterm_new failed");
  vterm_set_utf8(vt_, 1);
  // Answers to terminal queries (DA, DSR) belong to the user's real terminal, not to us.
  vterm_output_set_callback(
      vt_, [](const char*, size_t, void*) {}, nullptr);
  screen_ = vterm_obtain_screen(vt_);
  static const VTermScreenCallbacks callbacks = [] {
    VTermScreenCallbacks cb{};
    cb.sb_pushline = [](int cols, const VTermScreenCell* cells, void* user) {
      auto* self = static_cast<TerminalTranscript*>(user);
      if (self->lineSink_) self->lineSink_(rowText(cells, cols));
      self->scrolled();
      return 1;
    };
    return cb;
  }();
  vterm_screen_set_callbacks(screen_, &callbacks, this);
  // Full-screen programs draw on the alternate screen and leave the shell's lines intact.
  vterm_screen_enable_altscreen(screen_, 1);
  vterm_screen_reset(screen_, 1);
}

TerminalTranscript::~TerminalTranscript() { vterm_free(vt_); }

void TerminalTranscript::scrolled() {
  // The top row left the screen: every remembered row moves up one; a prompt row pushed off the
  // top is clamped so the command is still read, only without its first rows.
  auto up = [](Line& l) {
    if (l.promptRow > 0) --l.promptRow;
  };
  if (active_) up(*active_);
  for (Line& l : submitted_) up(l);
}

void TerminalTranscript::output(std::string_view bytes) {
  // The shell echoes a newline when it accepts a line; the screen just before that newline holds
  // the final command, after any redraw that history, completion or editing caused.
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      writeToEmulator(bytes);
      return;
    }
    writeToEmulator(bytes.substr(0, nl));
    if (!submitted_.empty()) {
      VTermPos cursor;
      vterm_state_get_cursorpos(vterm_obtain_state(vt_), &cursor);
      const Line& front = submitted_.front();
      // A line typed ahead has no known row: accept only a row that shows the prompt again, so
      // the output of the previous command is not taken for it.
      const bool promptShown =
          front.promptRow >= 0 || front.prompt.empty() || cellsText(cursor.row, cols_).starts_with(front.prompt);
      if (promptShown) {
        finish(front);
        submitted_.pop_front();
      }
    }
    writeToEmulator(bytes.substr(nl, 1));
    bytes.remove_prefix(nl + 1);
  }
}

void TerminalTranscript::writeToEmulator(std::string_view bytes) {
  if (!bytes.empty()) vterm_input_write(vt_, bytes.data(), bytes.size());
}

void TerminalTranscript::startLine() {
  active_ = std::make_unique<Line>();
  if (!submitted_.empty()) {
    // The shell has not echoed the previous line yet, so the cursor is not at this line's prompt.
    active_->prompt = lastPrompt_;
    return;
  }
  VTermPos cursor;
  vterm_state_get_cursorpos(vterm_obtain_state(vt_), &cursor);
  const std::u32string prompt = cellsText(cursor.row, cursor.col);
  active_->promptRow = cursor.row;
  active_->prompt = prompt;
  lastPrompt_ = prompt;
}

void TerminalTranscript::input(std::string_view bytes, double t) {
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    // Escape sequences (arrows, function keys) are keystrokes but type nothing.
    if (key_ == Key::Esc) {
      key_ = (b == '[' || b == 'O') ? Key::Seq : Key::Plain;
      continue;
    }
    if (key_ == Key::Seq) {
      if (b >= 0x40 && b <= 0x7E) key_ = Key::Plain;
      continue;
    }
    if (b == '\r' || b == '\n') {
      // Enter on a line where nothing was pressed (or the LF of a CR LF) submits nothing.
      lastSubmitted_ = 0;
      if (active_) {
        active_->t = t;
        active_->id = lastSubmitted_ = ++nextId_;
        if (submitted_.size() == kMaxSubmitted) {
          finish(submitted_.front());
          submitted_.pop_front();
        }
        submitted_.push_back(*active_);
        active_.reset();
      }
      continue;
    }
    if (b == 0x03) {  // Ctrl-C: the shell discards the line
      active_.reset();
      continue;
    }
    if (!active_) startLine();
    if (b == 0x1B) {
      key_ = Key::Esc;
    } else if (b == 0x7F || b == 0x08) {
      active_->netTyped = std::max(0, active_->netTyped - 1);
    } else if (b == 0x15) {  // Ctrl-U erases the whole line
      active_->netTyped = 0;
    } else if (b >= 0x20 && (b & 0xC0) != 0x80) {  // count a UTF-8 character once
      ++active_->netTyped;
    }
  }
}

std::u32string TerminalTranscript::lineText(const Line& line) const {
  VTermPos cursor;
  vterm_state_get_cursorpos(vterm_obtain_state(vt_), &cursor);
  // Rows from the prompt to the cursor are the wrapped parts of one logical line.
  const int first = (line.promptRow >= 0 && line.promptRow <= cursor.row) ? line.promptRow : cursor.row;
  std::u32string text;
  for (int r = first; r <= cursor.row; ++r) {
    text += cellsText(r, cols_);
    // A wide character that did not fit in the last column wrapped early, leaving a blank cell.
    VTermScreenCell last, next;
    if (r < cursor.row && vterm_screen_get_cell(screen_, {r, cols_ - 1}, &last) && last.chars[0] == 0 &&
        vterm_screen_get_cell(screen_, {r + 1, 0}, &next) && next.width == 2 && !text.empty())
      text.pop_back();
  }
  std::u32string_view view = text;
  // The prompt may have been drawn again below once typing started (bash after an interrupt
  // prints a second prompt): strip each copy, so the line is what follows the last one.
  for (bool first_copy = true;; first_copy = false) {
    if (!first_copy) view = trim(view);
    if (line.prompt.empty() || !view.starts_with(line.prompt)) break;
    view.remove_prefix(line.prompt.size());
  }
  return std::u32string(trim(view));
}

void TerminalTranscript::finish(const Line& line) {
  const std::u32string view = lineText(line);
  if (view.empty()) {
    // Keys were typed but nothing appeared on the screen: a prompt with echo off.
    if (line.netTyped > 0) commands_.push_back({toUtf8(kMask), line.t, true});
    return;
  }
  commands_.push_back({toUtf8(view), line.t, false});
}

std::string TerminalTranscript::activeText() const { return active_ ? toUtf8(lineText(*active_)) : std::string(); }

bool TerminalTranscript::lineEchoed() const { return active_ && !lineText(*active_).empty(); }

std::optional<std::string> TerminalTranscript::submittedText(std::uint64_t id) const {
  for (const Line& l : submitted_)
    if (l.id == id) return toUtf8(lineText(l));
  return std::nullopt;
}

void TerminalTranscript::resize(int cols, int rows) {
  cols_ = clampSize(cols, kMinCols, kMaxCols);
  rows_ = clampSize(rows, 1, kMaxRows);
  vterm_set_size(vt_, rows_, cols_);
  // Rows may have moved; a row beyond the new screen is read from the cursor instead.
  auto clampRow = [this](Line& l) {
    if (l.promptRow >= rows_) l.promptRow = -1;
  };
  if (active_) clampRow(*active_);
  for (Line& l : submitted_) clampRow(l);
}

void TerminalTranscript::flush() {
  for (const Line& l : submitted_) finish(l);
  submitted_.clear();
}

std::vector<Command> TerminalTranscript::takeCommands() {
  std::vector<Command> out;
  out.swap(commands_);
  return out;
}

std::u32string TerminalTranscript::cellsText(int row, int endCol) const {
  std::u32string text;
  if (row < 0 || row >= rows_) return text;
  for (VTermPos pos{row, 0}; pos.col < std::min(endCol, cols_);) {
    VTermScreenCell cell;
    if (!vterm_screen_get_cell(screen_, pos, &cell)) break;
    if (cell.chars[0] == 0) text += U' ';
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i] && cell.chars[i] != 0xFFFFFFFFu; ++i)
      text += static_cast<char32_t>(cell.chars[i]);
    pos.col += std::max(1, static_cast<int>(cell.width));  // skip a wide char's second cell
  }
  return text;
}

namespace {
std::string rowText(const VTermScreenCell* cells, int cols) {
  std::u32string text;
  for (int c = 0; c < cols; ++c) {
    const VTermScreenCell& cell = cells[c];
    if (cell.chars[0] == 0) text += U' ';
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i] && cell.chars[i] != 0xFFFFFFFFu; ++i)
      text += static_cast<char32_t>(cell.chars[i]);
    if (cell.width == 2) ++c;
  }
  while (!text.empty() && text.back() == U' ') text.pop_back();
  return toUtf8(text);
}
}  // namespace

std::vector<std::string> TerminalTranscript::completedRows(bool all) const {
  VTermPos cursor;
  vterm_state_get_cursorpos(vterm_obtain_state(vt_), &cursor);
  std::vector<std::string> out;
  for (int r = 0; r < (all ? rows_ : std::min(cursor.row, rows_)); ++r) {
    std::u32string row = cellsText(r, cols_);
    while (!row.empty() && row.back() == U' ') row.pop_back();
    out.push_back(toUtf8(row));
  }
  return out;
}

std::string TerminalTranscript::screenText() const {
  std::string out;
  for (int r = 0; r < rows_; ++r) {
    std::u32string row = cellsText(r, cols_);
    while (!row.empty() && row.back() == U' ') row.pop_back();
    out += toUtf8(row);
    out += '\n';
  }
  return out;
}

}  // namespace vigil::recorder

namespace vigil::recorder {
std::string TerminalTranscript::snapshotAnsi() const { return screenToAnsi(vt_, -1); }
}  // namespace vigil::recorder
