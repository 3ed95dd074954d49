#include "recorder/keystroke_masker.hpp"

#include "recorder/wipe.hpp"

namespace vigil::recorder {
namespace {

constexpr std::size_t kMaxLine = 4096;          // a longer line without Enter is written in parts
constexpr std::size_t kMaxHeld = 64;            // waiting entries; beyond, the oldest is masked
constexpr std::size_t kMaxEchoOutput = 64 * 1024;  // output after Enter without the echo: masked

bool printable(unsigned char b) { return b >= 0x20 && b != 0x7f; }

/// A masked line is always "********" (its length would hint at the secret's), followed by the
/// line's Enter / Ctrl-C / Ctrl-D so the recording still shows how it ended.
std::string maskLine(std::string_view line) {
  std::string out = "********";
  for (char c : line)
    if (c == '\r' || c == '\n' || c == '\x03' || c == '\x04') out += c;
  return out;
}

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

KeystrokeMasker::KeystrokeMasker(TerminalTranscript& transcript, Sink sink)
    : transcript_(transcript), sink_(std::move(sink)) {}

KeystrokeMasker::~KeystrokeMasker() {
  for (Held& h : held_) wipe(h.keys), wipe(h.typed);
  wipe(line_);
  wipe(typed_);
  wipe(esc_);
}

bool KeystrokeMasker::lineEchoed() const { return transcript_.lineEchoed() && echo_matched_ == typed_.size(); }

bool KeystrokeMasker::waiting() const {
  for (const Held& h : held_)
    if (h.waiting) return true;
  return false;
}

void KeystrokeMasker::drain() {
  while (!held_.empty() && !held_.front().waiting) {
    sink_(held_.front().keys);
    wipe(held_.front().keys);
    held_.pop_front();
  }
}

void KeystrokeMasker::writeKeys(std::string_view keys) {
  if (held_.empty()) {
    sink_(keys);
    return;
  }
  // Behind a waiting line: the recording keeps the order the keys were pressed in.
  Held h;
  h.keys = std::string(keys);
  held_.push_back(std::move(h));
}

void KeystrokeMasker::flushLine(bool masked) {
  if (line_.empty()) return;
  if (masked) {
    std::string m = maskLine(line_);
    writeKeys(m);
  } else {
    writeKeys(line_);
  }
  wipe(line_);
  wipe(typed_);
  echo_matched_ = 0;
}

void KeystrokeMasker::decide(Held& h, bool masked) {
  h.waiting = false;
  wipe(h.typed);
  if (!masked) return;
  std::string m = maskLine(h.keys);
  wipe(h.keys);
  h.keys = std::move(m);
}

void KeystrokeMasker::submit(double t) {
  // Enter was given to the transcript already. Without a line the transcript watches, or with
  // nothing printable to hide, there is nothing to wait for.
  const std::uint64_t id = transcript_.lastSubmitted();
  if (id == 0 || trimSpaces(typed_).empty()) {
    flushLine(true);
    return;
  }
  Held h;
  h.keys = line_;
  h.typed = typed_;
  h.line = id;
  h.t = t;
  h.waiting = true;
  held_.push_back(std::move(h));
  wipe(line_);
  wipe(typed_);
  echo_matched_ = 0;
  if (held_.size() > kMaxHeld)
    for (Held& w : held_)
      if (w.waiting) {
        decide(w, true);
        break;
      }
  drain();
}

void KeystrokeMasker::judge(bool final) {
  for (Held& h : held_) {
    if (!h.waiting) continue;
    const auto shown = transcript_.submittedText(h.line);
    // Unmasked only when the screen shows exactly what was typed: nothing the output did not
    // already hold goes into the recording. The newline came without it: masked.
    if (shown && *shown == trimSpaces(h.typed)) decide(h, false);
    else if (!shown || final || h.output > kMaxEchoOutput) decide(h, true);
  }
  drain();
}

void KeystrokeMasker::expire(double t) {
  for (Held& h : held_)
    if (h.waiting && t - h.t >= kEchoWait) decide(h, true);
  drain();
}

void KeystrokeMasker::tick(double t) { expire(t); }

void KeystrokeMasker::output(std::string_view bytes, double t) {
  // Echo check of the line being typed: its printable bytes must come back, in order.
  for (std::size_t i = 0; i < bytes.size() && echo_matched_ < typed_.size(); ++i)
    if (typed_[echo_matched_] == bytes[i]) ++echo_matched_;
  // A waiting line is judged on the screen just before each newline, as the transcript reads
  // commands, and again after it (the newline may have ended the line without its echo).
  while (!bytes.empty() && waiting()) {
    const std::size_t nl = bytes.find('\n');
    const std::size_t n = nl == std::string_view::npos ? bytes.size() : nl + 1;
    for (Held& h : held_) h.output += n;
    if (nl == std::string_view::npos) {
      transcript_.output(bytes);
      bytes = {};
    } else {
      transcript_.output(bytes.substr(0, nl));
      judge(false);
      transcript_.output(bytes.substr(nl, 1));
      bytes.remove_prefix(nl + 1);
    }
    judge(false);
  }
  if (!bytes.empty()) transcript_.output(bytes);
  expire(t);
}

void KeystrokeMasker::input(std::string_view bytes, double t) {
  expire(t);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    const std::string_view one(&c, 1);
    if (key_ == Key::Esc || key_ == Key::Seq) {
      // Escape sequences (arrows, function keys) type nothing: written as they are, at once.
      esc_ += c;
      if (key_ == Key::Esc) key_ = (b == '[' || b == 'O') ? Key::Seq : Key::Plain;
      else if (b >= 0x40 && b <= 0x7E) key_ = Key::Plain;
      if (key_ == Key::Plain || esc_.size() > 32) {
        key_ = Key::Plain;
        writeKeys(esc_);
        esc_.clear();
      }
      transcript_.input(one, t);
      continue;
    }
    if (b == '\r' || b == '\n') {
      // Decided before the transcript sees the Enter, while the line is still the active one;
      // a line not shown yet waits for its echo.
      const bool echoed = lineEchoed();
      line_ += c;
      transcript_.input(one, t);
      if (echoed) flushLine(false);
      else submit(t);
      continue;
    }
    if (b == 0x1b) {
      flushLine(!lineEchoed());
      esc_.assign(1, c);
      key_ = Key::Esc;
      transcript_.input(one, t);
      continue;
    }
    if (b < 0x20 && b != 0x08 && b != 0x15) {
      // Control keys (Ctrl-C, Ctrl-D, Tab...) act at once: the held keys and the key go now.
      flushLine(!lineEchoed());
      writeKeys(one);
      transcript_.input(one, t);
      continue;
    }
    line_ += c;
    if (printable(b)) typed_ += c;
    transcript_.input(one, t);
    if (line_.size() >= kMaxLine) flushLine(!lineEchoed());
  }
}

void KeystrokeMasker::finish() {
  flushLine(!lineEchoed());
  if (!esc_.empty()) writeKeys(esc_), esc_.clear();
  judge(true);
}

}  // namespace vigil::recorder
