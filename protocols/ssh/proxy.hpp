#pragma once
// The pump that joins the person's leg and the target's channel on one thread: one ssh_event
// polls both libssh sessions and an eventfd for work posted by other threads (live control,
// browser keystrokes). Data moves only as far as the receiving side's window allows; what does
// not fit stays in libssh's channel buffer, whose window then stays closed, so a reader that
// stops reading stops its writer instead of growing memory.
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/session.hpp"

namespace vigil::ssh {

/// What the person's side asked for besides data.
struct PersonEvent {
  enum class Kind { Resize, Signal };
  Kind kind = Kind::Resize;
  int cols = 0;
  int rows = 0;
  std::string signal;  // "INT", "TERM", ... as in the SSH "signal" request
};

/// The person's leg as the pump sees it: a native SSH channel or the browser. Used only from
/// the pump's thread (except where noted).
class PersonSide {
 public:
  virtual ~PersonSide() = default;
  /// Adds this side's file descriptors / session to the pump's event.
  virtual void attach(ssh_event event) = 0;
  virtual void detach(ssh_event event) = 0;
  /// Bytes the person can take right now (their channel window).
  virtual std::size_t outputRoom() = 0;
  /// Sends target output; returns how many bytes were taken (0 while the connection re-keys:
  /// the caller keeps the rest and offers it again), or -1 when the person is gone.
  virtual long writeOutput(std::string_view bytes, bool is_stderr) = 0;
  /// Up to `max` bytes typed by the person; 0 when none is waiting.
  virtual std::size_t readInput(char* buf, std::size_t max) = 0;
  /// The person sent EOF (no more input will come).
  virtual bool inputEof() = 0;
  /// The person closed their side (channel closed, or connection gone): stop the session.
  virtual bool gone() = 0;
  /// The person's connection itself is gone (what the final linger waits for).
  virtual bool disconnected() = 0;
  /// True while bytes written to the person still wait in our socket buffer (their client is
  /// not reading yet): the goodbye wait goes on while they do.
  virtual bool outputPending() { return false; }
  virtual std::vector<PersonEvent> takeEvents() = 0;
  /// End of output, in this order: exit status/signal, EOF, close.
  virtual void sendExitStatus(int status) = 0;
  virtual void sendExitSignal(const std::string& signal, bool core, const std::string& message) = 0;
  virtual void sendEof() = 0;
  virtual void close() = 0;
  /// A Vigil message for the person (stderr on SSH, the terminal in the browser).
  virtual void notice(std::string_view text) = 0;
};

/// What kind of channel the target runs, which decides what is recorded.
struct ChannelSetup {
  std::string kind;     // "shell", "exec", "subsystem"
  std::string command;  // exec command line, or the subsystem name
  bool pty = false;
  std::string term;
  int cols = 80;
  int rows = 24;
};

class FileTransferWatch;

/// Runs one session's data phase until either side ends, then ends the Session once.
class Pump : public proto::SessionControl {
 public:
  Pump(PersonSide& person, ssh_session target, ssh_channel target_channel, proto::Session& session,
       const proto::ChannelPolicy& policy, ChannelSetup setup);
  /// Also told about the pump as a SessionControl while it runs (the listener's stop()).
  void setControlObserver(std::function<void(proto::SessionControl*)> observer) { observer_ = std::move(observer); }
  ~Pump() override;
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  /// Runs on the calling thread until the session is over; calls session.end() once.
  void run();

  /// Posts a wake-up to the pump's thread (any thread), e.g. after queueing browser input.
  void wake();
  /// The eventfd the pump polls; a PersonSide may add it to its own wake-ups.
  int wakeFd() const { return wake_fd_; }

  // SessionControl: any thread; the work happens on the pump's thread.
  void suspend(const std::string& message) override;
  void resume() override;
  void terminate(const std::string& reason) override;

 private:
  struct Command {
    enum class Kind { Suspend, Resume, Terminate } kind;
    std::string text;
  };
  void handleCommands();
  void handlePersonEvents();
  bool pumpInput();
  bool pumpOutput();
  void finishTarget();
  void endOnce(std::string_view reason, std::string_view detail);
  /// A Vigil message for the person. On a pty it goes in the output stream, so it stays in order
  /// with what the target prints around it (an ssh client writes stdout and stderr separately,
  /// and may print a prompt that came after the message before it); otherwise on stderr, where
  /// it cannot corrupt a command's output.
  void tell(std::string_view text);

  static void onExitStatus(ssh_session, ssh_channel, int status, void* self);
  static void onExitSignal(ssh_session, ssh_channel, const char* signal, int core, const char* errmsg,
                           const char* lang, void* self);
  static void onTargetEof(ssh_session, ssh_channel, void* self);
  static void onTargetClose(ssh_session, ssh_channel, void* self);

  PersonSide& person_;
  ssh_session target_;
  ssh_channel tch_;
  proto::Session& session_;
  proto::ChannelPolicy policy_;
  ChannelSetup setup_;
  bool terminal_ = true;  // shell/exec: bytes are recorded; file transfers are decoded instead
  std::unique_ptr<FileTransferWatch> files_;

  std::function<void(proto::SessionControl*)> observer_;
  std::string buf_;  // one copy buffer for both directions (the pump is single-threaded)
  // Bytes read from one side that the other did not take yet (libssh writes nothing while a
  // key re-exchange is in progress): written before anything more is read, never dropped.
  std::string pending_in_;
  std::string pending_out_;
  bool pending_out_stderr_ = false;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::deque<Command> commands_;

  ssh_channel_callbacks_struct target_cb_{};
  bool suspended_ = false;
  bool target_eof_ = false;
  bool target_closed_ = false;
  bool eof_sent_to_target_ = false;
  bool eof_sent_to_person_ = false;
  bool person_finished_ = false;  // exit status / EOF / close sent to the person
  int exit_status_ = -1;
  std::string exit_signal_;
  bool exit_core_ = false;
  std::string exit_message_;
  bool ended_ = false;
  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_to_client_ = 0;
};

}  // namespace vigil::ssh
