#include "recorder/asciicast_reader.hpp"
#include "recorder/asciicast_writer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fcntl.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace vigil::recorder;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-asciicast-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { if (!std::getenv("KEEP")) fs::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::unique_ptr<AsciicastWriter> makeWriter(const std::string& path, AsciicastOptions o = {}) {
  std::error_code ec;
  auto w = AsciicastWriter::create(path, std::move(o), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(w);
  return w;
}

AsciicastRecording readOk(const std::string& path) {
  std::error_code ec;
  auto rec = readAsciicastFile(path, ec);
  REQUIRE_FALSE(ec);
  return rec;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void spit(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string encode(std::string_view bytes) {
  std::string out, carry;
  appendJsonUtf8(out, bytes, carry, true);
  return out;
}

}  // namespace

TEST_CASE("a recording round-trips header, events, kinds and times", "[recorder][asciicast]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  AsciicastOptions o;
  o.width = 132;
  o.height = 43;
  o.term = "xterm";
  o.title = "root@db1";
  auto w = makeWriter(path, o);
  const auto before = std::time(nullptr);
  REQUIRE(w->appendOutput("$ "));
  REQUIRE(w->appendInput("ls\r"));
  REQUIRE(w->appendOutput("ls\r\nfile \"a\"\tb\\c\r\n"));
  REQUIRE(w->appendResize(100, 30));
  REQUIRE(w->appendAt(EventType::Output, "later", 5'000'123us));
  REQUIRE_FALSE(w->close());
  CHECK(w->eventsWritten() == 5);
  CHECK(w->bytesWritten() == fs::file_size(path));
  CHECK_FALSE(w->appendOutput("after close"));

  const auto rec = readOk(path);
  CHECK_FALSE(rec.truncated);
  CHECK(rec.header["version"] == 2);
  CHECK(rec.header["width"] == 132);
  CHECK(rec.header["height"] == 43);
  CHECK(rec.header["env"]["TERM"] == "xterm");
  CHECK(rec.header["title"] == "root@db1");
  CHECK(rec.header["timestamp"].get<long long>() >= before - 5);
  CHECK(rec.header["timestamp"].get<long long>() <= before + 5);
  REQUIRE(rec.events.size() == 5);
  CHECK(rec.events[0].type == 'o');
  CHECK(rec.events[0].data == "$ ");
  CHECK(rec.events[1].type == 'i');
  CHECK(rec.events[1].data == "ls\r");
  CHECK(rec.events[2].data == "ls\r\nfile \"a\"\tb\\c\r\n");
  CHECK(rec.events[3].type == 'r');
  CHECK(rec.events[3].data == "100x30");
  CHECK(rec.events[4].time == Approx(5.000123).margin(1e-7));
  for (std::size_t i = 1; i < rec.events.size(); ++i)
    CHECK(rec.events[i].time >= rec.events[i - 1].time);
}

TEST_CASE("the file is created 0600 and never overwritten", "[recorder][asciicast]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  auto w = makeWriter(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  std::error_code ec;
  CHECK(AsciicastWriter::create(path, {}, ec) == nullptr);
  CHECK(ec == std::errc::file_exists);
  REQUIRE_FALSE(w->close());
  CHECK(readOk(path).events.empty());
}

TEST_CASE("invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart", "[recorder][asciicast]") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(encode("a\xC3\xA9z") == "a\xC3\xA9z");                 // é kept
  CHECK(encode("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");     // 4-byte kept
  CHECK(encode("\x80") == r);                                  // lone continuation
  CHECK(encode("\xC0\xAF") == r + r);                          // overlong lead
  CHECK(encode("\xE2\x82x") == r + "x");                       // cut-short sequence
  CHECK(encode("\xED\xA0\x80") == r + r + r);                  // surrogate
  CHECK(encode("\xF4\x90\x80\x80") == r + r + r + r);          // above U+10FFFF
  CHECK(encode("\xFF\xFE") == r + r);
  CHECK(encode("\x1b[0m\x7f\x01") == "\\u001b[0m\x7f\\u0001");

  SECTION("a character split across two chunks is kept whole") {
    std::string out, carry;
    appendJsonUtf8(out, "x\xE2\x82", carry, false);
    CHECK(out == "x");
    appendJsonUtf8(out, "\xAC!", carry, false);
    CHECK(out == "x\xE2\x82\xAC!");
    CHECK(carry.empty());
  }
}

TEST_CASE("all byte values and random bytes round-trip as valid JSON", "[recorder][asciicast]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::mt19937 rng(42);
  std::vector<std::string> chunks{all};
  for (int i = 0; i < 200; ++i) {
    std::string c(rng() % 64, '\0');
    for (auto& ch : c) ch = static_cast<char>(rng());
    chunks.push_back(c);
  }
  auto w = makeWriter(path);
  for (const auto& c : chunks) REQUIRE(w->appendOutput(c));
  REQUIRE(w->appendInput(std::string_view("\xFF\x00\xC3", 3)));  // input ends mid-character: flushed on close
  REQUIRE_FALSE(w->close());

  const auto rec = readOk(path);
  REQUIRE(rec.events.size() >= chunks.size());
  std::string printable;
  for (int b = 0x20; b < 0x7F; ++b) printable += static_cast<char>(b);
  CHECK(rec.events[0].data.find(printable) != std::string::npos);
  for (const auto& e : rec.events) {
    // nlohmann rejects invalid UTF-8 when dumping with the strict handler.
    CHECK_NOTHROW(nlohmann::json(e.data).dump());
  }
  std::string input;
  for (const auto& e : rec.events)
    if (e.type == 'i') input += e.data;
  CHECK(input == std::string("\xEF\xBF\xBD\0\xEF\xBF\xBD", 7));
}

TEST_CASE("a file cut anywhere in its last frame keeps the earlier events", "[recorder][asciicast]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  AsciicastOptions o;
  o.flush_interval = 0ms;  // every drain is a flush...
  o.frame_interval = 0ms;  // ...and ends a frame
  std::promise<void> queued;
  auto gate = queued.get_future().share();
  o.before_drain = [gate] { gate.wait(); };  // so the 20 events form one frame
  auto w = makeWriter(path, o);
  const auto header_bytes = w->bytesWritten();
  for (int i = 0; i < 20; ++i)
    REQUIRE(w->appendAt(EventType::Output, "early " + std::to_string(i), std::chrono::microseconds(i)));
  queued.set_value();
  while (w->bytesWritten() == header_bytes) std::this_thread::sleep_for(1ms);
  const auto complete = fs::file_size(path);
  std::string late;
  for (int i = 0; i < 300; ++i) late += "late output line " + std::to_string(i) + "\r\n";
  REQUIRE(w->appendAt(EventType::Output, late, 1s));
  REQUIRE_FALSE(w->close());
  const std::string whole = slurp(path);
  REQUIRE(whole.size() > complete);
  CHECK(readOk(path).events.size() == 21);

  const auto cut = dir.file("cut.cast.zst");
  for (std::size_t len = complete; len < whole.size(); ++len) {
    spit(cut, std::string_view(whole).substr(0, len));
    std::error_code ec;
    const auto rec = readAsciicastFile(cut, ec);
    INFO("cut at " << len << " of " << whole.size());
    REQUIRE_FALSE(ec);
    REQUIRE(rec.events.size() == 20);
    CHECK(rec.events[19].data == "early 19");
    CHECK(rec.truncated == (len != complete));
  }
}

TEST_CASE("a killed writer leaves a playable file losing at most about a second",
          "[recorder][asciicast][slow]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    AsciicastOptions o;
    o.flush_interval = 500ms;
    std::error_code ec;
    auto w = AsciicastWriter::create(path, o, ec);
    if (!w) ::_exit(2);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; std::chrono::steady_clock::now() - start < 2500ms; ++i) {
      w->appendOutput("tick " + std::to_string(i) + "\r\n");
      std::this_thread::sleep_for(10ms);
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));

  const auto rec = readOk(path);
  REQUIRE_FALSE(rec.events.empty());
  CHECK(rec.events.back().time >= 1.4);  // everything older than ~1 s survived
  for (std::size_t i = 0; i < rec.events.size(); ++i)
    CHECK(rec.events[i].data == "tick " + std::to_string(i) + "\r\n");
}

