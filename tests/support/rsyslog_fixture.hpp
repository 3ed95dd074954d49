#pragma once
// A private rsyslogd on loopback for the SIEM tests: its own config, pid file and work directory
// in a temp dir; UDP, TCP and TLS (gtls driver, certificate generated at run time by a throwaway
// CA) inputs on free ports; every received message written raw (one per line) to udp.log,
// tcp.log and tls.log. Started with `rsyslogd -n -f <conf> -i <pidfile>` as a child process and
// stopped by its PID, never by name.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/vigil_server.hpp"

namespace vigil::test {

/// A free port on 127.0.0.1 for `type` (SOCK_STREAM or SOCK_DGRAM), by binding port 0.
inline int freePort(int type) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    throw std::runtime_error("bind for a free port failed");
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

inline bool tcpAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class Rsyslog {
 public:
  /// Generates the certificates and picks the ports; `start` says whether to run it now.
  explicit Rsyslog(bool start_now = true) : dir_(makeTempDir("vigil-rsyslog")) {
    udp_port_ = freePort(SOCK_DGRAM);
    tcp_port_ = freePort(SOCK_STREAM);
    tls_port_ = freePort(SOCK_STREAM);
    makeCertificates();
    writeConfig();
    if (start_now) start();
  }
  ~Rsyslog() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start() {
    if (pid_ > 0) return;
    std::filesystem::remove(dir_ + "/rsyslogd.pid");
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/rsyslogd.out";
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      execl("/usr/sbin/rsyslogd", "rsyslogd", "-n", "-f", conf().c_str(), "-i", (dir_ + "/rsyslogd.pid").c_str(),
            (char*)nullptr);
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("rsyslogd exited at start:\n" + output());
      }
      if (tcpAccepts(tcp_port_) && tcpAccepts(tls_port_)) {
        // imudp binds in the same start-up pass as imtcp; give it a moment all the same.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("rsyslogd did not open its ports:\n" + output());
  }

  /// SIGTERM to our child by PID, then wait for it.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  bool running() const { return pid_ > 0; }

  int udpPort() const { return udp_port_; }
  int tcpPort() const { return tcp_port_; }
  int tlsPort() const { return tls_port_; }
  /// The CA that signed rsyslog's certificate (for 127.0.0.1 and localhost).
  std::string caFile() const { return dir_ + "/ca.pem"; }
  /// Another CA, which signed nothing rsyslog presents.
  std::string otherCaFile() const { return dir_ + "/other-ca.pem"; }
  const std::string& dir() const { return dir_; }
  std::string output() const { return readAll(dir_ + "/rsyslogd.out"); }

  /// The raw messages received on one input ("udp", "tcp", "tls"), one per line.
  std::vector<std::string> messages(const std::string& input) const {
    std::vector<std::string> out;
    std::istringstream in(readAll(dir_ + "/" + input + ".log"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }

  /// Polls `pred` until true or `seconds` pass.
  static bool waitUntil(const std::function<bool()>& pred, int seconds = 20) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

 private:
  static std::string readAll(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream o;
    o << f.rdbuf();
    return o.str();
  }
  std::string conf() const { return dir_ + "/rsyslog.conf"; }

  void run(const std::string& cmd) {
    auto r = runCommand("cd " + dir_ + " && " + cmd);
    if (r.exit_code != 0) throw std::runtime_error("rsyslog fixture: `" + cmd + "` failed:\n" + r.output);
  }

  void makeCertificates() {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=vigil-test-ca"
        " -keyout ca.key -out ca.pem");
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=other-ca"
        " -keyout other-ca.key -out other-ca.pem");
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost"
        " -keyout server.key -out server.csr");
    std::ofstream(dir_ + "/san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                     << "extendedKeyUsage=serverAuth\n";
    run("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext"
        " -out server.pem");
    run("chmod 600 *.key");
  }

  void writeConfig() {
    std::filesystem::create_directories(dir_ + "/work");
    std::ofstream c(conf());
    c << "global(workDirectory=\"" << dir_ << "/work\" maxMessageSize=\"64k\"\n"
      << "  defaultNetstreamDriverCAFile=\"" << dir_ << "/ca.pem\"\n"
      << "  defaultNetstreamDriverCertFile=\"" << dir_ << "/server.pem\"\n"
      << "  defaultNetstreamDriverKeyFile=\"" << dir_ << "/server.key\")\n"
      << "module(load=\"imudp\")\n"
      << "module(load=\"imtcp\" maxSessions=\"200\")\n"
      << "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
      << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_port_ << "\" ruleset=\"udp\")\n"
      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_port_ << "\" ruleset=\"tcp\")\n"
      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tls_port_ << "\" ruleset=\"tls\"\n"
      << "  streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n";
    for (const char* in : {"udp", "tcp", "tls"})
      c << "ruleset(name=\"" << in << "\") { action(type=\"omfile\" file=\"" << dir_ << "/" << in
        << ".log\" template=\"raw\" flushOnTXEnd=\"on\") }\n";
  }

  std::string dir_;
  pid_t pid_ = -1;
  int udp_port_ = 0;
  int tcp_port_ = 0;
  int tls_port_ = 0;
};

}  // namespace vigil::test
