#include "server/services/shown_text.hpp"

#include <nlohmann/json.hpp>

#include "server/services/session_log.hpp"

namespace vigil::services {

ShownText::ShownText(std::string session_id, std::shared_ptr<SessionEventWriter> events,
                     recorder::TerminalTranscript& screen)
    : id_(std::move(session_id)), events_(std::move(events)), screen_(screen) {
  // Rows scrolled off during an output() call are stamped with that call's time (tick follows).
  screen_.setLineSink([this](std::string line) { lines_.line(std::move(line), now_); });
}

ShownText::~ShownText() { screen_.setLineSink(nullptr); }

void ShownText::tick(double seconds) {
  now_ = seconds;
  if (seconds - last_scan_ >= recorder::ShownLines::kBatchSeconds) {
    last_scan_ = seconds;
    for (auto& row : screen_.completedRows()) lines_.line(std::move(row), seconds);
  }
  push(false, seconds);
}

void ShownText::finish(double seconds) {
  now_ = seconds;
  for (auto& row : screen_.completedRows(true)) lines_.line(std::move(row), seconds);
  push(true, seconds);
}

void ShownText::push(bool final, double seconds) {
  for (auto& b : lines_.take(seconds, final)) {
    store::SessionEvent e;
    e.session_id = id_;
    e.offset_ms = static_cast<std::int64_t>(b.t * 1000.0);
    e.kind = "output";
    e.text = std::move(b.text);
    e.details_json = nlohmann::json{{"lines", b.lines}, {"dropped", b.dropped}}.dump();
    if (!events_->push(std::move(e)))
      sessionLog()->warn("session={} the event queue is full; output lines were not indexed", id_);
  }
}

}  // namespace vigil::services