namespace {

// Replays a minute of a typical admin session (prompt, typed and echoed commands, their output),
// pausing after each simulated second until the writer has flushed, so flushes and frame ends
// fall as they would live with flush_interval = 1 s (scaled to 1 ms here).
std::size_t replayAdminSession(AsciicastWriter& w) {
  std::mt19937 rng(7);
  const char* services[] = {"nginx", "postgresql", "sshd", "cron"};
  std::size_t raw = 0, appended = 0;
  std::chrono::microseconds t{0}, next_second{1s};
  auto event = [&](EventType type, std::chrono::microseconds at, const std::string& s) {
    while (at >= next_second) {  // let the writer catch up and flush, as a second passes
      while (w.eventsWritten() < appended) std::this_thread::sleep_for(100us);
      std::this_thread::sleep_for(3ms);
      next_second += 1s;
    }
    if (type == EventType::Output) raw += s.size();
    REQUIRE(w.appendAt(type, s, at));
    ++appended;
  };
  for (int n = 0; t < 60s; ++n) {
    event(EventType::Output, t, "\x1b[01;32mroot@web1\x1b[00m:\x1b[01;34m/var/log\x1b[00m# ");
    std::string cmd, result;
    switch (n % 4) {
      case 0:
        cmd = "ls -la";
        for (int i = 0; i < 40; ++i)
          result += "-rw-r----- 1 root adm  " + std::to_string(10000 + rng() % 90000) +
                    " Nov 25 0" + std::to_string(rng() % 10) + ":1" + std::to_string(rng() % 10) +
                    " syslog." + std::to_string(i) + ".gz\r\n";
        break;
      case 1: {
        const std::string s = services[rng() % 4];
        cmd = "systemctl status " + s;
        result = "\x1b[0;1;32m\xE2\x97\x8F\x1b[0m " + s + ".service - " + s + " server\r\n" +
                 "     Loaded: loaded (/lib/systemd/system/" + s + ".service; enabled)\r\n" +
                 "     Active: \x1b[0;1;32mactive (running)\x1b[0m since Tue 2026-11-24 08:1" +
                 std::to_string(rng() % 10) + ":02 UTC; 1 day ago\r\n" +
                 "   Main PID: " + std::to_string(1000 + rng() % 9000) + " (" + s + ")\r\n" +
                 "      Tasks: " + std::to_string(rng() % 20) + " (limit: 4615)\r\n" +
                 "     Memory: " + std::to_string(rng() % 90) + ".2M\r\n";
        for (int i = 0; i < 10; ++i)
          result += "Nov 25 10:" + std::to_string(10 + rng() % 50) + ":0" +
                    std::to_string(rng() % 10) + " web1 " + s + "[" + std::to_string(1000 + rng() % 9000) +
                    "]: worker process " + std::to_string(rng() % 100) + " started\r\n";
        break;
      }
      case 2:
        cmd = "tail -n 50 /var/log/nginx/access.log";
        for (int i = 0; i < 50; ++i)
          result += "10.0." + std::to_string(rng() % 255) + "." + std::to_string(rng() % 255) +
                    " - - [25/Nov/2026:10:" + std::to_string(10 + rng() % 50) +
                    ":00 +0000] \"GET /api/v1/items/" + std::to_string(rng() % 5000) +
                    " HTTP/1.1\" 200 " + std::to_string(rng() % 4000) +
                    " \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\r\n";
        break;
      default:
        cmd = "df -h";
        result = "Filesystem      Size  Used Avail Use% Mounted on\r\n/dev/sda1        40G   " +
                 std::to_string(10 + rng() % 20) + "G   " + std::to_string(5 + rng() % 10) +
                 "G  61% /\r\ntmpfs           2.0G     0  2.0G   0% /dev/shm\r\n";
    }
    for (char c : cmd + "\r") {  // typed at about 8 keys a second, echoed
      t += std::chrono::microseconds(80000 + rng() % 100000);
      event(EventType::Input, t, std::string(1, c));
      event(EventType::Output, t + 2ms, c == '\r' ? std::string("\r\n") : std::string(1, c));
    }
    t += 30ms;
    event(EventType::Output, t, result);
    t += std::chrono::microseconds(2'000'000 + rng() % 2'000'000);  // reading the output
  }
  return raw;
}

}  // namespace

