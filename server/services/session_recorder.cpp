#include "server/services/session_recorder.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "server/services/session_log.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;

/// Outcome of a session end in the audit log, by reason.
std::string outcomeOf(std::string_view reason) {
  if (reason == "client_closed" || reason == "target_closed" || reason == "terminated") return "ok";
  if (reason == "host_key_mismatch" || reason == "host_key_unpinned") return "denied";
  return "failed";
}

void wipeCredential(proto::Credential& c) {
  if (c.secret.capacity()) OPENSSL_cleanse(c.secret.data(), c.secret.capacity());
  c.secret.clear();
}


}  // namespace

bool makePrivateDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return true;
  if (!dir.has_parent_path() || dir.parent_path() == dir) return false;
  if (!makePrivateDirs(dir.parent_path())) return false;
  return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

SessionRecorder::SessionRecorder(store::Store& store, std::shared_ptr<SessionEventWriter> events, Params params)
    : store_(store), events_(std::move(events)), p_(std::move(params)) {
  LiveInfo info;
  info.id = p_.id;
  info.node = p_.node;
  info.user_id = p_.grant.user_id;
  info.username = p_.grant.username;
  info.safe_id = p_.grant.safe_id;
  info.moderated = p_.moderated;
  info.graphical = p_.client.protocol == "rdp";
  info.moderation_wait_seconds = p_.moderation_wait_seconds;
  info.ends_at = p_.ends_at;
  info.ends_reason = p_.ends_reason;
  live_ = LiveRegistry::instance().add(std::move(info));
  if (p_.risk) risk_ = p_.risk->openSession({p_.id, p_.grant.user_id, p_.grant.username});
}

SessionRecorder::~SessionRecorder() {
  try {
    if (!ended_) end("error", "the session ended without a reason (proxy error)", 0, 0);
  } catch (const std::exception& e) {
    sessionLog()->error("session={} ending in the destructor failed: {}", p_.id, e.what());
  }
  wipeCredential(p_.credential);
}

proto::Credential SessionRecorder::takeCredential() {
  proto::Credential out;
  out.username = p_.credential.username;
  out.kind = p_.credential.kind;
  out.secret = p_.credential.secret;
  wipeCredential(p_.credential);
  return out;
}

std::int64_t SessionRecorder::offsetMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
}

void SessionRecorder::event(std::string kind, std::string text, std::string details_json) {
  store::SessionEvent e;
  e.session_id = p_.id;
  e.offset_ms = offsetMs();
  e.kind = std::move(kind);
  e.text = std::move(text);
  e.details_json = std::move(details_json);
  if (!events_->push(std::move(e))) {
    sessionLog()->error("session={} the event queue is full; an event was dropped", p_.id);
    if (p_.record) healthy_->store(false);
  }
}

void SessionRecorder::takeCommands() {
  if (!transcript_) return;
  for (auto& c : transcript_->takeCommands()) {
    store::SessionEvent e;
    e.session_id = p_.id;
    e.offset_ms = static_cast<std::int64_t>(c.offset_seconds * 1000.0);
    e.kind = "command";
    e.text = std::move(c.text);
    e.details_json = c.masked ? R"({"masked":true})" : "{}";
    if (!c.masked) ++command_count_;
    if (risk_ && !c.masked) risk_->evaluate(risk::MatchType::Command, e.text, e.offset_ms, false);
    if (!events_->push(std::move(e))) {
      sessionLog()->error("session={} the event queue is full; a command was dropped", p_.id);
      if (p_.record) healthy_->store(false);
    }
  }
}

void SessionRecorder::recordingFailed() {
  if (!healthy_->exchange(false) || !p_.record) return;  // log the first failure only
  sessionLog()->error("session={} recording failed", p_.id);
}

