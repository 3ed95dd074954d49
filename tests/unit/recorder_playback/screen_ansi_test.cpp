// TerminalScreen::toAnsi (the player's snapshot), the keyframed playback index built from real
// AsciicastWriter files (whole, growing, truncated, corrupt) and ShownLines' bounds.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "recorder/asciicast_writer.hpp"
#include "recorder/playback_index.hpp"
#include "recorder/shown_lines.hpp"
#include "recorder/terminal_screen.hpp"

using namespace vigil::recorder;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& h, const std::string& n) { return h.find(n) != std::string::npos; }

std::string tempPath(const std::string& name) {
  static const std::string dir = [] {
    auto d = fs::temp_directory_path() / ("vigil-playback-" + std::to_string(getpid()) + "-" +
                                          std::to_string(std::random_device{}() % 100000));
    fs::create_directories(d);
    return d.string();
  }();
  return dir + "/" + name;
}

/// Writes a recording with output events at the given times (ms).
std::string writeCast(const std::string& name, const std::vector<std::pair<int, std::string>>& out, int cols = 80,
                      int rows = 24) {
  const std::string path = tempPath(name);
  AsciicastOptions o;
  o.width = static_cast<unsigned>(cols);
  o.height = static_cast<unsigned>(rows);
  std::error_code ec;
  auto w = AsciicastWriter::create(path, o, ec);
  REQUIRE(w);
  for (auto& [ms, data] : out) REQUIRE(w->appendAt(EventType::Output, data, std::chrono::milliseconds(ms)));
  REQUIRE(!w->close());
  return path;
}

/// Cell-by-cell equality of two screens, through their text and their ANSI form.
void sameScreen(const TerminalScreen& a, const TerminalScreen& b) {
  CHECK(a.text() == b.text());
  CHECK(a.cursor() == b.cursor());
  CHECK(a.toAnsi() == b.toAnsi());
}

}  // namespace

TEST_CASE("a screen painted from its ANSI snapshot is the same screen, colours, attributes and cursor included",
          "[unit][recorder][ansi]") {
  TerminalScreen s(40, 10);
  s.feed("plain line\r\n\x1b[1;31mbold red\x1b[0m and \x1b[4;44munderlined on blue\x1b[0m\r\n");
  s.feed("\x1b[38;5;208morange256\x1b[0m \x1b[38;2;10;20;30mtruecolor\x1b[0m \x1b[7mreverse\x1b[0m\r\n");
  s.feed("wide: \xe4\xbd\xa0\xe5\xa5\xbd end\r\nprompt$ ");
  const std::string ansi = s.toAnsi();
  CHECK(ansi.rfind("\x1b[0m\x1b[H\x1b[2J", 0) == 0);
  CHECK(contains(ansi, "\x1b[0;1;31mbold red"));
  CHECK(contains(ansi, "38;5;208"));
  CHECK(contains(ansi, "38;2;10;20;30"));
  CHECK(contains(ansi, "\xe4\xbd\xa0\xe5\xa5\xbd"));
  CHECK(contains(ansi, "\x1b[5;9H"));  // the cursor after "prompt$ "
  TerminalScreen copy(40, 10);
  copy.feed(ansi);
  sameScreen(s, copy);
  CHECK(contains(copy.text(), "wide: \xe4\xbd\xa0\xe5\xa5\xbd end"));
}

TEST_CASE("the snapshot hides the cursor when the program hid it and keeps a full last row without scrolling",
          "[unit][recorder][ansi]") {
  TerminalScreen s(10, 3);
  s.feed("\x1b[?25l\x1b[3;1H0123456789\x1b[1;1Htop");
  CHECK(!s.cursorVisible());
  const std::string ansi = s.toAnsi();
  CHECK(contains(ansi, "\x1b[?25l"));
  TerminalScreen copy(10, 3);
  copy.feed(ansi);
  sameScreen(s, copy);
  CHECK(copy.text() == "top\n\n0123456789\n");
}

TEST_CASE("an empty screen paints as a clear screen with the cursor home", "[unit][recorder][ansi]") {
  TerminalScreen s(80, 24);
  CHECK(s.toAnsi() == "\x1b[0m\x1b[H\x1b[2J\x1b[1;1H\x1b[?25h");
}