TEST_CASE("a scripted admin minute compresses to under a third of its output", "[recorder][asciicast]") {
  TempDir dir;
  AsciicastOptions o;
  o.flush_interval = 1ms;  // one simulated second
  o.frame_interval = 10ms;
  auto w = makeWriter(dir.file("s.cast.zst"), o);
  const std::size_t raw = replayAdminSession(*w);
  REQUIRE_FALSE(w->close());
  const auto compressed = fs::file_size(dir.file("s.cast.zst"));

  o.frame_interval = 0ms;  // for comparison: a zstd frame at every flush
  auto framed = makeWriter(dir.file("f.cast.zst"), o);
  replayAdminSession(*framed);
  REQUIRE_FALSE(framed->close());
  const auto every_flush = fs::file_size(dir.file("f.cast.zst"));

  WARN("admin minute: " << raw << " bytes of output, " << w->eventsWritten() << " events; "
                        << compressed << " bytes at rest (" << double(raw) / double(compressed)
                        << "x), " << every_flush << " bytes with a frame per flush");
  CHECK(raw > 15000);
  // The 5 KB target depends on how repetitive the output is; this replay's random addresses and
  // sizes are harsher than real logs, so the bound is the ratio (see the WARN line for figures).
  CHECK(compressed < raw / 3);
  CHECK(readOk(dir.file("s.cast.zst")).events.size() == w->eventsWritten());
}