bool SessionRecorder::openRecording(int cols, int rows, std::string_view term) {
  recording_opened_ = true;
  const std::filesystem::path file(p_.recording_file);
  if (!makePrivateDirs(file.parent_path())) {
    sessionLog()->error("session={} cannot create the recording directory {}", p_.id, file.parent_path().string());
    healthy_->store(false);
    return false;
  }
  recorder::AsciicastOptions o;
  o.width = static_cast<unsigned>(cols > 0 ? cols : 80);
  o.height = static_cast<unsigned>(rows > 0 ? rows : 24);
  if (!term.empty()) o.term = std::string(term);
  o.title = p_.grant.account_user + "@" + p_.grant.target.name;
  o.flush_interval = p_.flush_interval;
  o.on_error = [healthy = healthy_, id = p_.id](std::error_code ec) {
    healthy->store(false);
    sessionLog()->error("session={} recording write error: {}", id, ec.message());
  };
  if (auto sealing = RecordingSealing::current()) {
    std::string why;
    seal_ = sealing->attach(p_.id, p_.recording_file, p_.encrypt, o, why);
    if (!seal_) {
      sessionLog()->error("session={} cannot seal the recording: {}", p_.id, why);
      healthy_->store(false);
      return false;
    }
    sealing_ = std::move(sealing);
  } else if (p_.encrypt) {
    sessionLog()->error("session={} the safe encrypts recordings but sealing is not set up", p_.id);
    healthy_->store(false);
    return false;
  }
  std::error_code ec;
  cast_ = recorder::AsciicastWriter::create(p_.recording_file, std::move(o), ec);
  if (!cast_) {
    if (seal_) ::unlink(recorder::chunkIndexPath(p_.recording_file).c_str());
    seal_.reset();
    sessionLog()->error("session={} cannot create the recording {}: {}", p_.id, p_.recording_file, ec.message());
    healthy_->store(false);
    return false;
  }
  return true;
}

void SessionRecorder::channelOpened(std::string_view kind, std::string_view command, std::string_view term, int cols,
                                    int rows) {
  if (ended_) return;
  if (kind == "subsystem" || command.starts_with("subsystem:")) {
    std::string name(command.starts_with("subsystem:") ? command.substr(10) : command);
    event("lifecycle", "subsystem " + name, json{{"subsystem", name}}.dump(-1, ' ', false, json::error_handler_t::replace));
    return;  // file transfers are recorded as file events, not as a terminal
  }
  if (!command.empty()) {
    ++command_count_;
    event("command", std::string(command), R"({"exec":true})");
    if (risk_) risk_->evaluate(risk::MatchType::Command, command, offsetMs(), false);
  } else {
    event("lifecycle", "shell", json{{"term", term}, {"cols", cols}, {"rows", rows}}.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  // With a pty the person types at prompts: commands come from the screen, keystrokes are masked.
  if (!term.empty() && !transcript_) {
    auto screen = live_->lockScreen();
    live_->setScreenSource([this] { return transcript_->snapshotAnsi(); }, cols, rows);
    transcript_ = std::make_unique<recorder::TerminalTranscript>(cols > 0 ? cols : 80, rows > 0 ? rows : 24);
    keys_ = std::make_unique<recorder::KeystrokeMasker>(*transcript_, [this](std::string_view keys) {
      if (cast_ && !cast_->appendInput(keys)) recordingFailed();
    });
    shown_ = std::make_unique<ShownText>(p_.id, events_, *transcript_);
  }
  if (p_.record && !p_.recording_file.empty() && !recording_opened_) {
    openRecording(cols, rows, term);
  } else if (cast_ && cols > 0 && rows > 0 && !cast_->appendResize(static_cast<unsigned>(cols), static_cast<unsigned>(rows))) {
    recordingFailed();
  }
}

double SessionRecorder::seconds() const { return static_cast<double>(offsetMs()) / 1000.0; }

void SessionRecorder::output(std::string_view bytes) {
  if (ended_) return;
  // A full queue (output faster than the encoder) makes this session's thread wait for the
  // encoder — and so its target wait for it, through the SSH windows — rather than fail the
  // recording. Only a writer that stays stuck (a hung disk) fails it.
  if (cast_ && !cast_->appendOutput(bytes) &&
      !(cast_->waitForRoom(bytes.size(), std::chrono::seconds(30)) && cast_->appendOutput(bytes)))
    recordingFailed();
  auto screen = live_->lockScreen();  // watchers see the screen and the stream in one order
  live_->publish(bytes);
  if (!transcript_) return;
  keys_->output(bytes, seconds());
  takeCommands();
  shown_->tick(seconds());
}

void SessionRecorder::input(std::string_view bytes) {
  if (ended_) return;
  // Without a pty, input is a command's stdin: it may hold anything (a piped password) and no
  // screen tells us, so it is not recorded at all.
  if (!transcript_) return;
  keys_->input(bytes, seconds());
  typed_.feed(bytes);
  takeCommands();
}

namespace {

bool plainKeys(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
}

/// The printable characters of keys typed ahead (escape sequences and editing keys dropped).
std::string printableKeys(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == 0x1b) {  // skip ESC [ ... final or ESC O x
      if (i + 1 < s.size() && (s[i + 1] == '[' || s[i + 1] == 'O')) {
        i += 2;
        while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      }
      continue;
    }
    if (b >= 0x20 && b != 0x7f) out += s[i];
  }
  return out;
}

/// What the person reads when a block rule refused their command.
std::string blockedNotice(const risk::Rule& rule) {
  return "Vigil blocked this command: " + rule.description + " [rule " + rule.id + "]";
}

}  // namespace

