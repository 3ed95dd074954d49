// bench/rdp/run.sh runs these hidden cases ([.bench]); results go to docs/benchmarks.md.
//  1. Frame latency target -> client: xfreerdp straight to the target, then through Vigil, in the
//     same run (rdp_frame_probe paints a square on the target and times it on the client's screen).
//  2. A scripted session per codec (BENCH_CODECS, default "h264 av1"; options after "+": "enc" on
//     a safe that encrypts recordings, "low"/"high" quality, "<N>fps" cap, e.g. "av1+low+2fps")
//     for BENCH_SECONDS (default 60): typing in the target's xterm while a second window opens and moves; vigil's CPU share,
//     RSS growth, the recording's KB/min and the frame latency under that load.
//  3. Concurrent recorded sessions (BENCH_SESSIONS, default "1 2 4"): N xfreerdp clients, each on
//     its own display, through Vigil to the same target under the same workload; vigil's CPU and
//     every client's frame latency.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "rdp_env.hpp"

using namespace rdp_e2e;

namespace {

long rssKb(int pid) {
  std::istringstream in(readFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

double cpuSeconds(int pid) {
  // utime + stime of the process (all threads), in seconds.
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string f;
  std::vector<std::string> v;
  while (in >> f) v.push_back(f);
  if (v.size() < 13) return 0;
  return (std::stod(v[11]) + std::stod(v[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

struct Latency {
  int samples = 0, lost = 0;
  double median = -1, p90 = -1, max = -1;
};

/// Frame latency from the target's display to each client's display (rdp_frame_probe).
std::vector<Latency> probe(World& w, const std::vector<XDisplay*>& clients, int samples) {
  const char* tool = std::getenv("RDP_FRAME_PROBE");
  REQUIRE(tool != nullptr);  // bench/rdp/run.sh sets it
  std::string cmd = std::string(tool) + " --target " + w.targetDisplay().display() + "," + w.targetDisplay().auth() +
                    " --samples " + S(samples) + " --interval-ms 300";
  for (XDisplay* c : clients) cmd += " --client " + c->display() + "," + c->auth();
  auto r = vigil::test::runCommand(cmd);
  INFO(cmd << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
  std::vector<Latency> out;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json j = json::parse(line);
    out.push_back({j["samples"], j["lost"], j["median_ms"], j["p90_ms"], j["max_ms"]});
  }
  REQUIRE(out.size() == clients.size());
  return out;
}

/// The scripted work on the target while it runs: typing a line in the xterm (through the first
/// client) and a second window that opens and moves across a flat part of the screen.
class Workload {
 public:
  explicit Workload(World& w, XDisplay& typist) : typist_(typist) {
    const std::string title = "vigil-bench-" + api_test::randomHex(4);
    window_ = Proc(w.targetDisplay().env() + "xterm -title " + title + " -geometry 40x8+700+420 -e top -d 1",
                   w.tmp() + "/bench-window.log");
    move_ = w.targetDisplay().env() + "xdotool search --sync --limit 1 --name " + title + " windowmove %1 ";
    thread_ = std::thread([this] { run(); });
  }
  ~Workload() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    for (int i = 0; !stop_; ++i) {
      vigil::test::runCommand(move_ + S(620 + (i % 5) * 40) + " " + S(380 + (i % 3) * 40));
      try {
        typeInto(typist_, "echo line " + std::to_string(i) + " of the scripted benchmark; ls /usr/bin | tail -3");
      } catch (...) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }
  XDisplay& typist_;
  Proc window_;
  std::string move_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// An account on a safe recording with `variant`: a codec ("h264", "av1"), then options joined by
/// "+": "enc" for a safe that encrypts recordings at rest, "low"/"high" for the quality preset,
/// "<N>fps" for the frame-rate cap (e.g. "av1+enc", "av1+low+2fps").
std::int64_t benchAccount(World& w, const std::string& variant) {
  std::istringstream parts(variant);
  std::string codec, option;
  std::getline(parts, codec, '+');
  json policy{{"trust_on_first_use", true}, {"video_codec", codec}};
  while (std::getline(parts, option, '+')) {
    if (option == "enc") policy["encrypt_recordings"] = true;
    else if (option == "low" || option == "high") policy["video_quality"] = option;
    else if (option.size() > 3 && option.substr(option.size() - 3) == "fps") policy["video_max_fps"] = std::stoi(option);
    else FAIL("BENCH_CODECS: unknown option '" << option << "' in " << variant);
  }
  auto safe = w.env().admin().post("/api/v1/safes", {{"name", uniq("bench-" + codec)}, {"policy", policy}});
  INFO(safe.body);
  REQUIRE(safe.status == 201);
  w.grant(safe.json()["id"], w.alice.id);
  return w.makeAccount(safe.json()["id"], w.makeTarget(uniq("bench-" + codec), w.targetPort(), ""));
}

}  // namespace

TEST_CASE("benchmark: frame latency target to client, xfreerdp straight to the target and through Vigil",
          "[.bench][rdp]") {
  auto& w = world();
  const int samples = envInt("BENCH_LATENCY_SAMPLES", 40);
  Latency direct, direct_bitmaps, via;
  {
    auto client = w.directXfreerdp("xfreerdp-bench-direct.log");
    std::this_thread::sleep_for(std::chrono::seconds(4));
    REQUIRE(client.alive());
    direct = probe(w, {&w.client()}, samples)[0];
  }
  {
    // The target's pace when it sends bitmap updates, which is what Vigil's target leg asks for.
    auto client = w.directXfreerdp("xfreerdp-bench-direct-bitmaps.log", "");
    std::this_thread::sleep_for(std::chrono::seconds(4));
    REQUIRE(client.alive());
    direct_bitmaps = probe(w, {&w.client()}, samples)[0];
  }
  {
    const std::int64_t account = benchAccount(w, "av1");
    auto l = w.launch(w.alice, account);
    auto client = w.xfreerdp(l["token"], "xfreerdp-bench-latency.log");
    std::this_thread::sleep_for(std::chrono::seconds(4));
    REQUIRE(client.alive());
    via = probe(w, {&w.client()}, samples)[0];
  }
  std::printf("RDP bench latency (%d samples each, median / p90 / lost): direct RemoteFX %.1f / %.1f ms / %d; direct "
              "bitmaps %.1f / %.1f ms / %d; through Vigil %.1f / %.1f ms / %d; Vigil/direct RemoteFX %.2f, Vigil/direct "
              "bitmaps %.2f\n",
              samples, direct.median, direct.p90, direct.lost, direct_bitmaps.median, direct_bitmaps.p90,
              direct_bitmaps.lost, via.median, via.p90, via.lost, direct.median > 0 ? via.median / direct.median : -1.0,
              direct_bitmaps.median > 0 ? via.median / direct_bitmaps.median : -1.0);
  CHECK(direct.samples > 0);
  CHECK(direct_bitmaps.samples > 0);
  CHECK(via.samples > 0);
}

TEST_CASE("benchmark: CPU of vigil, recording size and frame latency for a scripted RDP session", "[.bench][rdp]") {
  auto& w = world();
  const int seconds = envInt("BENCH_SECONDS", 60);
  std::istringstream codecs(getenv("BENCH_CODECS") ? getenv("BENCH_CODECS") : "h264 av1");
  std::string codec;
  while (codecs >> codec) {
    const std::int64_t account = benchAccount(w, codec);
    auto l = w.launch(w.alice, account);
    auto client = w.xfreerdp(l["token"], "xfreerdp-bench-" + codec + ".log");
    std::this_thread::sleep_for(std::chrono::seconds(4));
    REQUIRE(client.alive());
    const int pid = w.env().server().pid();
    const double cpu0 = cpuSeconds(pid);
    const long rss0 = rssKb(pid);
    const auto t0 = std::chrono::steady_clock::now();
    Latency lat;
    {
      Workload work(w, w.client());
      // The probe takes about a third of a second per sample: it paces the run.
      lat = probe(w, {&w.client()}, std::max(5, seconds * 1000 / 340))[0];
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpuSeconds(pid) - cpu0;
    const long rss1 = rssKb(pid);
    client.stop();
    auto s = w.endedSession(account, 1);
    const std::string sid = s["id"];
    auto r = w.env().admin().get("/api/v1/sessions/" + sid + "/recording/file");
    REQUIRE(r.status == 200);
    // On disk (an encrypted recording is larger by its record framing).
    std::error_code ec;
    const auto stored = std::filesystem::file_size(
        w.env().server().dataDir() + "/recordings/" +
            w.env().psql("SELECT recording_path FROM sessions WHERE id = '" + sid + "'"), ec);
    const double minutes = wall / 60.0;
    std::printf("RDP bench %s: %.0f s scripted session, vigil CPU %.1f%% of a core, RSS +%ld MB during the session,"
                " recording %.1f KB/min (%zu bytes, %llu on disk), frame latency median %.1f ms p90 %.1f ms (lost %d)\n",
                codec.c_str(), wall, 100.0 * cpu / wall, (rss1 - rss0) / 1024, r.body.size() / 1024.0 / minutes,
                r.body.size(), ec ? 0ULL : static_cast<unsigned long long>(stored), lat.median, lat.p90, lat.lost);
    CHECK(cpu / wall < 1.0);
  }
}

TEST_CASE("benchmark: concurrent recorded RDP sessions through one Vigil", "[.bench][rdp]") {
  auto& w = world();
  const int samples = envInt("BENCH_CONC_SAMPLES", 40);
  std::istringstream counts(getenv("BENCH_SESSIONS") ? getenv("BENCH_SESSIONS") : "1 2 4");
  int n = 0;
  std::vector<std::unique_ptr<XDisplay>> displays;
  while (counts >> n) {
    if (n < 1 || n > 8) FAIL("BENCH_SESSIONS: 1 to 8 sessions");
    while (static_cast<int>(displays.size()) < n)
      displays.push_back(std::make_unique<XDisplay>(w.tmp(), "bench-client-" + S(static_cast<std::int64_t>(displays.size()))));
    const int pid = w.env().server().pid();
    const long rss0 = rssKb(pid);
    const std::int64_t account = benchAccount(w, "av1");
    std::vector<Proc> clients;
    std::vector<XDisplay*> screens;
    for (int i = 0; i < n; ++i) {
      auto l = w.launch(w.alice, account);
      clients.push_back(w.xfreerdp(l["token"], "xfreerdp-conc-" + S(n) + "-" + S(i) + ".log", displays[i].get()));
      screens.push_back(displays[i].get());
    }
    std::this_thread::sleep_for(std::chrono::seconds(4 + n));
    for (auto& c : clients) REQUIRE(c.alive());
    const double cpu0 = cpuSeconds(pid);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Latency> lat;
    {
      Workload work(w, *displays[0]);
      lat = probe(w, screens, samples);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpuSeconds(pid) - cpu0;
    const long rss1 = rssKb(pid);
    int alive = 0;
    for (auto& c : clients) alive += c.alive() ? 1 : 0;
    for (auto& c : clients) c.stop();
    double worst_median = 0, worst_p90 = 0;
    int lost = 0;
    for (auto& l : lat) {
      worst_median = std::max(worst_median, l.median);
      worst_p90 = std::max(worst_p90, l.p90);
      lost += l.lost;
    }
    // Every session recorded a video.
    std::size_t recorded = 0;
    for (int i = 0; i < 100 && recorded < static_cast<std::size_t>(n); ++i) {
      recorded = 0;
      for (auto& s : w.sessionsOf(account))
        if (!s["ended_at"].is_null() && s.value("recording_bytes", 0) > 0) ++recorded;
      if (recorded < static_cast<std::size_t>(n)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::printf("RDP bench concurrency %d: %d of %d clients connected to the end, %zu recordings; vigil CPU %.1f%% of a "
                "core (%.1f%% per session), RSS +%ld MB; frame latency worst median %.1f ms, worst p90 %.1f ms, "
                "lost %d of %d\n",
                n, alive, n, recorded, 100.0 * cpu / wall, 100.0 * cpu / wall / n, (rss1 - rss0) / 1024, worst_median,
                worst_p90, lost, samples * n);
    CHECK(alive == n);
  }
}

