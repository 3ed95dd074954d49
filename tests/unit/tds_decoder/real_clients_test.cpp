// Byte fixtures captured at run time from the real FreeTDS tsql (encryption off, so the bytes on
// the wire are TDS itself) talking to the TDS test server through a recording relay. The capture
// holds only the test server's throw-away password. The decoder must report the same facts
// whatever the split of the captured streams.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/tds_test_server.hpp"
#include "support/vigil_server.hpp"
#include "tds_fixtures.hpp"

namespace {

int listenLoopback(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 4);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

/// Relays one connection from `listen_fd` to 127.0.0.1:`to`, recording every read.
std::vector<std::pair<bool, std::string>> relayOnce(int listen_fd, int to) {
  std::vector<std::pair<bool, std::string>> reads;
  pollfd lp{listen_fd, POLLIN, 0};
  if (::poll(&lp, 1, 20000) != 1) return reads;
  int c = ::accept(listen_fd, nullptr, nullptr);
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(to));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return reads;
  for (;;) {
    pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
    if (::poll(p, 2, 20000) <= 0) break;
    bool closed = false;
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[65536];
      const ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      reads.emplace_back(i == 0, std::string(buf, static_cast<std::size_t>(n)));
      ::send(i == 0 ? s : c, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
    if (closed) break;
  }
  ::close(c);
  ::close(s);
  return reads;
}

}  // namespace

TEST_CASE("Bytes captured from real tsql decode to the same statements at every split", "[tds][decoder][real]") {
  const std::string dir = vigil::test::makeTempDir("vigil-tds-capture");
  vigil::test::TdsTestServer server("capture_user", "Capture-Pw-1", dir);
  int relay_port = 0;
  const int lfd = listenLoopback(relay_port);
  std::vector<std::pair<bool, std::string>> reads;
  std::thread relay([&] { reads = relayOnce(lfd, server.port()); });
  std::ofstream(dir + "/freetds.conf") << "[global]\n\ttds version = 7.4\n\tencryption = off\n";
  std::ofstream(dir + "/in.sql") << "select name from t\ngo\nupdate t set x = 1\ngo\nselect boom\ngo\nexit\n";
  auto r = vigil::test::runCommand("FREETDSCONF=" + dir + "/freetds.conf timeout 30 tsql -H 127.0.0.1 -p " +
                                   std::to_string(relay_port) + " -U capture_user -P Capture-Pw-1 < " + dir + "/in.sql");
  relay.join();
  ::close(lfd);
  INFO(r.output);
  REQUIRE(reads.size() >= 8);

  const auto whole = tds_test::decode(reads);
  std::string all;
  for (const auto& l : whole) all += l + "\n";
  INFO(all);
  auto has = [&](const std::string& s) { return all.find(s) != std::string::npos; };
  CHECK(has("request batch [select name from t\n] "));
  CHECK(has("response rows=3 error=[]"));
  CHECK(has("request batch [update t set x = 1\n] "));
  CHECK(has("response rows=2 error=[]"));
  CHECK(has("response rows=-1 error=[boom from the test server]"));
  CHECK(has("loginack"));
  CHECK_FALSE(has("malformed"));
  for (std::size_t step : {1, 2, 3, 7, 8, 9, 64, 511}) {
    INFO("split every " << step << " bytes");
    CHECK(tds_test::decode(reads, step) == whole);
  }
  // Two directions concatenated per side into single buffers (messages back to back).
  std::string c2s, s2c;
  for (const auto& [client, bytes] : reads) (client ? c2s : s2c) += bytes;
  const auto joined = tds_test::decode({{true, c2s}, {false, s2c}});
  CHECK(joined.size() == whole.size());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