proto::InputDecision SessionRecorder::screenCommand(std::string_view command) {
  if (ended_ || !risk_) return {};
  auto v = risk_->evaluate(risk::MatchType::Command, command, offsetMs(), true);
  if (!v.block) return {};
  // On the timeline as the command it was, marked refused (the risk event and alert are written
  // by evaluate()).
  event("command", std::string(command), R"({"exec":true,"blocked":true})");
  proto::InputDecision d;
  d.forward = false;
  d.notice = blockedNotice(*v.rule);
  return d;
}

proto::InputDecision SessionRecorder::screenInput(std::string_view bytes) {
  if (ended_ || !risk_ || !transcript_) return {};
  const std::int64_t at = offsetMs();
  // Each line the chunk submits is checked (a paste may hold several). The first is checked
  // twice, blocking on either: as the screen shows it plus what this chunk types before its
  // Enter (a pasted line has not echoed yet), and as the keys spell it (recorder::TypedLine), for
  // keys whose echo has not reached the emulator or a prompt the emulator placed wrongly. The
  // later lines have never been on the screen: they are checked as typed.
  std::size_t start = 0;
  recorder::TypedLine keys = typed_;
  for (std::size_t cr = bytes.find('\r'); cr != std::string_view::npos; start = cr + 1, cr = bytes.find('\r', start)) {
    std::string_view typed = bytes.substr(start, cr - start);
    keys.feed(typed);
    SessionRisk::Verdict v;
    if (start == 0) {
      std::string line = transcript_->activeText();
      if (plainKeys(typed)) line.append(typed);
      v = risk_->evaluate(risk::MatchType::Command, line, at, true);
      if (!v.block && keys.known() && !keys.text().empty() && keys.text() != line)
        v = risk_->evaluate(risk::MatchType::Command, keys.text(), at, true);
      crypto::wipe(line);
    } else if (keys.known()) {
      v = risk_->evaluate(risk::MatchType::Command, keys.text(), at, true);
    } else {
      std::string printable = printableKeys(typed);
      v = risk_->evaluate(risk::MatchType::Command, printable, at, true);
      crypto::wipe(printable);
    }
    keys.feed("\r");  // the next line starts empty
    if (!v.block) continue;
    proto::InputDecision d;
    d.forward = false;
    // The whole chunk is dropped (a paste holding a blocked line runs none of its lines: the
    // Ctrl-C below would interrupt the ones before it anyway). Ctrl-E Ctrl-U empties readline's
    // line wherever the cursor was (a cooked tty takes Ctrl-U as the kill character), then Ctrl-C
    // for a fresh prompt. The line must be gone before the Ctrl-C: when the interrupt lands while
    // readline is busy, bash keeps its buffer and waits for a key.
    d.replacement = "\x05\x15\x03";
    d.notice = "\r\n" + blockedNotice(*v.rule) + "\r\n";
    return d;
  }
  return {};
}

