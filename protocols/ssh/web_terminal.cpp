#include "protocols/ssh/web_terminal.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "protocols/ssh/proxy.hpp"
#include "protocols/ssh/ssh_common.hpp"
#include "protocols/ssh/target_side.hpp"

namespace vigil::ssh {
namespace {

// Keystrokes (and pastes) waiting for the target; beyond this the page is sending faster than
// any terminal reads and the excess is dropped rather than held.
constexpr std::size_t kMaxPendingInput = 1024 * 1024;
// Output handed to the page per pump round; the web layer keeps its own bounded queue.
constexpr std::size_t kOutputRoom = 256 * 1024;

class Bridge;

/// The page as the pump's person side; lives on the bridge's thread.
class WebPerson : public PersonSide {
 public:
  explicit WebPerson(Bridge& b) : b_(b) {}
  void attach(ssh_event) override {}
  void detach(ssh_event) override {}
  std::size_t outputRoom() override;
  long writeOutput(std::string_view bytes, bool is_stderr) override;
  std::size_t readInput(char* buf, std::size_t max) override;
  bool inputEof() override { return false; }
  bool gone() override;
  bool disconnected() override { return gone() || finished_; }
  std::vector<PersonEvent> takeEvents() override;
  void sendExitStatus(int status) override { exit_status = status; }
  void sendExitSignal(const std::string& signal, bool, const std::string&) override { exit_signal = signal; }
  void sendEof() override {}
  void close() override { finished_ = true; }
  void notice(std::string_view text) override { writeOutput(text, true); }

  int exit_status = -1;
  std::string exit_signal;

 private:
  Bridge& b_;
  bool finished_ = false;
};

class Bridge : public proto::TerminalBridge, public std::enable_shared_from_this<Bridge> {
 public:
  Bridge(proto::Gatekeeper& gk, WebTerminalOptions options, proto::Grant grant, proto::ClientInfo client, int cols,
         int rows, Callbacks cb)
      : gk_(gk),
        options_(std::move(options)),
        grant_(std::move(grant)),
        client_(std::move(client)),
        cols_(cols),
        rows_(rows),
        cb_(std::move(cb)) {}

  void start() {
    auto self = shared_from_this();
    std::thread([self] {
      pthread_setname_np(pthread_self(), "vigil-webterm");
      try {
        self->runSession();
      } catch (const std::exception& e) {
        log().error("browser terminal failed: {}", e.what());
        self->closedOnce("Vigil: internal error");
      }
    }).detach();
  }

  // TerminalBridge (any thread)
  void write(std::string_view bytes) override {
    {
      std::lock_guard lk(mu_);
      if (input_.size() + bytes.size() > kMaxPendingInput) return;
      input_.append(bytes);
      if (pump_ != nullptr) pump_->wake();
    }
  }
  void resize(int cols, int rows) override {
    std::lock_guard lk(mu_);
    events_.push_back({PersonEvent::Kind::Resize, cols, rows, {}});
    if (pump_ != nullptr) pump_->wake();
  }
  void close() override {
    closed_ = true;
    std::lock_guard lk(mu_);
    if (pump_ != nullptr) pump_->wake();
  }
  std::string sessionId() const override {
    std::lock_guard lk(mu_);
    return session_id_;
  }

 private:
  friend class WebPerson;

  void closedOnce(const std::string& message) {
    if (closed_sent_.exchange(true)) return;
    try {
      if (cb_.closed) cb_.closed(message);
    } catch (...) {
    }
  }

  void runSession() {
    if (grant_.status != proto::Grant::Status::Ok) {
      closedOnce("Vigil refused: " + (grant_.message.empty() ? std::string("access denied") : grant_.message));
      return;
    }
    std::string error;
    std::unique_ptr<proto::Session> session = gk_.startSession(grant_, client_, error);
    if (!session) {
      log().warn("client={} browser session could not start: {}", client_.client_addr, error);
      closedOnce("Vigil refused: " + (error.empty() ? std::string("the session could not be started") : error));
      return;
    }
    const std::string sid = session->id();
    {
      std::lock_guard lk(mu_);
      session_id_ = sid;
    }
    ChannelSetup setup;
    setup.kind = "shell";
    setup.pty = true;
    setup.term = options_.term;
    setup.cols = std::clamp(cols_, 1, 10000);
    setup.rows = std::clamp(rows_, 1, 10000);
    TargetSide target;
    TargetFailure failure;
    if (closed_) {
      session->end("client_closed", "page closed before the target was reached", 0, 0);
      closedOnce("closed");
      return;
    }
    if (!target.connect(grant_, *session, gk_, options_.connect_timeout_seconds, failure) ||
        !target.openChannel(setup, {}, grant_, failure)) {
      log().info("session={} target side failed: {} ({})", sid, failure.reason, failure.detail);
      session->end(failure.reason, failure.detail, 0, 0);
      closedOnce(failure.message + " [session " + sid + "]");
      return;
    }
    session->channelOpened("shell", "", setup.term, setup.cols, setup.rows);
    log().info("session={} browser shell open to {}@{}", sid, grant_.account_user, grant_.target.name);
    WebPerson person(*this);
    {
      Pump pump(person, target.session(), target.channel(), *session, grant_.policy, setup);
      {
        std::lock_guard lk(mu_);
        pump_ = &pump;
      }
      pump.run();
      std::lock_guard lk(mu_);
      pump_ = nullptr;
    }
    if (closed_) {
      closedOnce("closed");
    } else if (person.exit_status >= 0) {
      closedOnce("Session ended (exit status " + std::to_string(person.exit_status) + ").");
    } else {
      closedOnce("Session ended.");
    }
  }

  proto::Gatekeeper& gk_;
  WebTerminalOptions options_;
  proto::Grant grant_;
  proto::ClientInfo client_;
  int cols_;
  int rows_;
  Callbacks cb_;

  mutable std::mutex mu_;
  std::string session_id_;
  std::string input_;
  std::vector<PersonEvent> events_;
  Pump* pump_ = nullptr;
  std::atomic<bool> closed_{false};
  std::atomic<bool> closed_sent_{false};
};

std::size_t WebPerson::outputRoom() { return b_.closed_ ? 0 : kOutputRoom; }

long WebPerson::writeOutput(std::string_view bytes, bool) {
  try {
    if (b_.cb_.output) b_.cb_.output(bytes);
    return static_cast<long>(bytes.size());
  } catch (...) {
    return -1;
  }
}

std::size_t WebPerson::readInput(char* buf, std::size_t max) {
  std::lock_guard lk(b_.mu_);
  std::size_t n = std::min(max, b_.input_.size());
  b_.input_.copy(buf, n);
  b_.input_.erase(0, n);
  return n;
}

bool WebPerson::gone() { return b_.closed_; }

std::vector<PersonEvent> WebPerson::takeEvents() {
  std::lock_guard lk(b_.mu_);
  std::vector<PersonEvent> out;
  out.swap(b_.events_);
  return out;
}

}  // namespace

proto::TerminalOpener makeTerminalOpener(proto::Gatekeeper& gatekeeper, WebTerminalOptions options) {
  return [&gatekeeper, options](const proto::Grant& grant, const proto::ClientInfo& client, int cols, int rows,
                                proto::TerminalBridge::Callbacks cb) -> std::shared_ptr<proto::TerminalBridge> {
    auto bridge = std::make_shared<Bridge>(gatekeeper, options, grant, client, cols, rows, std::move(cb));
    bridge->start();
    return bridge;
  };
}

}  // namespace vigil::ssh
