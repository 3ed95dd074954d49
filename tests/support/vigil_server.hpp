#pragma once
// Starts a real `vigil serve` (the built binary) with its embedded PostgreSQL in a fresh temporary
// data directory, and stops it with SIGTERM by PID. Fast Argon2 parameters keep logins quick.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

namespace vigil::test {

inline std::string makeTempDir(const char* prefix = "vigil-test") {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  std::filesystem::permissions(tmpl, std::filesystem::perms::owner_all | std::filesystem::perms::others_exec);
  return tmpl;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs a shell command line, capturing stdout and stderr.
inline CommandResult runCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class VigilServer {
 public:
  /// `extra_yaml` is appended to the generated config (top-level keys).
  explicit VigilServer(const std::string& extra_yaml = "", std::string dir = "") : dir_(dir.empty() ? makeTempDir() : dir) {
    writeConfig(extra_yaml);
    start();
  }
  ~VigilServer() {
    stop();
    if (!keep_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void writeConfig(const std::string& extra_yaml) {
    std::ofstream cfg(configPath());
    cfg << "data_dir: " << dir_ << "/data\n"
        << "listen: {address: 127.0.0.1, port: 0}\n"
        << "log: {level: info}\n"
        << "auth: {argon2_t_cost: 1, argon2_m_cost_kib: 8192, lockout_threshold: 5, lockout_minutes: 15}\n"
        // The SSH listener on a free port, unless the test configures it.
        << (extra_yaml.find("ssh:") == std::string::npos ? "ssh: {port: 0}\n" : "")
        << extra_yaml;
  }

  void start() {
    output_.clear();
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      execl(VIGIL_BINARY_PATH, VIGIL_BINARY_PATH, "serve", "-c", configPath().c_str(), (char*)nullptr);
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
    static const std::regex portal(R"(Portal: https://127\.0\.0\.1:(\d+)/)");
    static const std::regex initial(R"(Initial superuser: admin  password: (\S+))");
    static const std::regex ssh(R"(SSH: 127\.0\.0\.1:(\d+))");
    static const std::regex tds(R"(TDS: 127\.0\.0\.1:(\d+))");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    std::smatch m;
    while (std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<std::size_t>(n));
      if (std::regex_search(output_, m, initial)) admin_password_ = m[1];
      if (std::regex_search(output_, m, ssh)) ssh_port_ = std::stoi(m[1]);
      if (std::regex_search(output_, m, tds)) tds_port_ = std::stoi(m[1]);
      if (std::regex_search(output_, m, portal)) {
        port_ = std::stoi(m[1]);
        // Keep draining the server's output so it never blocks on a full pipe.
        drain_ = std::thread([fd = out_fd_, this] {
          char b[4096];
          ssize_t k;
          while ((k = read(fd, b, sizeof b)) > 0) {
            std::lock_guard g(mu_);
            output_.append(b, static_cast<std::size_t>(k));
          }
        });
        return;
      }
    }
    stop();
    throw std::runtime_error("vigil serve did not start:\n" + output_);
  }

  /// SIGTERM and wait; returns the exit status (or -1).
  int stop() {
    int status = -1;
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
      status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
    if (out_fd_ >= 0) close(out_fd_), out_fd_ = -1;
    return status;
  }

  /// SIGKILL (a crash): no clean shutdown, the embedded cluster is left running for the next start.
  void kill9() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
    if (out_fd_ >= 0) close(out_fd_), out_fd_ = -1;
  }

  int port() const { return port_; }
  /// The server's process id (signals in tests: SIGHUP reloads the risk rules).
  int pid() const { return pid_; }
  /// The SSH listener's port (0 when the server printed none).
  int sshPort() const { return ssh_port_; }
  /// The TDS listener's port (0 when the server printed none: tds_proxy not enabled).
  int tdsPort() const { return tds_port_; }
  const std::string& adminPassword() const { return admin_password_; }
  const std::string& dir() const { return dir_; }
  std::string configPath() const { return dir_ + "/vigil.yaml"; }
  std::string dataDir() const { return dir_ + "/data"; }
  std::string output() {
    std::lock_guard g(mu_);
    return output_;
  }
  void keepDir() { keep_dir_ = true; }
  /// Runs `vigil <args>` against this server's config.
  CommandResult cli(const std::string& args) const {
    return runCommand(std::string(VIGIL_BINARY_PATH) + " -c " + configPath() + " " + args);
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  int ssh_port_ = 0;
  int tds_port_ = 0;
  std::string admin_password_;
  std::string output_;
  std::mutex mu_;
  std::thread drain_;
  bool keep_dir_ = false;
};

}  // namespace vigil::test