proto::SqlDecision SessionRecorder::screenSql(std::string_view sql) {
  if (ended_ || !risk_) return {};
  auto v = risk_->evaluate(risk::MatchType::Sql, sql, offsetMs(), true);
  if (!v.block) return {};
  proto::SqlDecision d;
  d.forward = false;
  d.message = "Vigil blocked this statement: " + v.rule->description + " [rule " + v.rule->id + "]";
  return d;
}

void SessionRecorder::sqlStatement(const proto::SqlStatement& s) {
  if (ended_) return;
  ++command_count_;
  // Blocked statements were evaluated (and acted on) by screenSql already.
  if (risk_ && !s.blocked) risk_->evaluate(risk::MatchType::Sql, s.text, offsetMs(), false);
  json d{{"duration_ms", s.duration_ms}, {"rows", s.rows},   {"command_tag", s.command_tag},
         {"error", s.error},             {"kind", s.kind},   {"blocked", s.blocked},
         {"parameters", nullptr}};
  if (!s.parameters.empty()) {
    auto params = json::parse(s.parameters, nullptr, false);
    d["parameters"] = params.is_discarded() ? json(s.parameters) : params;
  }
  // Watchers of the live session see the statement stream as lines of text.
  std::string line = "\r\n" + s.text + "\r\n-- ";
  if (s.blocked) line += "blocked: " + s.error;
  else if (!s.error.empty()) line += "error: " + s.error;
  else line += (s.command_tag.empty() ? std::string("ok") : s.command_tag) + " (" + std::to_string(s.duration_ms) + " ms)";
  {
    auto screen = live_->lockScreen();
    live_->publish(line);
  }
  event("sql", s.text, d.dump(-1, ' ', false, json::error_handler_t::replace));
}

void SessionRecorder::resize(int cols, int rows) {
  if (ended_ || cols <= 0 || rows <= 0) return;
  if (keys_) keys_->tick(seconds());  // a line that waited too long goes before the resize
  if (cast_ && !cast_->appendResize(static_cast<unsigned>(cols), static_cast<unsigned>(rows))) recordingFailed();
  auto screen = live_->lockScreen();
  if (transcript_) transcript_->resize(cols, rows);
  live_->resized(cols, rows);
}

void SessionRecorder::fileOperation(const proto::FileOperation& op) {
  if (ended_) return;
  std::string text = op.operation + " " + op.path;
  if (!op.path2.empty()) text += " -> " + op.path2;
  if (op.operation == "upload" || op.operation == "download") text += " (" + std::to_string(op.bytes) + " bytes)";
  if (!op.ok) text += " (failed)";
  json d{{"operation", op.operation}, {"path", op.path}, {"bytes", op.bytes}, {"ok", op.ok}};
  if (!op.path2.empty()) d["path2"] = op.path2;
  event("file", std::move(text), d.dump(-1, ' ', false, json::error_handler_t::replace));
}