TEST_CASE("a full queue refuses appends instead of growing", "[recorder][asciicast]") {
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  AsciicastOptions o;
  o.queue_budget = 4096;
  o.before_drain = [&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return release; });
  };
  auto w = makeWriter(path, o);
  const std::string chunk(500, 'x');
  int accepted = 0;
  while (w->appendOutput(chunk)) REQUIRE(++accepted < 100);
  CHECK(accepted >= 4);
  CHECK(accepted <= 8);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  while (w->eventsWritten() < static_cast<unsigned>(accepted)) std::this_thread::sleep_for(1ms);
  CHECK(w->appendOutput(chunk));  // room again once the writer caught up
  REQUIRE_FALSE(w->close());
  CHECK(readOk(path).events.size() == static_cast<std::size_t>(accepted) + 1);
}

TEST_CASE("a write error is reported and stops further appends", "[recorder][asciicast]") {
  if (!fs::exists("/dev/full")) return;
  // /dev/full cannot be created with O_EXCL, so record into a file and swap its descriptor
  // for /dev/full through the test seam.
  TempDir dir;
  const auto path = dir.file("s.cast.zst");
  std::error_code reported;
  std::atomic<bool> swapped{false};
  AsciicastOptions o;
  o.flush_interval = 0ms;
  o.on_error = [&](std::error_code ec) { reported = ec; };
  o.before_drain = [&] {
    if (swapped.exchange(true)) return;
    // The writer's descriptor is the newest open file; point it at /dev/full.
    const int full = ::open("/dev/full", O_WRONLY);
    for (int fd = 3; fd < 1024; ++fd) {
      char link[64];
      std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      std::error_code ec;
      if (fs::read_symlink(link, ec).string() == path) ::dup2(full, fd);
    }
    ::close(full);
  };
  auto w = makeWriter(path, o);
  REQUIRE(w->appendOutput("doomed"));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!w->error() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(w->error() == std::errc::no_space_on_device);
  CHECK_FALSE(w->appendOutput("more"));
  CHECK(w->close() == std::errc::no_space_on_device);
  CHECK(reported == std::errc::no_space_on_device);
}
