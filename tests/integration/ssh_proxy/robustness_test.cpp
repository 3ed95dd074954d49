// Bad input and resource bounds: garbage and truncated handshakes, many half-open
// connections, connection limits, login grace, a client that stops reading, and no leaked
// threads or descriptors afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <random>

#include "protocols/ssh/web_terminal.hpp"
#include "ssh_env.hpp"

using namespace vigil::test;
using namespace std::chrono_literals;

namespace {

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// True if the server closed the connection within `timeout` (reading discards its banner).
bool closedByServer(int fd, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return true;
    }
  }
  return false;
}

/// True if the server has already closed the connection (what it sent before is discarded).
bool closedNow(int fd) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (read(fd, buf, sizeof buf) <= 0) return true;
  }
}

long rssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

bool waitIdle(vigil::ssh::SshListener& l, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (l.stats().connections == 0) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool commandWorks(SshEnv& env) {
  auto r = run(env.ssh(env.token("web01")) + " \"echo served\"", 60);
  return r.status == 0 && r.out == "served\n";
}

}  // namespace

TEST_CASE("random bytes and truncated handshakes are dropped and others are still served", "[ssh][integration][badinput]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::mt19937 rng(42);
  for (int i = 0; i < 20; ++i) {
    int fd = connectTo(env.port());
    REQUIRE(fd >= 0);
    std::string junk(1 + rng() % 65536, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 4 == 1) junk = "SSH-2.0-OpenSSH_9.2\r\n" + junk;           // a version line, then garbage
    if (i % 4 == 2) junk = "SSH-2.0-OpenSSH_9.2\r\n\x00\x00\x05";       // a truncated packet
    if (i % 4 == 3) junk = "";                                          // connect and go
    if (!junk.empty()) (void)!write(fd, junk.data(), junk.size());
    if (i % 2 == 0) CHECK(closedByServer(fd, 8s));
    close(fd);
  }
  // A real client that stops half-way through the key exchange.
  auto half = run("timeout -s KILL 0.3 " + env.ssh(env.token("web01")) + " true", 10);
  (void)half;
  CHECK(commandWorks(env));
  CHECK(waitIdle(*env.listener, 15s));
}

TEST_CASE("200 half-open connections neither block others nor outlive the login grace", "[ssh][integration][badinput]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  REQUIRE(waitIdle(*env.listener, 15s));
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    int fd = connectTo(env.port());
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(500ms);
  CHECK(env.listener->stats().unauthenticated >= 190);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(commandWorks(env));
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  // The login grace (6 s in these tests) closes every one of them from the server side.
  int closed = 0;
  for (int fd : fds) closed += closedByServer(fd, 12s) ? 1 : 0;
  CHECK(closed == 200);
  for (int fd : fds) close(fd);
  CHECK(waitIdle(*env.listener, 10s));
  CHECK(env.listener->stats().unauthenticated == 0);
}