void SessionRecorder::note(std::string_view kind, std::string_view text) {
  if (ended_) return;
  if (kind == "suspended" || kind == "resumed") {  // SOC actions, applied by the proxy: lifecycle
    const std::string action = kind == "suspended" ? "suspend" : "resume";
    return event("lifecycle", std::string(kind) + (text.empty() ? "" : ": ") + std::string(text),
                 json{{"action", action}, {"message", text}}.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  event("note", std::string(text.empty() ? kind : text),
        json{{"type", kind}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool SessionRecorder::recordingHealthy() const { return !p_.record || healthy_->load(); }

void SessionRecorder::end(std::string_view reason, std::string_view detail, std::uint64_t bytes_from_client,
                          std::uint64_t bytes_to_client) {
  if (ended_) return;
  if (transcript_) {
    keys_->finish();
    transcript_->flush();
    takeCommands();
    shown_->finish(seconds());
  }
  if (reason == "terminated")
    event("lifecycle", "terminated: " + std::string(detail),
          json{{"action", "terminate"}, {"reason", detail}}.dump(-1, ' ', false, json::error_handler_t::replace));
  ended_ = true;
  wipeCredential(p_.credential);
  live_image_.reset();  // its last picture is published before the watchers are told it ended
  live_->ended(std::string(reason.empty() ? "error" : reason));
  LiveRegistry::instance().remove(p_.id);
  if (risk_) {
    risk_->setControl(nullptr);
    p_.risk->closeSession(risk_);
  }

  store::SessionEnd e;
  e.id = p_.id;
  e.reason = std::string(reason.empty() ? "error" : reason);
  e.detail = std::string(detail.substr(0, 2000));
  e.bytes_from_client = static_cast<std::int64_t>(bytes_from_client);
  e.bytes_to_client = static_cast<std::int64_t>(bytes_to_client);
  e.command_count = command_count_;
  e.has_recording = cast_ != nullptr || video_ != nullptr;

  store::AuditEntry a;
  a.actor_id = p_.grant.user_id;
  a.actor = p_.grant.username;
  a.source_addr = p_.client.client_addr;
  a.action = "session_end";
  a.object_type = "session";
  a.object_id = p_.id;
  a.outcome = outcomeOf(e.reason);
  json details{{"reason", e.reason},
               {"detail", e.detail},
               {"account_id", p_.grant.account_id},
               {"target", p_.grant.target.name},
               {"safe_id", p_.grant.safe_id},
               {"protocol", p_.client.protocol},
               {"via", p_.client.via},
               {"bytes_from_client", e.bytes_from_client},
               {"bytes_to_client", e.bytes_to_client},
               {"commands", e.command_count}};

  // Closing the recording drains its queue and fsyncs: done on the writer thread, after this
  // session's queued events, and the row's end follows it there.
  std::shared_ptr<recorder::AsciicastWriter> cast(std::move(cast_));
  json manifest_meta{{"user", p_.grant.username},
                     {"account", p_.grant.account_user},
                     {"target", p_.grant.target.name},
                     {"safe_id", p_.grant.safe_id},
                     {"protocol", p_.client.protocol},
                     {"client_addr", p_.client.client_addr},
                     {"end_reason", e.reason}};
  std::shared_ptr<recorder::VideoWriter> video(std::move(video_));
  const std::int64_t end_ms = offsetMs();
  events_->pushTask([&store = store_, cast, video, end_ms, e, a, details, id = p_.id, sealing = sealing_,
                     seal = seal_, manifest_meta]() mutable {
    if (video) {
      if (auto err = video->close(end_ms); !err.empty()) {
        details["recording_error"] = err;
        sessionLog()->error("session={} closing the video failed: {}", id, err);
      }
      e.recording_bytes = static_cast<std::int64_t>(video->bytesWritten());
      details["recording_bytes"] = e.recording_bytes;
    }
    if (cast) {
      if (auto ec = cast->close()) {
        details["recording_error"] = ec.message();
        sessionLog()->error("session={} closing the recording failed: {}", id, ec.message());
      }
      e.recording_bytes = static_cast<std::int64_t>(cast->bytesWritten());
      details["recording_bytes"] = e.recording_bytes;
    }
    // The closed recording (terminal or video) is sealed: its manifest signed.
    if ((cast || video) && sealing && seal) {
      try {
        auto sealed = sealing->seal(store, *seal, manifest_meta);
        details["recording_sealed"] = true;
        details["recording_chunks"] = sealed.chunk_count;
        details["recording_encrypted"] = sealed.encrypted;
      } catch (const std::exception& ex) {
        details["recording_sealed"] = false;
        sessionLog()->error("session={} sealing the recording failed: {}", id, ex.what());
      }
    }
    try {
      store.endSession(e);
    } catch (const std::exception& ex) {
      sessionLog()->error("session={} could not write the session end: {}", id, ex.what());
    }
    a.details_json = details.dump(-1, ' ', false, json::error_handler_t::replace);
    try {
      store.audit(a);
    } catch (const std::exception& ex) {
      sessionLog()->error("session={} could not audit the session end: {}", id, ex.what());
    }
    sessionLog()->info("session={} ended: {}", id, e.reason);
  });
}

}  // namespace vigil::services
