#pragma once
// The environment every SSH proxy test shares: one private sshd (the target), the test-only
// core, one SshListener in this process, and helpers to run real OpenSSH clients.
#include <dirent.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "protocols/ssh/listener.hpp"
#include "support/sshd_fixture.hpp"
#include "test_core.hpp"

#define REQUIRE_ENV(env)              \
  do {                                \
    INFO(env.start_error);            \
    REQUIRE(env.start_error.empty()); \
    REQUIRE(env.listener != nullptr); \
  } while (0)

namespace vigil::test {

struct SshEnv {
  Sshd& sshd = Sshd::instance();
  TestGatekeeper gk;
  std::unique_ptr<ssh::SshListener> listener;
  std::filesystem::path dir;
  std::string start_error;
  int closed_port = 0;

  static SshEnv& get() {
    static SshEnv env;
    return env;
  }
  int port() const { return listener ? listener->port() : 0; }

  /// Common ssh options: no config, no known_hosts, no keys of root's. OpenSSH keeps the first
  /// value of an option, so callers pass their choices here rather than appending -o later.
  std::string sshOpts(const std::string& loglevel = "ERROR", bool batch = true, const std::string& key = "") const {
    std::string o = "-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=" +
                    loglevel + " -o ConnectTimeout=10 -o BatchMode=" + (batch ? "yes" : "no");
    if (key.empty()) return o + " -o PubkeyAuthentication=no";
    return o + " -o PubkeyAuthentication=yes -o IdentitiesOnly=yes -i " + key;
  }
  /// "ssh ... <login>@127.0.0.1" (add the remote command after it).
  std::string ssh(const std::string& login, const std::string& extra = "", const std::string& loglevel = "ERROR",
                  bool batch = true, const std::string& key = "") const {
    return "ssh " + sshOpts(loglevel, batch, key) + " -p " + std::to_string(port()) + " " + extra + " " + login +
           "@127.0.0.1";
  }
  /// Lines sshd logged for accepted logins so far (a session that reached the target adds one).
  int targetLogins() const {
    std::ifstream in(sshd.dir() / "sshd.log");
    int n = 0;
    for (std::string line; std::getline(in, line);)
      if (line.find("Accepted ") != std::string::npos) ++n;
    return n;
  }

  proto::Grant grantFor(const std::string& target_name, const std::string& fp, int port) {
    proto::Grant g;
    g.status = proto::Grant::Status::Ok;
    g.user_id = 1;
    g.username = "alice";
    g.account_id = 7;
    g.account_user = sshd.user();
    g.safe_id = 3;
    g.safe_name = "linux";
    g.target.target_id = static_cast<std::int64_t>(std::hash<std::string>{}(target_name) & 0xffff);
    g.target.name = target_name;
    g.target.address = "127.0.0.1";
    g.target.port = port;
    g.target.host_key_fingerprint = fp;
    return g;
  }

  void addAccount(const std::string& target, const std::string& fp, int port, const std::string& kind,
                  const std::string& secret, proto::ChannelPolicy policy = {}) {
    TestGatekeeper::Account a;
    a.grant = grantFor(target, fp, port);
    a.grant.policy = policy;
    a.credential_kind = kind;
    a.secret = secret;
    gk.addAccount(sshd.user() + "%" + target, a);
  }
  std::string token(const std::string& target) { return gk.mintToken(sshd.user() + "%" + target); }

