// Recording throughput: the same terminal output through AsciicastWriter plain, sealed (hash
// chain + sidecar index) and sealed + encrypted (AES-256-GCM per chunk), median of N runs, as
// megabytes of terminal output per CPU second of the whole process (encoder thread included).
//   bench_recording [megabytes=64] [runs=5] [dir=/tmp]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "recorder/asciicast_writer.hpp"
#include "recorder/recording_chain.hpp"
#include "recorder/recording_cipher.hpp"
#include "server/crypto/random.hpp"

using namespace vigil;
namespace fs = std::filesystem;

namespace {

// Output shaped like a busy terminal: log lines with varying numbers, some colour escapes.
std::vector<std::string> makeOutput(std::size_t total) {
  std::mt19937 rng(42);
  std::vector<std::string> out;
  std::size_t n = 0;
  while (n < total) {
    std::string chunk;
    for (int i = 0; i < 40; ++i) {
      chunk += "\x1b[32m2026-11-26 05:" + std::to_string(rng() % 60) + ":" + std::to_string(rng() % 60) +
               "\x1b[0m kernel: [" + std::to_string(rng()) + "] eth0: rx " + std::to_string(rng() % 100000) +
               " packets, tx " + std::to_string(rng() % 100000) + " bytes\r\n";
    }
    n += chunk.size();
    out.push_back(std::move(chunk));
  }
  return out;
}

struct Result {
  double seconds;  // process CPU time (producer + writer thread): steady on a loaded machine
  std::uint64_t bytes;
};

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Result runOnce(const std::vector<std::string>& output, const std::string& file, int mode) {
  fs::remove(file);
  fs::remove(file + ".chunks");
  recorder::AsciicastOptions o;
  o.flush_interval = std::chrono::milliseconds(100);  // ten chunks a second: more sealing work than the default 1 s
  std::shared_ptr<recorder::ChunkChain> chain;
  std::shared_ptr<recorder::ChunkCipher> cipher;
  std::error_code ec;
  if (mode >= 1) {
    chain = recorder::ChunkChain::create(file, ec);
    o.chunk_written = [chain](std::uint64_t off, std::string_view b) { return chain->add(off, b); };
  }
  if (mode == 2) {
    cipher = std::make_shared<recorder::ChunkCipher>(crypto::randomSecureBytes(32),
                                                     recorder::WrappedDataKey{"bench", "k", "w", "s"});
    o.seal_chunk = [cipher](std::string& c) { cipher->seal(c); };
  }
  const double t0 = cpuSeconds();
  auto w = recorder::AsciicastWriter::create(file, std::move(o), ec);
  if (!w) {
    std::fprintf(stderr, "cannot create %s\n", file.c_str());
    std::exit(1);
  }
  for (const auto& s : output)
    while (!w->appendOutput(s)) w->waitForRoom(s.size(), std::chrono::seconds(5));
  w->close();
  const double secs = cpuSeconds() - t0;
  return {secs, w->bytesWritten()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string dir = argc > 3 ? argv[3] : "/tmp";
  const auto output = makeOutput(mb << 20);
  std::size_t input = 0;
  for (auto& s : output) input += s.size();
  const std::string file = dir + "/vigil-bench-recording-" + std::to_string(getpid()) + ".cast.zst";
  const char* names[] = {"plain", "sealed", "sealed+encrypted"};
  double base = 0;
  std::printf("%-18s %12s %12s %10s\n", "mode", "MB/CPU-s", "file bytes", "vs plain");
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<double> t;
    std::uint64_t bytes = 0;
    for (int i = 0; i < runs; ++i) {
      auto r = runOnce(output, file, mode);
      t.push_back(r.seconds);
      bytes = r.bytes;
    }
    std::sort(t.begin(), t.end());
    const double med = t[t.size() / 2];
    const double mbps = static_cast<double>(input) / (1 << 20) / med;
    if (mode == 0) base = mbps;
    std::printf("%-18s %12.1f %12llu %9.3fx\n", names[mode], mbps, static_cast<unsigned long long>(bytes), mbps / base);
  }
  fs::remove(file);
  fs::remove(file + ".chunks");
  return 0;
}
