#pragma once
// One proxied session as the session core records it (proto::Session): the terminal recording
// (asciicast v2, zstd), the command transcript, file operations and notes as timeline events,
// and the session row's end. Called only from the session's own thread; never blocks on disk
// or the database: recording goes through AsciicastWriter's thread, events and the end through
// the shared SessionEventWriter.
//
// SENSITIVE: input() sees every keystroke. Keys of a line are held until Enter and written to
// the recording with printable characters masked unless the line visibly echoed on the screen,
// so a password typed at a prompt with echo off never reaches the recording; a line sent in one
// write waits for its echo (recorder::KeystrokeMasker).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "protocols/session.hpp"
#include "recorder/asciicast_writer.hpp"
#include "recorder/keystroke_masker.hpp"
#include "recorder/terminal_transcript.hpp"
#include "recorder/typed_line.hpp"
#include "recorder/video_writer.hpp"
#include "server/services/live_image_feed.hpp"
#include "server/services/live_registry.hpp"
#include "server/services/recording_seal.hpp"
#include "server/services/risk_monitor.hpp"
#include "server/services/session_event_writer.hpp"
#include "server/services/shown_text.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

/// mkdir -p with mode 0700 for every directory it creates (recordings hold keystrokes).
bool makePrivateDirs(const std::filesystem::path& dir);

class SessionRecorder : public proto::Session {
 public:
  struct Params {
    std::string id;
    std::string node;
    proto::Grant grant;
    proto::ClientInfo client;
    bool record = true;
    std::string recording_file;  // absolute path of the .cast.zst ('' when not recorded)
    std::chrono::milliseconds flush_interval{1000};
    proto::Credential credential;
    std::shared_ptr<RiskService> risk;  // null: no risk rules
    bool encrypt = false;  // the safe encrypts recordings at rest (needs RecordingSealing)
    bool moderated = false;  // the safe requires a SOC watcher (see LiveInfo)
    std::optional<std::chrono::system_clock::time_point> ends_at;  // the approval's window end
    std::string ends_reason;
    int moderation_wait_seconds = 300;
    // Graphical sessions: the safe's video settings (frame-rate cap, "low" / "standard" / "high").
    std::string video_codec = "av1";
    int video_max_fps = 5;
    std::string video_quality = "standard";
  };
  SessionRecorder(store::Store& store, std::shared_ptr<SessionEventWriter> events, Params params);
  /// Without end(): ends with reason "error".
  ~SessionRecorder() override;

  const std::string& id() const override { return p_.id; }
  proto::Credential takeCredential() override;
  void setControl(proto::SessionControl* control) override {
    control_ = control;
    live_->setControl(control);
    if (risk_) risk_->setControl(control);
  }
  void channelOpened(std::string_view kind, std::string_view command, std::string_view term, int cols,
                     int rows) override;
  void output(std::string_view bytes) override;
  void input(std::string_view bytes) override;
  proto::InputDecision screenInput(std::string_view bytes) override;
  proto::InputDecision screenCommand(std::string_view command) override;
  void resize(int cols, int rows) override;
  proto::SqlDecision screenSql(std::string_view sql) override;
  void sqlStatement(const proto::SqlStatement& statement) override;
  void fileOperation(const proto::FileOperation& op) override;
  // Graphical sessions (session_recorder_video.cpp): screen video and keystroke/title rows.
  void frame(const std::uint8_t* bgrx, int width, int height, int stride) override;
  bool wantsFrame() override { return !ended_ && live_->takeImageRequest(); }
  void keystrokes(std::string_view text) override;
  void windowTitle(std::string_view title) override;
  void clipboard(const proto::ClipboardTransfer& transfer) override;
  void note(std::string_view kind, std::string_view text) override;
  bool recordingHealthy() const override;
  void end(std::string_view reason, std::string_view detail, std::uint64_t bytes_from_client,
           std::uint64_t bytes_to_client) override;

  proto::SessionControl* control() const { return control_; }

 private:
  std::int64_t offsetMs() const;
  void event(std::string kind, std::string text, std::string details_json);
  void takeCommands();
  bool openRecording(int cols, int rows, std::string_view term);
  void recordingFailed();
  double seconds() const;

  store::Store& store_;
  std::shared_ptr<SessionEventWriter> events_;
  Params p_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  proto::SessionControl* control_ = nullptr;
  std::unique_ptr<recorder::TerminalTranscript> transcript_;
  std::unique_ptr<recorder::KeystrokeMasker> keys_;  // with transcript_: keystrokes to the recording
  // The current line as the keys spell it: screenInput's second reading, for when the echo lags.
  // Wiped when the line ends: it may hold what was typed at a prompt without echo.
  recorder::TypedLine typed_;
  std::unique_ptr<ShownText> shown_;  // with transcript_: lines shown, as `output` events (search)
  std::unique_ptr<recorder::AsciicastWriter> cast_;
  std::shared_ptr<RecordingSealing> sealing_;         // with seal_: signs the manifest at the end
  std::shared_ptr<RecordingSealing::Writer> seal_;    // the recording's hash chain (and cipher)
  std::unique_ptr<recorder::VideoWriter> video_;  // graphical sessions: the screen video
  std::unique_ptr<LiveImageFeed> live_image_;     // graphical sessions: pictures for watchers
  bool recording_opened_ = false;
  std::shared_ptr<std::atomic<bool>> healthy_ = std::make_shared<std::atomic<bool>>(true);
  bool ended_ = false;
  int command_count_ = 0;
  std::shared_ptr<LiveSession> live_;  // this session in the node's LiveRegistry (watch, control)
  std::shared_ptr<SessionRisk> risk_;  // this session's risk evaluation (risk_monitor.hpp)

};

}  // namespace vigil::services
