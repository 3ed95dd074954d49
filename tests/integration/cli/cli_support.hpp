#pragma once
// Helpers for driving the `vigil` binary: run a command with separate stdout/stderr (and stdin),
// read files and modes, query the embedded PostgreSQL with psql, and set up an admin session.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/https_client.hpp"
#include "support/vigil_server.hpp"

namespace vigil::test {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out, nullptr, false); }
};

inline std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeText(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

/// Single-quotes a word for /bin/sh.
inline std::string shq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs a shell command line with `input` on stdin; stdout and stderr are kept apart. Every
/// command is bounded by `timeout` so a hanging binary fails the test instead of the whole run.
inline Run run(const std::string& cmd, const std::string& input = "", int timeout_s = 120) {
  static std::atomic<int> seq{0};
  const std::string base = "/tmp/vigil-cli-run-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
  const std::string in = base + ".in", err = base + ".err";
  writeText(in, input);
  Run r;
  const std::string line = "timeout -k 5 " + std::to_string(timeout_s) + " sh -c " + shq(cmd) + " <" + in + " 2>" + err;
  FILE* p = popen(line.c_str(), "r");
  if (p) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  r.err = readText(err);
  std::error_code ec;
  fs::remove(in, ec);
  fs::remove(err, ec);
  return r;
}

inline std::string vigilBin() { return VIGIL_BINARY_PATH; }

/// `vigil -c <config> <args>`.
inline Run vigilCli(const std::string& config, const std::string& args, const std::string& input = "") {
  return run(vigilBin() + " -c " + shq(config) + " " + args, input);
}

inline unsigned fileMode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0xFFFFFFFFu;
  return st.st_mode & 07777;
}

inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// The embedded cluster's password (<data_dir>/pg/password).
inline std::string pgPassword(const fs::path& data_dir) { return trimmed(readText(data_dir / "pg/password")); }

/// libpq key=value connection string to the embedded cluster.
inline std::string pgConninfo(const fs::path& data_dir, const std::string& db = "vigil") {
  return "host=" + (data_dir / "pg/run").string() + " port=5432 user=vigil password=" + pgPassword(data_dir) +
         " dbname=" + db;
}

/// psql -tA against the embedded cluster; returns trimmed output (rows separated by '\n').
inline Run psql(const fs::path& data_dir, const std::string& sql, const std::string& db = "vigil") {
  Run r = run("PGPASSWORD=" + shq(pgPassword(data_dir)) + " psql -X -q -v ON_ERROR_STOP=1 -tA -h " +
              shq((data_dir / "pg/run").string()) + " -p 5432 -U vigil -d " + shq(db) + " -c " + shq(sql));
  r.out = trimmed(r.out);
  return r;
}

/// The postmaster PID recorded in <data_dir>/pg/data/postmaster.pid (0 if none).
inline pid_t postmasterPid(const fs::path& data_dir) {
  std::ifstream in(data_dir / "pg/data/postmaster.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

inline bool processAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

/// Waits (briefly) for a process to disappear: a stopped postmaster may linger for a moment.
inline bool waitGone(pid_t pid, std::chrono::milliseconds max = std::chrono::milliseconds(5000)) {
  auto end = std::chrono::steady_clock::now() + max;
  while (processAlive(pid)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

/// Removes a directory tree when it goes out of scope (also when a REQUIRE fails).
struct RemoveDirAtEnd {
  std::string dir;
  ~RemoveDirAtEnd() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

/// A child process of this test whose command line contains `needle` (0 if none). Used to find
/// the `vigil serve` a VigilServer started, to simulate its crash.
inline pid_t childPidWith(const std::string& needle) {
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = readText(e.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid != getpid()) continue;
    std::string cmdline = readText(e.path() / "cmdline");
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos) return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

inline std::string certFingerprint(const std::string& output) {
  static const std::regex re(R"(TLS certificate SHA-256: (\S+))");
  std::smatch m;
  return std::regex_search(output, m, re) ? std::string(m[1]) : std::string();
}

/// Key ids in a keyring file, in file order.
inline std::vector<std::string> keyringIds(const fs::path& file) {
  std::vector<std::string> ids;
  std::istringstream in(readText(file));
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string magic, version, id;
    if (f >> magic >> version >> id && magic == "vigil-master-key") ids.push_back(id);
  }
  return ids;
}

inline const std::string kAdminPassword = "Admin-Password-For-Tests-1";

/// Logs in as the initial admin and replaces the one-time password with kAdminPassword; `c` keeps
/// the session.
inline void becomeAdmin(VigilServer& s, HttpsClient& c) {
  auto r = c.login("admin", s.adminPassword());
  if (r.status != 200) throw std::runtime_error("admin login failed: " + r.body);
  r = c.post("/api/v1/me/password", {{"current_password", s.adminPassword()}, {"new_password", kAdminPassword}});
  if (r.status != 204) throw std::runtime_error("admin password change failed: " + r.body);
  r = c.login("admin", kAdminPassword);
  if (r.status != 200) throw std::runtime_error("admin re-login failed: " + r.body);
}

/// One server per test process for the cases that need no fresh data directory (a first start
/// costs an initdb: seconds). Its admin password is already kAdminPassword. Stopped at exit.
inline VigilServer& sharedServer() {
  static std::unique_ptr<VigilServer> s;
  if (!s) {
    s = std::make_unique<VigilServer>();
    HttpsClient c(s->port());
    becomeAdmin(*s, c);
  }
  return *s;
}

/// A client logged in as admin on the shared server.
inline std::unique_ptr<HttpsClient> sharedAdmin() {
  auto c = std::make_unique<HttpsClient>(sharedServer().port());
  auto r = c->login("admin", kAdminPassword);
  if (r.status != 200) throw std::runtime_error("admin login failed: " + r.body);
  return c;
}

}  // namespace vigil::test
