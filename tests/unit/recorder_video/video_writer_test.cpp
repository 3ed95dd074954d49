// The screen video writer: changed frames with real timestamps into fragmented MP4 that ffprobe
// decodes, with the session's duration; a writer killed without closing leaves a playable file.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "recorder/video_writer.hpp"

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string tempPath(const char* name) {
  char tmpl[] = "/tmp/vigil-video-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  return dir + "/" + name;
}

/// A 640x400 BGRX picture with a moving square (changes every frame).
std::vector<std::uint8_t> picture(int i) {
  std::vector<std::uint8_t> px(640 * 400 * 4, 0x30);
  for (int y = 100; y < 160; ++y)
    for (int x = 10 + i * 8; x < 70 + i * 8 && x < 640; ++x) {
      std::uint8_t* p = &px[(y * 640 + x) * 4];
      p[0] = 0xff, p[1] = 0x80, p[2] = 0x20;
    }
  return px;
}

int frames(const std::string& file) {
  auto out = run("ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 " + file);
  try {
    return std::stoi(out);
  } catch (...) {
    return -1;
  }
}

double duration(const std::string& file) {
  auto out = run("ffprobe -v error -show_entries format=duration -of csv=p=0 " + file);
  try {
    return std::stod(out);
  } catch (...) {
    return -1;
  }
}

}  // namespace

std::string codecOf(const std::string& file) {
  auto out = run("ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 " + file);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST_CASE("changed frames become an MP4 (H.264 or AV1) that lasts as long as the session", "[recorder][video]") {
  const std::string codec = GENERATE(std::string("h264"), std::string("av1"));
  INFO("codec " << codec);
  const std::string file = tempPath("a.mp4");
  vigil::recorder::VideoOptions o;
  o.codec = codec;
  o.crf = vigil::recorder::crfForQuality("standard", codec);
  vigil::recorder::VideoWriter w(file, o);
  for (int i = 0; i < 10; ++i) {
    auto px = picture(i);
    REQUIRE(w.frame(px.data(), 640, 400, 640 * 4, i * 300));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // real time: nothing merges
  }
  CHECK(w.close(6000).empty());
  INFO(run("ffprobe -v error -show_format -show_streams " + file));
  CHECK(codecOf(file) == codec);
  CHECK(frames(file) >= 5);
  CHECK(duration(file) == Approx(6.0).margin(0.5));
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) == std::filesystem::perms::none);
}

TEST_CASE("an unknown codec fails the recording with a clear error", "[recorder][video]") {
  const std::string file = tempPath("x.mp4");
  vigil::recorder::VideoOptions o;
  o.codec = "hevc";
  vigil::recorder::VideoWriter w(file, o);
  auto px = picture(0);
  w.frame(px.data(), 640, 400, 640 * 4, 0);
  CHECK(w.close(100).find("unknown video codec 'hevc'") != std::string::npos);
}

TEST_CASE("quality presets map to each codec's CRF", "[recorder][video]") {
  using vigil::recorder::crfForQuality;
  CHECK(crfForQuality("low") == 34);
  CHECK(crfForQuality("standard") == 30);
  CHECK(crfForQuality("high") == 24);
  CHECK(crfForQuality("high", "av1") == 32);
  CHECK(crfForQuality("nonsense", "av1") == 40);
}

TEST_CASE("frames faster than the cap merge instead of queueing", "[recorder][video]") {
  const std::string file = tempPath("b.mp4");
  vigil::recorder::VideoWriter w(file, {});
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    auto px = picture(i % 60);
    w.frame(px.data(), 640, 400, 640 * 4, i * 5);  // 200 fps offered
  }
  // The session thread never waited for the encoder.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(w.close(1000).empty());
  CHECK(w.framesEncoded() < 100);
  CHECK(frames(file) >= 1);
}

TEST_CASE("a writer killed with SIGKILL leaves a playable file up to its last fragment", "[recorder][video]") {
  const std::string codec = GENERATE(std::string("h264"), std::string("av1"));
  INFO("codec " << codec);
  const std::string file = tempPath("c.mp4");
  pid_t pid = fork();
  if (pid == 0) {
    vigil::recorder::VideoOptions o;
    o.codec = codec;
    o.fragment_interval = std::chrono::milliseconds(500);
    auto* w = new vigil::recorder::VideoWriter(file, o);
    for (int i = 0;; ++i) {
      auto px = picture(i % 60);
      w->frame(px.data(), 640, 400, 640 * 4, i * 200);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  INFO(run("ffprobe -v error -show_format -show_streams " + file));
  CHECK(frames(file) >= 5);
  CHECK(duration(file) > 1.5);
}
