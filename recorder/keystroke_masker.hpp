// Keystrokes of an interactive terminal as the recording shows them.
//
// The keys of a line are held until Enter and written with printable characters masked ('*')
// unless the line visibly echoed, so a password typed at a prompt with echo off never reaches
// the recording. A line that arrives in one write (pasted, or a client sending whole lines) is
// submitted before its echo can have come back, so its decision waits: it is written unmasked
// once the screen shows exactly the typed characters after its prompt (the recorded output then
// holds them anyway), and masked when the shell's newline comes first, when kEchoWait seconds
// passed (judged at the next call: no timers), when too much output came, or at finish().
// Keys typed after a waiting line wait behind it, so the recording keeps the keys' order; an
// event is stamped when it is written.
//
// SENSITIVE: sees every keystroke. Never logs; held keys are wiped.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "recorder/terminal_transcript.hpp"

namespace vigil::recorder {

/// Not thread-safe: call from the session's thread only.
class KeystrokeMasker {
 public:
  /// Receives the keys to record, in order, already masked where needed.
  using Sink = std::function<void(std::string_view keys)>;
  /// Seconds (of the caller's clock) a submitted line may wait for its echo.
  static constexpr double kEchoWait = 1.0;

  KeystrokeMasker(TerminalTranscript& transcript, Sink sink);
  ~KeystrokeMasker();
  KeystrokeMasker(const KeystrokeMasker&) = delete;
  KeystrokeMasker& operator=(const KeystrokeMasker&) = delete;

  /// User -> server bytes at time `t` (seconds); fed to the transcript too.
  void input(std::string_view bytes, double t);
  /// Server -> user bytes at time `t`; fed to the transcript too.
  void output(std::string_view bytes, double t);
  /// Any other event at time `t` (a resize): lines that waited too long are written masked.
  void tick(double t);
  /// Session end: everything held is written, lines not shown on the screen masked. Call it
  /// before TerminalTranscript::flush().
  void finish();

 private:
  struct Held {
    std::string keys;
    std::string typed;       // printable bytes of keys (only while waiting)
    std::uint64_t line = 0;  // the transcript's id of the submitted line
    double t = 0;            // when Enter was pressed
    std::size_t output = 0;  // output bytes seen since
    bool waiting = false;    // no decision yet: keys are not masked
  };

  bool lineEchoed() const;
  void flushLine(bool masked);
  void writeKeys(std::string_view keys);
  void submit(double t);
  void decide(Held& h, bool masked);
  void judge(bool final);
  void expire(double t);
  void drain();
  bool waiting() const;

  TerminalTranscript& transcript_;
  Sink sink_;
  std::deque<Held> held_;          // written from the front once decided
  std::string line_;               // keys of the current line
  std::string typed_;              // printable bytes of line_, in order
  std::size_t echo_matched_ = 0;   // how many of typed_ came back in the output, in order
  std::string esc_;                // an escape sequence being typed
  enum class Key { Plain, Esc, Seq } key_ = Key::Plain;
};

}  // namespace vigil::recorder
