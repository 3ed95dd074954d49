#include "protocols/ssh/proxy.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <libssh/callbacks.h>

#include "protocols/ssh/ssh_common.hpp"

#include "protocols/ssh/scp_decoder.hpp"
#include "protocols/ssh/sftp_decoder.hpp"

namespace vigil::ssh {

/// Feeds a file-transfer channel's bytes to the matching decoder and reports what it finds.
class FileTransferWatch
    : public SftpDecoder::Callbacks  // ScpDecoder reports through the same interface
{
 public:
  FileTransferWatch(proto::Session& session, const ChannelSetup& setup) : session_(session) {
    if (setup.kind == "subsystem") {
      sftp_ = std::make_unique<SftpDecoder>(*this);
    } else {
      scp_ = std::make_unique<ScpDecoder>(*this, setup.command);
    }
  }
  void clientBytes(std::string_view b) {
    if (sftp_) sftp_->clientBytes(b);
    if (scp_) scp_->clientBytes(b);
  }
  void serverBytes(std::string_view b) {
    if (sftp_) sftp_->serverBytes(b);
    if (scp_) scp_->serverBytes(b);
  }
  void finish() {
    if (sftp_) sftp_->finish();
    if (scp_) scp_->finish();
  }
  void onFileOperation(const proto::FileOperation& op) override { session_.fileOperation(op); }
  void onMalformed(std::string_view what) override {
    // Reported once: a decoder that lost its footing would otherwise flood the timeline.
    if (malformed_reported_) return;
    malformed_reported_ = true;
    session_.note("file_transfer_undecodable", what);
  }

 private:
  proto::Session& session_;
  std::unique_ptr<SftpDecoder> sftp_;
  std::unique_ptr<ScpDecoder> scp_;
  bool malformed_reported_ = false;
};

namespace {

constexpr std::size_t kChunk = 32 * 1024;

int onWake(socket_t fd, int, void*) {
  std::uint64_t v;
  while (::read(fd, &v, sizeof v) == sizeof v) {
  }
  return 0;
}

}  // namespace

Pump::Pump(PersonSide& person, ssh_session target, ssh_channel target_channel, proto::Session& session,
           const proto::ChannelPolicy& policy, ChannelSetup setup)
    : person_(person),
      target_(target),
      tch_(target_channel),
      session_(session),
      policy_(policy),
      setup_(std::move(setup)) {
  terminal_ = !(setup_.kind == "subsystem" || (setup_.kind == "exec" && isScpCommand(setup_.command)));
  if (!terminal_) files_ = std::make_unique<FileTransferWatch>(session_, setup_);
  buf_.resize(kChunk);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ssh_callbacks_init(&target_cb_);
  target_cb_.userdata = this;
  target_cb_.channel_exit_status_function = &Pump::onExitStatus;
  target_cb_.channel_exit_signal_function = &Pump::onExitSignal;
  target_cb_.channel_eof_function = &Pump::onTargetEof;
  target_cb_.channel_close_function = &Pump::onTargetClose;
  ssh_set_channel_callbacks(tch_, &target_cb_);
}

Pump::~Pump() {
  ssh_remove_channel_callbacks(tch_, &target_cb_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Pump::wake() {
  std::uint64_t one = 1;
  ssize_t rc = ::write(wake_fd_, &one, sizeof one);
  (void)rc;  // a full counter already means "wake up"
}

void Pump::suspend(const std::string& message) {
  {
    std::lock_guard lk(mu_);
    commands_.push_back({Command::Kind::Suspend, message});
  }
  wake();
}

void Pump::resume() {
  {
    std::lock_guard lk(mu_);
    commands_.push_back({Command::Kind::Resume, {}});
  }
  wake();
}

void Pump::terminate(const std::string& reason) {
  {
    std::lock_guard lk(mu_);
    commands_.push_back({Command::Kind::Terminate, reason});
  }
  wake();
}

void Pump::onExitStatus(ssh_session, ssh_channel, int status, void* self) {
  static_cast<Pump*>(self)->exit_status_ = status;
}

void Pump::onExitSignal(ssh_session, ssh_channel, const char* signal, int core, const char* errmsg, const char*,
                        void* self) {
  auto* p = static_cast<Pump*>(self);
  try {
    p->exit_signal_ = signal ? signal : "";
    p->exit_core_ = core != 0;
    p->exit_message_ = errmsg ? errmsg : "";
  } catch (...) {
    // No exception may cross libssh; a lost signal name only loses detail.
  }
}

void Pump::onTargetEof(ssh_session, ssh_channel, void* self) { static_cast<Pump*>(self)->target_eof_ = true; }

void Pump::onTargetClose(ssh_session, ssh_channel, void* self) {
  auto* p = static_cast<Pump*>(self);
  p->target_eof_ = true;
  p->target_closed_ = true;
}

void Pump::endOnce(std::string_view reason, std::string_view detail) {
  if (ended_) return;
  ended_ = true;
  if (files_) files_->finish();
  log().info("session={} ended: {}{}{} (in {} B, out {} B)", session_.id(), reason, detail.empty() ? "" : ": ",
             detail, bytes_from_client_, bytes_to_client_);
  session_.end(reason, detail, bytes_from_client_, bytes_to_client_);
}

void Pump::handleCommands() {
  std::deque<Command> cmds;
  {
    std::lock_guard lk(mu_);
    cmds.swap(commands_);
  }
  for (auto& c : cmds) {
    switch (c.kind) {
      case Command::Kind::Suspend:
        suspended_ = true;
        tell("\r\n[Vigil] session suspended: " + c.text + "\r\n");
        session_.note("suspended", c.text);
        break;
      case Command::Kind::Resume:
        if (suspended_) tell("\r\n[Vigil] session resumed\r\n");
        suspended_ = false;
        session_.note("resumed", "");
        break;
      case Command::Kind::Terminate:
        tell("\r\n[Vigil] session terminated: " + c.text + "\r\n");
        endOnce("terminated", c.text);
        return;
    }
  }
}

void Pump::handlePersonEvents() {
  for (auto& ev : person_.takeEvents()) {
    if (ev.kind == PersonEvent::Kind::Resize) {
      if (ev.cols <= 0 || ev.rows <= 0 || ev.cols > 10000 || ev.rows > 10000) continue;
      setup_.cols = ev.cols;
      setup_.rows = ev.rows;
      if (setup_.pty) ssh_channel_change_pty_size(tch_, ev.cols, ev.rows);
      session_.resize(ev.cols, ev.rows);
    } else {
      ssh_channel_request_send_signal(tch_, ev.signal.c_str());
      session_.note("signal", ev.signal);
    }
  }
}

bool Pump::pumpInput() {
  bool moved = false;
  std::string& buf = buf_;
  if (!pending_in_.empty()) {  // what a key re-exchange held back goes first
    int w = ssh_channel_write(tch_, pending_in_.data(), static_cast<uint32_t>(pending_in_.size()));
    if (w <= 0) return false;
    pending_in_.erase(0, static_cast<std::size_t>(w));
    if (!pending_in_.empty()) return true;
    moved = true;
  }
  for (;;) {
    std::size_t room = eof_sent_to_target_ ? 0 : ssh_channel_window_size(tch_);
    if (suspended_) room = kChunk;  // read and drop: keystrokes typed while suspended never run
    if (room == 0) break;
    std::size_t n = person_.readInput(buf.data(), std::min(room, kChunk));
    if (n == 0) break;
    moved = true;
    std::string_view data(buf.data(), n);
    if (suspended_) continue;
    std::string replaced;  // a submitted line the session core blocked (risk rules)
    if (terminal_ && data.find('\r') != std::string_view::npos) {
      auto d = session_.screenInput(data);
      if (!d.forward) {
        if (!d.notice.empty()) tell(d.notice);
        replaced = std::move(d.replacement);
        data = replaced;
        n = data.size();
        if (n == 0) continue;
      }
    }
    int w = ssh_channel_write(tch_, data.data(), static_cast<uint32_t>(n));
    if (w < 0) break;
    bytes_from_client_ += n;
    if (terminal_) {
      session_.input(data);
    } else {
      files_->clientBytes(data);
    }
    if (static_cast<std::size_t>(w) < n) {  // re-keying: keep the rest for the next round
      pending_in_.assign(data.substr(static_cast<std::size_t>(w)));
      break;
    }
  }
  if (!eof_sent_to_target_ && pending_in_.empty() && person_.inputEof()) {
    // Everything the person sent before EOF has been read (readInput returned 0).
    ssh_channel_send_eof(tch_);
    eof_sent_to_target_ = true;
  }
  return moved;
}

bool Pump::pumpOutput() {
  bool moved = false;
  std::string& buf = buf_;
  if (!pending_out_.empty()) {  // what a key re-exchange held back goes first
    long w = person_.writeOutput(pending_out_, pending_out_stderr_);
    if (w <= 0) return false;
    pending_out_.erase(0, static_cast<std::size_t>(w));
    if (!pending_out_.empty()) return true;
    moved = true;
  }
  for (int is_stderr = 0; is_stderr < 2; ++is_stderr) {
    for (;;) {
      std::size_t room = person_.outputRoom();
      if (room == 0) break;
      int n = ssh_channel_read_nonblocking(tch_, buf.data(), static_cast<uint32_t>(std::min(room, kChunk)),
                                           is_stderr);
      if (n <= 0) break;  // nothing waiting, EOF or error
      moved = true;
      std::string_view data(buf.data(), static_cast<std::size_t>(n));
      long w = person_.writeOutput(data, is_stderr != 0);
      if (w < 0 && person_.gone()) return moved;  // the person is gone
      if (w < 0) w = 0;  // a refused write while still connected: retried from pending_out_, never dropped
      bytes_to_client_ += static_cast<std::uint64_t>(n);
      if (terminal_) {
        session_.output(data);
      } else if (!is_stderr) {
        files_->serverBytes(data);
      }
      if (static_cast<std::size_t>(w) < data.size()) {  // re-keying: keep the rest
        pending_out_.assign(data.substr(static_cast<std::size_t>(w)));
        pending_out_stderr_ = is_stderr != 0;
        return true;
      }
    }
  }
  return moved;
}

void Pump::finishTarget() {
  // An exit status that arrived before the callbacks: libssh kept it. Asked only when the target
  // closed the channel on a live connection, so this does not wait for packets.
  if (exit_status_ < 0 && exit_signal_.empty() && ssh_is_connected(target_) && ssh_channel_is_closed(tch_) != 0) {
    const int status = ssh_channel_get_exit_status(tch_);
    if (status >= 0) exit_status_ = status;
  }
  if (exit_status_ >= 0) {
    person_.sendExitStatus(exit_status_);
    session_.note("exit_status", std::to_string(exit_status_));
  } else if (!exit_signal_.empty()) {
    person_.sendExitSignal(exit_signal_, exit_core_, exit_message_);
    session_.note("exit_signal", exit_signal_);
  }
  if (!eof_sent_to_person_) person_.sendEof();
  eof_sent_to_person_ = true;
  person_.close();
  person_finished_ = true;
}

void Pump::run() {
  ssh_event event = ssh_event_new();
  if (event == nullptr) {
    endOnce("error", "cannot create the poll event");
    return;
  }
  ssh_set_blocking(target_, 0);
  ssh_event_add_session(event, target_);
  person_.attach(event);
  ssh_event_add_fd(event, wake_fd_, POLLIN, &onWake, this);
  session_.setControl(this);
  if (observer_) observer_(this);
  wake();  // a first round at once: input may have been queued before the pump existed

  using Clock = std::chrono::steady_clock;
  while (!ended_) {
    ssh_event_dopoll(event, 500);
    handleCommands();
    if (ended_) break;
    handlePersonEvents();
    // Move data until neither direction makes progress: data already buffered inside libssh
    // does not wake poll() again.
    for (int i = 0; i < 64; ++i) {
      bool out = pumpOutput();
      bool in = pumpInput();
      if (!out && !in) break;
    }
    if (policy_.record && !session_.recordingHealthy()) {
      tell("\r\n[Vigil] session ended: the recording cannot be written\r\n");
      endOnce("recording_failed", "recording unhealthy");
      break;
    }
    if (person_.gone()) {
      endOnce("client_closed", "");
      break;
    }
    // The target's state is taken before the buffers are looked at: ssh_channel_poll reads
    // packets, so polling stderr can bring in the last stdout bytes together with EOF and CLOSE
    // after stdout was seen empty. Nothing arrives after EOF/CLOSE, so state-then-buffers is exact.
    // The channel's own state counts too: a command that ends at once can have its EOF, exit
    // status and CLOSE read with the reply to the exec request, before this pump's callbacks
    // existed (ssh then waited forever for a session that had ended).
    const bool target_eof = target_eof_ || ssh_channel_is_eof(tch_) != 0;
    const bool target_done = target_closed_ || ssh_channel_is_closed(tch_) != 0 || !ssh_is_connected(target_);
    bool drained = pending_out_.empty() && ssh_channel_poll(tch_, 0) <= 0 && ssh_channel_poll(tch_, 1) <= 0;
    if (target_eof && drained && !eof_sent_to_person_) {
      person_.sendEof();
      eof_sent_to_person_ = true;
    }
    if (target_done && drained) {
      finishTarget();
      endOnce("target_closed", exit_status_ >= 0 ? "exit " + std::to_string(exit_status_) : exit_signal_);
      break;
    }
  }
  session_.setControl(nullptr);
  if (observer_) observer_(nullptr);

  // Close the person's side politely and keep polling until their client has gone, so that
  // OpenSSH exits with the status instead of "Connection closed by remote host".
  if (!person_finished_ && !person_.disconnected()) {
    if (!person_.gone()) person_.sendExitStatus(exit_status_ >= 0 ? exit_status_ : 255);
    if (!eof_sent_to_person_) person_.sendEof();
    person_.close();
  }
  if (ssh_channel_is_open(tch_)) ssh_channel_close(tch_);
  // The wait ends 3 s after the last byte left our socket buffer (a client still reading the
  // tail of a large output under load is not cut off), and after 60 s in any case.
  const auto linger_start = Clock::now();
  auto linger_until = linger_start + std::chrono::seconds(3);
  while (!person_.disconnected() && Clock::now() < linger_until) {
    if (ssh_event_dopoll(event, 100) == SSH_ERROR) break;
    if (person_.outputPending())
      linger_until = std::min(linger_start + std::chrono::seconds(60), Clock::now() + std::chrono::seconds(3));
  }
  if (!person_.disconnected() && person_.outputPending())
    log().warn("session={} the client did not read the end of the output within 60 s; closing", session_.id());
  ssh_event_remove_fd(event, wake_fd_);
  person_.detach(event);
  ssh_event_remove_session(event, target_);
  ssh_event_free(event);
}

void Pump::tell(std::string_view text) {
  if (setup_.pty) person_.writeOutput(text, false);
  else person_.notice(text);
}

}  // namespace vigil::ssh
