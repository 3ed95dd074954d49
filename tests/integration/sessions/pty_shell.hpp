#pragma once
// A real interactive bash on a pseudo-terminal, driven keystroke by keystroke, whose bytes are
// handed to a proto::Session exactly as the SSH proxy would: what the person types to input(),
// what the terminal sends back to output().
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "protocols/session.hpp"

namespace sessions_test {

class PtyShell {
 public:
  explicit PtyShell(vigil::proto::Session& s) : s_(s) {
    struct winsize ws {};
    ws.ws_row = 24;
    ws.ws_col = 80;
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      setenv("PS1", "$ ", 1);
      setenv("TERM", "xterm", 1);
      setenv("HISTFILE", "/dev/null", 1);
      execl("/bin/bash", "bash", "--norc", "--noprofile", "-i", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~PtyShell() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  /// Reads output for up to `ms` (returning early once `until` was seen), passing it on.
  bool pump(int ms, const std::string& until = "") {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    // Output seen while typing counts too.
    if (!until.empty() && consume(until)) return true;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return until.empty();
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return until.empty();
      std::string_view chunk(buf, static_cast<std::size_t>(n));
      s_.output(chunk);
      from_target_ += chunk.size();
      seen_.append(chunk);
      if (!until.empty() && consume(until)) return true;
    }
  }

  /// Types `keys` one at a time, letting the terminal answer each (echo, or nothing at a
  /// prompt that does not echo).
  void type(const std::string& keys, int wait_ms = 60) {
    for (char c : keys) {
      s_.input(std::string_view(&c, 1));
      from_client_ += 1;
      (void)!write(fd_, &c, 1);
      pump(wait_ms);
    }
  }

  /// Sends `keys` in one write, as a paste or a client that sends whole lines does: the shell
  /// gets them before it could echo any.
  void send(const std::string& keys) {
    s_.input(keys);
    from_client_ += keys.size();
    (void)!write(fd_, keys.data(), keys.size());
  }

  std::uint64_t fromClient() const { return from_client_; }
  std::uint64_t toClient() const { return from_target_; }

 private:
  /// Drops what was seen up to and including the first `until`; what came after it in the same
  /// read (e.g. the next prompt) stays for the next wait.
  bool consume(const std::string& until) {
    auto at = seen_.find(until);
    if (at == std::string::npos) return false;
    seen_.erase(0, at + until.size());
    return true;
  }

  vigil::proto::Session& s_;
  int fd_ = -1;
  pid_t pid_ = -1;
  std::string seen_;
  std::uint64_t from_client_ = 0, from_target_ = 0;
};

}  // namespace sessions_test