TEST_CASE("connections beyond the limits are closed at once and the listener keeps serving", "[ssh][integration][badinput]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  vigil::ssh::ListenerOptions o;
  o.host_key_file = (env.dir / "limits_host_key").string();
  o.max_unauthenticated = 5;
  o.max_sessions = 8;
  o.login_grace_seconds = 2;
  vigil::ssh::SshListener small(env.gk, o);
  std::string err;
  REQUIRE(small.start(err));
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(connectTo(small.port()));
  std::this_thread::sleep_for(500ms);
  auto st = small.stats();
  CHECK(st.unauthenticated == 5);
  CHECK(st.rejected == 5);
  int closed_fast = 0;
  for (int fd : fds) closed_fast += closedNow(fd) ? 1 : 0;
  CHECK(closed_fast == 5);
  // The login grace of 2 s ends the other five.
  int closed_later = 0;
  for (int fd : fds) closed_later += closedByServer(fd, 5s) ? 1 : 0;
  CHECK(closed_later >= 5);
  for (int fd : fds) close(fd);
  CHECK(waitIdle(small, 5s));
  auto r = run("ssh " + env.sshOpts() + " -p " + std::to_string(small.port()) + " " + env.token("web01") +
               "@127.0.0.1 \"echo small-ok\"");
  CHECK(r.out == "small-ok\n");
  // The host key was generated once and is reused by a listener started later.
  std::string fp = small.hostKeyFingerprint();
  small.stop();
  vigil::ssh::SshListener again(env.gk, o);
  REQUIRE(again.start(err));
  CHECK(again.hostKeyFingerprint() == fp);
  CHECK((std::filesystem::status(o.host_key_file).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
}

TEST_CASE("a client that stops reading does not make the proxy buffer without bound", "[ssh][integration][badinput]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::size_t sessions = env.gk.sessionCount();
  std::string cmd = "exec " + env.ssh(env.token("web01")) + " \"head -c 200M /dev/zero\" >/dev/null";
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/bash", "bash", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  REQUIRE(pid > 0);
  auto rec = env.gk.waitSession(sessions + 1, 10s);
  REQUIRE(rec);
  REQUIRE(rec->waitControl(10s));
  std::this_thread::sleep_for(300ms);
  kill(pid, SIGSTOP);
  std::this_thread::sleep_for(1s);
  long rss_stopped = rssKb();
  std::this_thread::sleep_for(3s);
  long rss_later = rssKb();
  // Others are served meanwhile.
  CHECK(commandWorks(env));
  CHECK(rss_later - rss_stopped < 16 * 1024);
  bool finished_early = false;
  {
    std::lock_guard lk(rec->mu);
    finished_early = rec->ended;
  }
  CHECK(!finished_early);
  kill(pid, SIGKILL);
  kill(pid, SIGCONT);
  int st;
  waitpid(pid, &st, 0);
  REQUIRE(rec->waitEnded(10s));
  CHECK(rec->reason() == "client_closed");
  CHECK(rec->bytes_to_client < 200ull * 1024 * 1024);
  WARN("RSS while the client was stopped: " << rss_stopped << " kB -> " << rss_later << " kB; sent "
                                            << rec->bytes_to_client << " B before it stopped reading");
}

TEST_CASE("sessions leave no threads or descriptors behind", "[ssh][integration][badinput]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  REQUIRE(waitIdle(*env.listener, 15s));
  std::this_thread::sleep_for(300ms);
  int fds0 = openFds(), threads0 = threadCount();
  for (int i = 0; i < 3; ++i) CHECK(commandWorks(env));
  CHECK(run(env.ssh("tokNOPE") + " true").status == 255);
  CHECK(run(env.ssh(env.token("mismatch")) + " true").status == 255);
  CHECK(run(env.ssh(env.token("down")) + " true").status == 255);
  {
    int fd = connectTo(env.port());
    (void)!write(fd, "garbage\r\n", 9);
    close(fd);
  }
  {
    auto opener = vigil::ssh::makeTerminalOpener(env.gk);
    std::mutex mu;
    std::condition_variable cv;
    bool closed = false;
    vigil::proto::TerminalBridge::Callbacks cb;
    cb.output = [](std::string_view) {};
    cb.closed = [&](const std::string&) {
      std::lock_guard lk(mu);
      closed = true;
      cv.notify_all();
    };
    auto b = opener(env.gk.redeemLaunchToken(env.token("web01"), {}), {"ssh", "x", "web"}, 80, 24, cb);
    b->write("exit\r");
    std::unique_lock lk(mu);
    CHECK(cv.wait_for(lk, 10s, [&] { return closed; }));
  }
  CHECK(waitIdle(*env.listener, 15s));
  // Detached connection threads finish just after deregistering.
  auto until = std::chrono::steady_clock::now() + 5s;
  while ((openFds() > fds0 || threadCount() > threads0) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  CHECK(openFds() <= fds0);
  CHECK(threadCount() <= threads0);
}
