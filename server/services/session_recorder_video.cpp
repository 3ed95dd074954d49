// SessionRecorder for graphical sessions (RDP): the screen video (recorder::VideoWriter, on its
// own thread) and the keystroke / window-title timeline rows that search and risk rules see.
#include <nlohmann/json.hpp>

#include "server/services/session_log.hpp"
#include "server/services/session_recorder.hpp"

namespace vigil::services {

void SessionRecorder::frame(const std::uint8_t* bgrx, int width, int height, int stride) {
  if (ended_) return;
  if (live_->wantsImages()) {
    if (!live_image_) live_image_ = std::make_unique<LiveImageFeed>(live_);
    live_image_->offer(bgrx, width, height, stride);
  }
  if (!p_.record || p_.recording_file.empty()) return;
  if (!video_) {
    if (recording_opened_) return;  // opening failed before: the session is already unhealthy
    recording_opened_ = true;
    const std::filesystem::path file(p_.recording_file);
    if (!makePrivateDirs(file.parent_path())) {
      sessionLog()->error("session={} cannot create the recording directory {}", p_.id, file.parent_path().string());
      healthy_->store(false);
      return;
    }
    recorder::VideoOptions o;
    o.fragment_interval = p_.flush_interval;
    o.codec = p_.video_codec;
    o.max_fps = p_.video_max_fps;
    o.crf = recorder::crfForQuality(p_.video_quality, p_.video_codec);
    o.on_error = [healthy = healthy_, id = p_.id](const std::string& e) {
      healthy->store(false);
      sessionLog()->error("session={} video recording error: {}", id, e);
    };
    // Tamper evidence as for terminal recordings: every run of bytes hash-chained (encrypted
    // first when the safe says so), sealed at the end.
    if (auto sealing = RecordingSealing::current()) {
      std::string why;
      seal_ = sealing->attachVideo(p_.id, p_.recording_file, p_.encrypt, o, why);
      if (!seal_) {
        sessionLog()->error("session={} cannot seal the video: {}", p_.id, why);
        healthy_->store(false);
        return;
      }
      sealing_ = std::move(sealing);
    } else if (p_.encrypt) {
      sessionLog()->error("session={} the safe encrypts recordings but sealing is not set up", p_.id);
      healthy_->store(false);
      return;
    }
    video_ = std::make_unique<recorder::VideoWriter>(p_.recording_file, std::move(o));
  }
  if (!video_->frame(bgrx, width, height, stride, offsetMs()) && video_->failed()) healthy_->store(false);
}

void SessionRecorder::keystrokes(std::string_view text) {
  if (ended_ || text.empty()) return;
  const std::int64_t at = offsetMs();
  if (risk_) risk_->evaluate(risk::MatchType::Keystrokes, text, at, false);
  event("keystrokes", std::string(text), "{}");
}

void SessionRecorder::windowTitle(std::string_view title) {
  if (ended_) return;
  const std::int64_t at = offsetMs();
  if (risk_) risk_->evaluate(risk::MatchType::WindowTitle, title, at, false);
  event("window_title", std::string(title), "{}");
}

void SessionRecorder::clipboard(const proto::ClipboardTransfer& t) {
  if (ended_) return;
  const std::int64_t at = offsetMs();
  // Text pasted on the target is input like typed keys: the keystroke rules see it.
  if (risk_ && t.to_target && t.logged) risk_->evaluate(risk::MatchType::Keystrokes, t.text, at, false);
  nlohmann::json d{{"direction", t.to_target ? "to_target" : "to_client"},
                   {"chars", t.chars},
                   {"logged", t.logged},
                   {"truncated", t.truncated}};
  event("clipboard", t.logged ? t.text : std::string(), d.dump());
}

}  // namespace vigil::services
