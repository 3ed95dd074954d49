// The line being typed at a shell prompt, as the keys spell it.
//
// A small model of readline's common editing keys: printable characters (pasted ones too, with
// bracketed-paste markers ignored) inserted at the cursor, the cursor moved by arrows, Home/End,
// Ctrl-A/E/B/F, characters erased by Backspace, Delete, Ctrl-D, Ctrl-K, Ctrl-U and Ctrl-W.
// It answers "what would Enter submit" from the keys alone, so a block rule does not depend on
// the echo having reached the terminal emulator yet. Any key the model cannot follow (Tab
// completion, history, search, yank, word moves, transposes) makes the line unknown until it
// ends (Enter, Ctrl-C): then only the screen can tell.
//
// SENSITIVE: sees every keystroke, passwords included. Never logs; wiped when the line ends and
// when destroyed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil::recorder {

class TypedLine {
 public:
  /// Longest line followed; a longer one becomes unknown.
  static constexpr std::size_t kMaxLength = 4096;

  TypedLine() = default;
  TypedLine(const TypedLine& other) = default;
  TypedLine& operator=(const TypedLine& other);
  ~TypedLine();

  /// Keys from the person, in order, any split (an escape sequence may span calls). Enter,
  /// Ctrl-C and LF start a new, empty, known line.
  void feed(std::string_view keys);
  /// True while every key since the line began was one the model follows.
  bool known() const { return known_; }
  /// The line as the keys spell it (meaningful only when known()).
  const std::string& text() const { return text_; }

 private:
  void clear();
  void key(unsigned char b);
  void sequence(std::string_view params, char final_byte);
  void insert(char ch);
  void eraseBefore(std::size_t from);
  std::size_t prevChar(std::size_t at) const;
  std::size_t nextChar(std::size_t at) const;

  std::string text_;
  std::size_t cursor_ = 0;  // byte offset into text_, always at a character boundary
  bool known_ = true;
  enum class Esc { None, Start, Csi, Ss3 } esc_ = Esc::None;
  std::string params_;  // of the CSI sequence being read
};

}  // namespace vigil::recorder