TEST_CASE("the playback snapshot at t shows what the terminal showed at t, from the nearest keyframe",
          "[unit][recorder][playback]") {
  // 3 minutes of output, one line every 2 s: several keyframes (every 20 s).
  std::vector<std::pair<int, std::string>> out;
  for (int i = 0; i < 90; ++i) out.emplace_back(i * 2000, "line-" + std::to_string(i) + "\r\n");
  const auto path = writeCast("long.cast.zst", out);
  auto idx = buildPlaybackIndex(path);
  REQUIRE(!idx->unreadable);
  CHECK(idx->corrupt.empty());
  CHECK(!idx->partial_tail);
  CHECK(idx->events.size() == 90);
  CHECK(idx->duration_ms == 178000);
  CHECK(idx->keyframes.size() >= 8);
  for (std::int64_t at : {0LL, 1000LL, 41000LL, 100001LL, 179000LL}) {
    auto chunk = playbackChunk(*idx, at, at + 10000);
    // Reference: replay from the start.
    TerminalScreen ref(80, 24);
    for (auto& [ms, data] : out)
      if (ms < at) ref.feed(data);
    TerminalScreen got(80, 24);
    got.feed(chunk.snapshot);
    INFO("at " << at);
    CHECK(got.text() == ref.text());
    for (auto* e : chunk.events) CHECK((e->t_ms >= at && e->t_ms < at + 10000));
  }
  auto c = playbackChunk(*idx, 41000, 47000);
  REQUIRE(c.events.size() == 3);
  CHECK(c.events[0]->data == "line-21\r\n");
  CHECK(c.more);
  CHECK(!playbackChunk(*idx, 170000, 200000).more);
}

TEST_CASE("a truncated recording plays up to the cut and says where; garbage instead of zstd is unreadable",
          "[unit][recorder][playback]") {
  std::vector<std::pair<int, std::string>> out;
  for (int i = 0; i < 2000; ++i) out.emplace_back(i * 50, "some output line number " + std::to_string(i) + "\r\n");
  const auto path = writeCast("cut.cast.zst", out);
  const auto size = fs::file_size(path);
  fs::resize_file(path, size * 2 / 3);
  auto idx = buildPlaybackIndex(path);
  CHECK(!idx->unreadable);
  CHECK(idx->events.size() > 10);
  CHECK(idx->events.size() < 2000);
  CHECK((idx->partial_tail || !idx->corrupt.empty()));

  // Corrupt the middle: decoding stops there, what came before still plays.
  const auto path2 = writeCast("corrupt.cast.zst", out);
  {
    std::fstream f(path2, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path2) / 2));
    std::string junk(64, '\xff');
    f.write(junk.data(), 64);
  }
  auto idx2 = buildPlaybackIndex(path2);
  CHECK(!idx2->unreadable);
  CHECK(idx2->events.size() < 2000);
  CHECK((!idx2->corrupt.empty() || idx2->partial_tail));

  const auto junk = tempPath("junk.cast.zst");
  std::ofstream(junk) << "this is not a recording";
  auto idx3 = buildPlaybackIndex(junk);
  CHECK(idx3->unreadable);
  CHECK(!idx3->corrupt.empty());
}

TEST_CASE("a growing recording is re-indexed from its last keyframe and the cache serves an unchanged file",
          "[unit][recorder][playback]") {
  std::vector<std::pair<int, std::string>> out;
  for (int i = 0; i < 60; ++i) out.emplace_back(i * 1000, "a" + std::to_string(i) + "\r\n");
  const auto path = writeCast("grow.cast.zst", out);
  PlaybackCache cache(2);
  auto a = cache.get(path, std::chrono::milliseconds(0));
  auto b = cache.get(path, std::chrono::milliseconds(0));
  CHECK(a.get() == b.get());  // unchanged file: the same index
  auto bigger = buildPlaybackIndex(path, a.get());
  CHECK(bigger->keyframes.size() == a->keyframes.size());
  CHECK(bigger->keyframes.back().ansi == a->keyframes.back().ansi);
}

TEST_CASE("idle gaps are the pauses longer than the threshold", "[unit][recorder][playback]") {
  const auto path = writeCast("idle.cast.zst", {{0, "a"}, {1000, "b"}, {31000, "c"}, {32000, "d"}});
  auto idx = buildPlaybackIndex(path);
  auto gaps = idx->idleGaps(3000);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0] == std::make_pair<std::int64_t, std::int64_t>(1000, 31000));
}

TEST_CASE("shown lines are deduplicated, batched per second and rate limited", "[unit][recorder][shown]") {
  ShownLines s;
  s.line("hello", 0.1);
  s.line("hello", 0.2);
  s.line("   ", 0.2);
  s.line("world", 0.3);
  CHECK(s.take(0.5).empty());  // the batch is younger than a second
  auto b = s.take(1.2);
  REQUIRE(b.size() == 1);
  CHECK(b[0].text == "hello\nworld");
  CHECK(b[0].lines == 2);
  // A flood in one second: the burst passes, the rest is counted as dropped.
  ShownLines f;
  for (int i = 0; i < 5000; ++i) f.line("flood line " + std::to_string(i), 10.0);
  auto fb = f.take(11.0, true);
  std::size_t lines = 0, bytes = 0;
  int dropped = 0;
  for (auto& x : fb) lines += x.lines, bytes += x.text.size(), dropped += x.dropped;
  CHECK(lines <= static_cast<std::size_t>(ShownLines::kBurstLines));
  CHECK(dropped == 5000 - static_cast<int>(lines));
  for (auto& x : fb) CHECK(x.text.size() <= ShownLines::kMaxBatchBytes);
  CHECK(f.droppedTotal() == static_cast<std::uint64_t>(dropped));
}
