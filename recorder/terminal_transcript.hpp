// Command transcript for interactive terminal sessions.
//
// The command is read from a terminal emulator (libvterm) fed with the server's output, as the
// screen shows it when the shell echoes the Enter, so history recall, tab completion and line
// editing yield the command the shell actually received rather than the keys typed.
//
// SENSITIVE: input() sees every keystroke, passwords included. This class never logs and never
// copies input bytes into a Command: command text comes only from the screen, which a
// non-echoing prompt leaves untouched, and such lines are reported masked.
#pragma once

#include <deque>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct VTerm;
struct VTermScreen;

namespace vigil::recorder {

struct Command {
  std::string text;       // UTF-8, prompt removed, trailing blanks trimmed; "********" if masked
  double offset_seconds;  // the caller's timestamp of the Enter keystroke
  bool masked;            // typed characters were not echoed (password prompt)
};

/// Not thread-safe: all methods must be called from one thread (the session's strand).
class TerminalTranscript {
 public:
  TerminalTranscript(int cols, int rows);
  ~TerminalTranscript();
  TerminalTranscript(const TerminalTranscript&) = delete;
  TerminalTranscript& operator=(const TerminalTranscript&) = delete;

  /// Server -> user bytes (any bytes, any split); fed to the emulator. Borrowed for the call.
  void output(std::string_view bytes);
  /// User -> server bytes typed at time `t` (seconds, caller's clock); never fed to the emulator.
  void input(std::string_view bytes, double t);
  /// The user's terminal changed size; values are clamped to a sane range.
  void resize(int cols, int rows);
  /// Reports submitted lines still waiting for their echo (call at session end).
  void flush();
  /// Returns and clears the commands completed so far, oldest first.
  std::vector<Command> takeCommands();
  /// True when the line being typed (keys since the last Enter) shows on the screen after its
  /// prompt. False at a prompt with echo off (a password), when nothing was typed, and when the
  /// echo has simply not arrived yet: a recorder that masks keystrokes unless this is true errs
  /// on the side of masking. Query it before feeding the Enter to input().
  bool lineEchoed() const;
  /// Id (> 0) of the line submitted by the last Enter given to input(); 0 if it submitted none.
  std::uint64_t lastSubmitted() const { return lastSubmitted_; }
  /// While submitted line `id` waits for the shell's newline: its screen text as lineEchoed()
  /// reads it (prompt removed, trimmed, UTF-8). Empty once the newline came (or it was dropped).
  std::optional<std::string> submittedText(std::uint64_t id) const;
  /// The line being typed (keys since the last Enter) as the screen shows it, prompt removed,
  /// trimmed, UTF-8; empty when nothing was typed or nothing echoed (a password prompt).
  std::string activeText() const;
  /// The visible screen as UTF-8, one '\n'-terminated line per row, trailing blanks trimmed.
  std::string screenText() const;
  /// Rows above the cursor's (lines the terminal has moved past), or every row with `all`, as
  /// UTF-8 with trailing blanks trimmed. What the person was shown, for search (output events).
  std::vector<std::string> completedRows(bool all = false) const;
  /// Called with each row that scrolls off the top of the screen (UTF-8, trimmed), from output().
  void setLineSink(std::function<void(std::string)> sink) { lineSink_ = std::move(sink); }
  /// The screen as ANSI bytes that repaint it on a blank terminal (recorder/terminal_screen.hpp).
  std::string snapshotAnsi() const;
  int cols() const { return cols_; }
  int rows() const { return rows_; }

 private:
  // A line the user is typing or has submitted; rows are screen rows, kept in step with scrolling.
  struct Line {
    int promptRow = -1;       // -1: typed ahead of the prompt, row unknown
    std::u32string prompt;    // screen text left of the cursor at the first keystroke
    int netTyped = 0;         // printable keys minus erase keys: > 0 means something was typed
    double t = 0;
    std::uint64_t id = 0;     // set when submitted
  };

  void scrolled();
  void writeToEmulator(std::string_view bytes);
  void startLine();
  void finish(const Line& line);
  std::u32string cellsText(int row, int endCol) const;
  std::u32string lineText(const Line& line) const;  // the line's screen text, prompt removed, trimmed  // columns [0, endCol), blanks as spaces

  VTerm* vt_;
  VTermScreen* screen_;
  int rows_;
  int cols_;
  std::unique_ptr<Line> active_;  // keystrokes since the last Enter, if any
  std::deque<Line> submitted_;    // Enter sent, waiting for the shell to echo the newline
  std::u32string lastPrompt_;
  enum class Key { Plain, Esc, Seq } key_ = Key::Plain;
  std::vector<Command> commands_;
  std::uint64_t nextId_ = 0;
  std::uint64_t lastSubmitted_ = 0;
  std::function<void(std::string)> lineSink_;
};

}  // namespace vigil::recorder