 private:
  SshEnv() {
    if (!sshd.ok()) {
      start_error = "sshd: " + sshd.error();
      return;
    }
    char tmpl[] = "/tmp/vigil-sshp-XXXXXX";
    dir = mkdtemp(tmpl);
    closed_port = freeLoopbackPort();
    const std::string fp = sshd.hostKeyFingerprint();
    addAccount("web01", fp, sshd.port(), "password", sshd.password());
    addAccount("web01key", fp, sshd.port(), "private_key", sshd.privateKey());
    addAccount("mismatch", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", sshd.port(), "password", sshd.password());
    addAccount("unpinned", "", sshd.port(), "password", sshd.password());
    proto::ChannelPolicy tofu;
    tofu.trust_on_first_use = true;
    addAccount("tofu", "", sshd.port(), "password", sshd.password(), tofu);
    addAccount("down", fp, closed_port, "password", sshd.password());
    proto::ChannelPolicy nofiles;
    nofiles.allow_file_transfer = false;
    addAccount("nofiles", fp, sshd.port(), "password", sshd.password(), nofiles);
    addAccount("badcred", fp, sshd.port(), "password", "not-the-password");

    gk.addUser("alice", {"alice-pw", "", {}});
    gk.addUser("bob", {"bob-pw", "246810", {}});
    std::string user_fp = shellOut("ssh-keygen -l -E sha256 -f " + (sshd.dir() / "user_key.pub").string());
    user_fp = user_fp.substr(user_fp.find(' ') + 1);
    user_fp = user_fp.substr(0, user_fp.find(' '));
    gk.addUser("carol", {"carol-pw", "", {user_fp}});

    ssh::ListenerOptions o;
    o.host_key_file = (dir / "ssh_host_ed25519_key").string();
    o.max_unauthenticated = 300;
    o.login_grace_seconds = 6;
    o.connect_timeout_seconds = 5;
    listener = std::make_unique<ssh::SshListener>(gk, o);
    if (!listener->start(start_error)) listener.reset();
  }
  ~SshEnv() {
    if (listener) listener->stop();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

struct RunResult {
  int status = -1;  // exit code, or 128+signal
  std::string out, err;
};

/// Runs a shell command line with stdout and stderr captured apart (bounded by `timeout_s`).
inline RunResult run(const std::string& cmd, int timeout_s = 120) {
  static std::atomic<int> n{0};
  std::string base = "/tmp/vigil-sshp-run-" + std::to_string(getpid()) + "-" + std::to_string(++n);
  std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " bash -c '" + cmd + "' >" + base + ".out 2>" +
                     base + ".err </dev/null";
  RunResult r;
  int st = std::system(full.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream o(base + ".out"), e(base + ".err");
  r.out.assign(std::istreambuf_iterator<char>(o), {});
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return r;
}

/// A program on a pseudo-terminal, driven like expect(1): wait for text, type answers, resize.
class PtyDriver {
 public:
  PtyDriver(const std::string& cmd, int cols = 80, int rows = 24) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(cols);
    ws.ws_row = static_cast<unsigned short>(rows);
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      execl("/bin/bash", "bash", "-c", cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  ~PtyDriver() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  /// Waits until `needle` appears in the output after the last match.
  bool expect(const std::string& needle, int timeout_ms = 10000) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto pos = out_.find(needle, mark_);
      if (pos != std::string::npos) {
        mark_ = pos + needle.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readSome(static_cast<int>(left.count()))) return false;
    }
  }
  void send(const std::string& s) { (void)!write(fd_, s.data(), s.size()); }
  void setSize(int cols, int rows) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(cols);
    ws.ws_row = static_cast<unsigned short>(rows);
    ioctl(fd_, TIOCSWINSZ, &ws);
  }
  /// Waits for the program to exit; returns its exit code (or -1 on timeout).
  int wait(int timeout_ms = 15000) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      readSome(50);
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        while (readSome(50)) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
    }
    return -1;
  }
  const std::string& output() const { return out_; }

 private:
  bool readSome(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string out_;
  std::size_t mark_ = 0;
};

/// Open file descriptors and threads of this process (for leak checks).
inline int countDir(const char* path) {
  int n = 0;
  if (DIR* d = opendir(path)) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}
inline int openFds() { return countDir("/proc/self/fd"); }
inline int threadCount() { return countDir("/proc/self/task"); }

}  // namespace vigil::test
