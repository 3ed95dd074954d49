// The cost of watching (bench/live/watch_cost.sh runs this hidden case): the throughput of one
// session — `head -c N /dev/zero` through Vigil's SSH listener to the real sshd and back to a
// real `ssh` client — with 0 and with 10 watchers reading the live stream.
#include <future>

#include "live_env.hpp"

using namespace live_test;

namespace {

struct Run {
  double mb_per_s = 0;
  int kept_up = 0;  // watchers that saw every byte (the others were dropped as too slow)
};

/// One transfer of `bytes`, with `watchers` reading it live.
Run transfer(std::size_t bytes, int watchers) {
  auto& w = world();
  const std::string token = w.token();
  auto known = w.activeSessions();
  const std::string out = w.tmp() + "/bench-start.txt";
  // The transfer starts after the pause (watchers join meanwhile); its start time is printed by
  // the target (same machine, same clock) on stderr.
  auto fut = std::async(std::launch::async, [&, token] {
    auto r = runCommand("ssh -p " + S(w.a().server().sshPort()) +
                        " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR " + token +
                        "@127.0.0.1 'sleep 2; date +%s.%N >&2; head -c " + S(static_cast<std::int64_t>(bytes)) +
                        " /dev/zero' 2>" + out + " | wc -c; date +%s.%N");
    return r.output;
  });
  std::vector<std::future<std::size_t>> readers;
  if (watchers > 0) {
    const std::string id = w.newActiveSession(known);
    for (int i = 0; i < watchers; ++i) {
      std::shared_ptr<WsClient> c;
      for (int k = 0; k < 30 && !c; ++k) {  // 409 not_live for a moment while the session registers
        c = std::make_shared<WsClient>(w.a().port());
        if (c->connect("/api/v1/sessions/" + id + "/watch", w.a().admin().cookie())) {
          c.reset();
          std::this_thread::sleep_for(100ms);
        }
      }
      REQUIRE(c);
      readers.push_back(std::async(std::launch::async, [c] {
        std::size_t n = 0;
        for (;;) {
          auto m = c->read(60s);
          if (m.ec) break;
          if (!m.text) n += m.data.size();
        }
        return n;
      }));
    }
  }
  const std::string result = fut.get();
  std::istringstream lines(result);
  std::size_t got = 0;
  double end = 0;
  lines >> got >> end;
  std::string start_text = readFile(out);  // the last line: the target's clock at the start
  while (!start_text.empty() && start_text.back() == '\n') start_text.pop_back();
  const double start = std::stod(start_text.substr(start_text.find_last_of('\n') + 1));
  REQUIRE(got == bytes);
  Run run;
  for (auto& r : readers)
    if (r.get() >= bytes) ++run.kept_up;
  run.mb_per_s = static_cast<double>(bytes) / 1e6 / (end - start);
  return run;
}

}  // namespace

TEST_CASE("bench: session throughput with 0 and with 10 watchers", "[.bench][live]") {
  const std::size_t bytes = 100u * 1000u * 1000u;
  for (int round = 0; round < 3; ++round) {
    const Run zero = transfer(bytes, 0);
    const Run ten = transfer(bytes, 10);
    std::printf("round %d: %zu MB  0 watchers %.1f MB/s  10 watchers %.1f MB/s (%.0f%%), %d of 10 watchers kept up\n",
                round + 1, bytes / 1000000, zero.mb_per_s, ten.mb_per_s, 100.0 * ten.mb_per_s / zero.mb_per_s,
                ten.kept_up);
    std::fflush(stdout);
  }
}
