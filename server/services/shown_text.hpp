#pragma once
// Feeds the lines a terminal session showed (recorder::TerminalTranscript's screen) through
// recorder::ShownLines into `output` timeline events. SessionRecorder owns one per terminal.
#include <memory>
#include <string>

#include "recorder/shown_lines.hpp"
#include "recorder/terminal_transcript.hpp"
#include "server/services/session_event_writer.hpp"

namespace vigil::services {

class ShownText {
 public:
  ShownText(std::string session_id, std::shared_ptr<SessionEventWriter> events, recorder::TerminalTranscript& screen);
  ~ShownText();
  /// After output at `seconds`: rows the cursor moved past are read (at most once a second) and
  /// due batches are queued as events.
  void tick(double seconds);
  /// At the session end: the whole screen, then everything pending.
  void finish(double seconds);

 private:
  void push(bool final, double seconds);
  std::string id_;
  std::shared_ptr<SessionEventWriter> events_;
  recorder::TerminalTranscript& screen_;
  recorder::ShownLines lines_;
  double last_scan_ = -1;
  double now_ = 0;
};

}  // namespace vigil::services
