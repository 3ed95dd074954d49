// Graphical sessions' live pictures: a watcher of an RDP session gets JPEG pictures (the latest
// one when it joins), the feed encodes only while someone watches, and the last change of a burst
// is always published (the worker waits out its interval instead of dropping it).
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "recorder/jpeg_image.hpp"
#include "server/services/live_image_feed.hpp"
#include "server/services/live_registry.hpp"

using namespace vigil::services;

namespace {

struct Pictures : LiveWatcher {
  std::mutex mu;
  std::vector<std::string> jpegs;
  int width = 0, height = 0;
  bool deliver(std::string_view) override { return true; }
  void resized(int, int) override {}
  void dropped(const std::string&) override {}
  void deliverImage(std::string_view jpeg, int w, int h) override {
    std::lock_guard lk(mu);
    jpegs.emplace_back(jpeg);
    width = w, height = h;
  }
  std::size_t count() {
    std::lock_guard lk(mu);
    return jpegs.size();
  }
};

std::vector<std::uint8_t> solid(int w, int h, std::uint8_t b, std::uint8_t g, std::uint8_t r) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * 4);
  for (std::size_t i = 0; i < px.size(); i += 4) px[i] = b, px[i + 1] = g, px[i + 2] = r, px[i + 3] = 0;
  return px;
}

bool isJpeg(const std::string& s) {
  return s.size() > 4 && s.substr(0, 3) == std::string("\xff\xd8\xff", 3) && s.substr(s.size() - 2) == "\xff\xd9";
}

LiveInfo graphicalInfo(const std::string& id) {
  LiveInfo i;
  i.id = id;
  i.graphical = true;
  return i;
}

}  // namespace

TEST_CASE("encodeJpeg makes a JPEG from BGRX and refuses a bad size", "[live][jpeg]") {
  auto px = solid(64, 32, 10, 200, 30);
  std::string error;
  const std::string jpeg = vigil::recorder::encodeJpeg(px.data(), 64, 32, 64 * 4, 60, error);
  CHECK(error.empty());
  CHECK(isJpeg(jpeg));
  CHECK(vigil::recorder::encodeJpeg(px.data(), 64, 32, 16, 60, error).empty());  // stride shorter than a row
  CHECK(error == "bad image size");
  CHECK(vigil::recorder::encodeJpeg(nullptr, 0, 0, 0, 60, error).empty());
}

TEST_CASE("a graphical session's watchers get pictures, the latest first when they join", "[live][image]") {
  LiveSession s(graphicalInfo("00000000-0000-0000-0000-00000000000a"));
  CHECK_FALSE(s.wantsImages());
  auto first = std::make_shared<Pictures>();
  REQUIRE(s.addWatcher(first));
  CHECK(s.wantsImages());
  CHECK(s.takeImageRequest());   // a watcher joined: the session sends its screen now
  CHECK_FALSE(s.takeImageRequest());
  s.publishImage("picture-1", 800, 600);
  REQUIRE(first->count() == 1);
  CHECK(first->width == 800);
  auto late = std::make_shared<Pictures>();
  REQUIRE(s.addWatcher(late));
  REQUIRE(late->count() == 1);
  CHECK(late->jpegs[0] == "picture-1");
  s.removeWatcher(first.get());
  s.removeWatcher(late.get());
  CHECK_FALSE(s.wantsImages());
  s.ended("client_closed");
}

TEST_CASE("the picture feed encodes only while watched and always publishes the last change", "[live][image]") {
  auto live = std::make_shared<LiveSession>(graphicalInfo("00000000-0000-0000-0000-00000000000b"));
  const int w = 320, h = 200;
  auto red = solid(w, h, 0, 0, 255), blue = solid(w, h, 255, 0, 0);
  {
    LiveImageFeed feed(live, std::chrono::milliseconds(200));
    feed.offer(red.data(), w, h, w * 4);  // nobody watches: nothing is encoded
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto watcher = std::make_shared<Pictures>();
    REQUIRE(live->addWatcher(watcher));
    CHECK(watcher->count() == 0);
    // A burst of changes inside one interval: at most two pictures (the first, then the latest
    // after the interval), and the last one published is the last change.
    std::string error;
    const std::string blue_jpeg = vigil::recorder::encodeJpeg(blue.data(), w, h, w * 4, 60, error);
    feed.offer(red.data(), w, h, w * 4);
    for (int i = 0; i < 5; ++i) feed.offer(i % 2 ? red.data() : blue.data(), w, h, w * 4);
    feed.offer(blue.data(), w, h, w * 4);
    auto lastIsBlue = [&] {
      std::lock_guard lk(watcher->mu);
      return !watcher->jpegs.empty() && watcher->jpegs.back() == blue_jpeg;
    };
    for (int i = 0; i < 100 && !lastIsBlue(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(lastIsBlue());
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK(watcher->count() >= 1);
    CHECK(watcher->count() <= 2);
    CHECK(watcher->width == w);
    live->removeWatcher(watcher.get());
  }
  live->ended("client_closed");
}
