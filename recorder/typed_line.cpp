#include "recorder/typed_line.hpp"

#include "recorder/wipe.hpp"

namespace vigil::recorder {

namespace {

bool continuation(char ch) { return (static_cast<unsigned char>(ch) & 0xC0) == 0x80; }

}  // namespace

TypedLine& TypedLine::operator=(const TypedLine& other) {
  if (this != &other) {
    wipe(text_);
    text_ = other.text_;
    cursor_ = other.cursor_;
    known_ = other.known_;
    esc_ = other.esc_;
    params_ = other.params_;
  }
  return *this;
}

TypedLine::~TypedLine() {
  wipe(text_);
  wipe(params_);
}

void TypedLine::clear() {
  wipe(text_);
  cursor_ = 0;
  known_ = true;
}

void TypedLine::feed(std::string_view keys) {
  for (char ch : keys) {
    const auto b = static_cast<unsigned char>(ch);
    switch (esc_) {
      case Esc::None:
        key(b);
        break;
      case Esc::Start:
        if (b == '[') {
          esc_ = Esc::Csi;
          params_.clear();
        } else if (b == 'O') {
          esc_ = Esc::Ss3;
        } else {
          esc_ = Esc::None;  // Alt+key: word moves and edits the model does not follow
          known_ = false;
        }
        break;
      case Esc::Ss3:
        esc_ = Esc::None;
        sequence("", static_cast<char>(b));
        break;
      case Esc::Csi:
        if (b >= 0x40 && b <= 0x7E) {
          esc_ = Esc::None;
          sequence(params_, static_cast<char>(b));
        } else if (params_.size() < 16) {
          params_ += static_cast<char>(b);
        } else {
          known_ = false;  // an absurd sequence: keep reading it, but stop trusting the line
        }
        break;
    }
  }
}

void TypedLine::key(unsigned char b) {
  switch (b) {
    case '\r':
    case '\n':
    case 0x03:  // Ctrl-C: the shell discards the line
      clear();
      return;
    case 0x1B:
      esc_ = Esc::Start;
      return;
    case 0x01:  // Ctrl-A
      cursor_ = 0;
      return;
    case 0x05:  // Ctrl-E
      cursor_ = text_.size();
      return;
    case 0x02:  // Ctrl-B
      cursor_ = prevChar(cursor_);
      return;
    case 0x06:  // Ctrl-F
      cursor_ = nextChar(cursor_);
      return;
    case 0x7F:
    case 0x08:  // Backspace
      eraseBefore(prevChar(cursor_));
      return;
    case 0x04: {  // Ctrl-D: deletes the character under the cursor (on an empty line: end of input)
      const std::size_t next = nextChar(cursor_);
      text_.erase(cursor_, next - cursor_);
      return;
    }
    case 0x0B:  // Ctrl-K: to the end of the line
      text_.erase(cursor_);
      return;
    case 0x15:  // Ctrl-U: to the start of the line
      eraseBefore(0);
      return;
    case 0x17: {  // Ctrl-W: the word before the cursor, blanks after it first
      std::size_t at = cursor_;
      while (at > 0 && text_[at - 1] == ' ') --at;
      while (at > 0 && text_[at - 1] != ' ') --at;
      eraseBefore(at);
      return;
    }
    case 0x0C:  // Ctrl-L redraws the screen; the line stays
      return;
    default:
      break;
  }
  if (b < 0x20) {
    known_ = false;  // Tab, Ctrl-R, Ctrl-P/N, Ctrl-Y, Ctrl-T, ...: only the screen knows
    return;
  }
  insert(static_cast<char>(b));
}

void TypedLine::sequence(std::string_view params, char final_byte) {
  if (params.empty()) {
    switch (final_byte) {
      case 'D':
        cursor_ = prevChar(cursor_);
        return;
      case 'C':
        cursor_ = nextChar(cursor_);
        return;
      case 'H':
        cursor_ = 0;
        return;
      case 'F':
        cursor_ = text_.size();
        return;
      default:
        known_ = false;  // up/down: history
        return;
    }
  }
  if (final_byte == '~') {
    if (params == "1" || params == "7") {
      cursor_ = 0;
    } else if (params == "4" || params == "8") {
      cursor_ = text_.size();
    } else if (params == "3") {  // Delete
      text_.erase(cursor_, nextChar(cursor_) - cursor_);
    } else if (params == "200" || params == "201") {
      // bracketed paste: the pasted text comes as plain characters between these
    } else {
      known_ = false;  // Insert (overwrite mode), F-keys, Page Up/Down
    }
    return;
  }
  known_ = false;  // modified keys (Ctrl+Left word moves, ...)
}

void TypedLine::insert(char ch) {
  if (text_.size() >= kMaxLength) {
    known_ = false;
    return;
  }
  text_.insert(cursor_, 1, ch);
  ++cursor_;
}

void TypedLine::eraseBefore(std::size_t from) {
  text_.erase(from, cursor_ - from);
  cursor_ = from;
}

std::size_t TypedLine::prevChar(std::size_t at) const {
  if (at == 0) return 0;
  --at;
  while (at > 0 && continuation(text_[at])) --at;
  return at;
}

std::size_t TypedLine::nextChar(std::size_t at) const {
  if (at >= text_.size()) return text_.size();
  ++at;
  while (at < text_.size() && continuation(text_[at])) ++at;
  return at;
}

}  // namespace vigil::recorder
