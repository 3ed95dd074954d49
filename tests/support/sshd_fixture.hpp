#pragma once
// A private OpenSSH sshd for tests: its own host key and config in a temp dir, a free loopback
// port, password and public-key logins for one test user (created with useradd on first use),
// started on first use and stopped by PID at exit (and by PR_SET_PDEATHSIG if the test dies).
// Needs root.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace vigil::test {

/// Runs a shell command, returns its stdout (trailing newline kept); throws on failure.
inline std::string shellOut(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
  return out;
}

/// A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it).
inline int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

inline std::string randomAlnum(size_t n) {
  static const char* chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += chars[rd() % 57];
  return s;
}

class Sshd {
 public:
  /// Test users are "vigil_sshp<pid>": test binaries running side by side each set their own
  /// password, so one must never reset another's.
  static constexpr const char* kUserPrefix = "vigil_sshp";

  static Sshd& instance() {
    static Sshd s;
    return s;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  /// The test user's private key (OpenSSH format), for a "private_key" credential.
  const std::string& privateKey() const { return private_key_; }
  /// The sshd's host key fingerprint, "SHA256:..." as OpenSSH prints it.
  const std::string& hostKeyFingerprint() const { return fingerprint_; }
  const std::filesystem::path& dir() const { return dir_; }

  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

 private:
  Sshd() {
    try {
      start();
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  ~Sshd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
    }
    // Its processes (sessions the tests left) go first, then the user and its home.
    if (created_user_) (void)std::system(("pkill -KILL -u " + user_ + " >/dev/null 2>&1; userdel -r " + user_ + " >/dev/null 2>&1").c_str());
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  void start() {
    if (geteuid() != 0) throw std::runtime_error("the sshd fixture needs root");
    char tmpl[] = "/tmp/vigil-sshd-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    // The test user reads authorized_keys in here.
    chmod(dir_.c_str(), 0755);
    std::filesystem::create_directories("/run/sshd");
    std::string d = dir_.string();
    shellOut("ssh-keygen -q -t ed25519 -N '' -C vigil-test-host -f " + d + "/host_key");
    std::string fp = shellOut("ssh-keygen -l -E sha256 -f " + d + "/host_key.pub");
    std::istringstream fs(fp);
    std::string bits;
    fs >> bits >> fingerprint_;
    shellOut("ssh-keygen -q -t ed25519 -N '' -C vigil-test-user -f " + d + "/user_key");
    std::filesystem::copy_file(d + "/user_key.pub", d + "/authorized_keys");
    chmod((d + "/authorized_keys").c_str(), 0644);
    std::ifstream k(d + "/user_key");
    private_key_.assign(std::istreambuf_iterator<char>(k), {});

    user_ = std::string(kUserPrefix) + std::to_string(getpid());
    if (std::system(("id -u " + user_ + " >/dev/null 2>&1").c_str()) != 0) {
      (void)std::system(("useradd -m -s /bin/bash " + user_ + " >/dev/null 2>&1").c_str());
      shellOut("id -u " + user_);
    }
    created_user_ = true;
    password_ = randomAlnum(20);
    {
      // chpasswd reads the pair from a 0600 file: never a password on a command line.
      std::string f = d + "/.pw";
      int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      std::string line = user_ + ":" + password_ + "\n";
      (void)!write(fd, line.data(), line.size());
      close(fd);
      shellOut("chpasswd < " + f);
      std::filesystem::remove(f);
    }

    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freeLoopbackPort();
      std::ofstream cfg(d + "/sshd_config");
      cfg << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << d << "/host_key\nPidFile " << d
          << "/sshd.pid\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n"
          << "StrictModes no\nAllowUsers " << user_ << "\nAuthorizedKeysFile " << d << "/authorized_keys\n"
          << "AcceptEnv LANG LC_*\nSubsystem sftp internal-sftp\nPermitRootLogin no\nMaxStartups 200\n"
          << "MaxSessions 50\nRekeyLimit 16M\nLogLevel VERBOSE\nPrintMotd no\nPrintLastLog no\n";
      cfg.close();
      pid_ = fork();
      if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        std::string cfgp = d + "/sshd_config", logp = d + "/sshd.log";
        execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-f", cfgp.c_str(), "-D", "-E", logp.c_str(), (char*)nullptr);
        _exit(127);
      }
      if (waitListening()) return;
      if (pid_ > 0) {  // never kill(-1): pid_ is -1 once the child has been reaped
        kill(pid_, SIGTERM);
        int st;
        waitpid(pid_, &st, 0);
      }
      pid_ = -1;
    }
    throw std::runtime_error("sshd did not start (see " + d + "/sshd.log)");
  }

  bool waitListening() {
    for (int i = 0; i < 100; ++i) {
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(port_);
      bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::filesystem::path dir_;
  std::string error_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string user_;
  bool created_user_ = false;
  std::string password_;
  std::string private_key_;
  std::string fingerprint_;
};

}  // namespace vigil::test
