#pragma once
// Runs a program on a pseudo-terminal (as a person at a terminal would), so tests can type keys
// into real interactive clients (`ssh -tt`, `sftp`) and wait for what the screen shows.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil::test {

class PtyProcess {
 public:
  /// Starts `argv` on a new pty of `cols` x `rows`. The environment is inherited.
  PtyProcess(const std::vector<std::string>& argv, int cols = 80, int rows = 24) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(cols);
    ws.ws_row = static_cast<unsigned short>(rows);
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  /// Types `keys` (written as they are: "\r" is Enter, "\t" Tab, "\x1b[A" Up).
  void type(const std::string& keys) {
    std::size_t off = 0;
    while (off < keys.size()) {
      ssize_t n = ::write(fd_, keys.data() + off, keys.size() - off);
      if (n <= 0) throw std::runtime_error("write to pty failed");
      off += static_cast<std::size_t>(n);
    }
  }

  /// Reads until everything read so far contains `needle` after position `from` (default: the
  /// position after the previous match). False on timeout or end of output.
  bool waitFor(const std::string& needle, int timeout_ms = 15000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      auto pos = output_.find(needle, mark_);
      if (pos != std::string::npos) {
        mark_ = pos + needle.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0 || !readSome(static_cast<int>(left))) return false;
    }
  }

  /// Changes the terminal size (the client sends a window-change).
  void resize(int cols, int rows) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(cols);
    ws.ws_row = static_cast<unsigned short>(rows);
    ioctl(fd_, TIOCSWINSZ, &ws);
    kill(pid_, SIGWINCH);
  }

  /// Waits for the program to exit (reading its output meanwhile); its exit code, or -1.
  int wait(int timeout_ms = 15000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        while (readSome(50)) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      readSome(50);
    }
    return -1;
  }

  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }

 private:
  bool readSome(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[8192];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
  std::size_t mark_ = 0;
};

}  // namespace vigil::test
