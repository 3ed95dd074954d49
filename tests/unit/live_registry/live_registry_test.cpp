// LiveSession / LiveRegistry: the snapshot then the stream (nothing twice, nothing lost), a
// watcher that refuses is dropped and the others keep going, and controls after the proxy
// withdrew its control (or after the end) never reach it.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>
#include <thread>

#include "server/services/live_registry.hpp"

using namespace vigil::services;

namespace {

struct Collect : LiveWatcher {
  std::string got;
  std::string why;
  std::size_t limit = SIZE_MAX;
  int cols = 0, rows = 0;
  bool deliver(std::string_view b) override {
    if (got.size() + b.size() > limit) return false;
    got += b;
    return true;
  }
  void resized(int c, int r) override { cols = c, rows = r; }
  void dropped(const std::string& w) override { why = w; }
};

struct Control : vigil::proto::SessionControl {
  std::atomic<int> calls{0};
  std::string last;
  void suspend(const std::string& m) override { ++calls, last = "suspend:" + m; }
  void resume() override { ++calls, last = "resume"; }
  void terminate(const std::string& r) override { ++calls, last = "terminate:" + r; }
};

}  // namespace

TEST_CASE("a joining watcher gets the size and the screen, then only later output", "[live][registry]") {
  auto s = LiveRegistry::instance().add({"s1", "n", 7, "alice", 1});
  std::string screen = "SCREEN";
  {
    auto lk = s->lockScreen();
    s->setScreenSource([&] { return screen; }, 100, 30);
    s->publish("early");  // before anyone watches: in the screen, not re-sent
  }
  auto w = std::make_shared<Collect>();
  REQUIRE(s->addWatcher(w));
  CHECK(w->cols == 100);
  CHECK(w->rows == 30);
  {
    auto lk = s->lockScreen();
    s->publish("-late");
  }
  CHECK(w->got == "SCREEN-late");
  s->ended("target_closed");
  CHECK(w->why == "session ended: target_closed");
  CHECK_FALSE(s->addWatcher(std::make_shared<Collect>()));
  LiveRegistry::instance().remove("s1");
  CHECK(LiveRegistry::instance().find("s1") == nullptr);
}

TEST_CASE("a watcher that cannot take more is dropped; the others still get everything", "[live][registry]") {
  auto s = LiveRegistry::instance().add({"s2", "n", 7, "alice", 1});
  auto slow = std::make_shared<Collect>(), fast = std::make_shared<Collect>();
  slow->limit = 10;
  REQUIRE(s->addWatcher(slow));
  REQUIRE(s->addWatcher(fast));
  {
    auto lk = s->lockScreen();
    for (int i = 0; i < 100; ++i) s->publish("0123456789");
  }
  CHECK(slow->got.size() == 10);
  CHECK(slow->why.rfind("too slow", 0) == 0);
  CHECK(fast->got.size() == 1000);
  CHECK(s->watcherCount() == 1);
  s->ended("client_closed");
  LiveRegistry::instance().remove("s2");
}

TEST_CASE("controls reach the proxy only while it has registered its control", "[live][registry]") {
  auto s = LiveRegistry::instance().add({"s3", "n", 42, "bob", 1});
  Control c;
  CHECK_FALSE(s->suspend("early"));  // no control yet
  s->setControl(&c);
  CHECK(s->suspend("hold"));
  CHECK(c.last == "suspend:hold");
  CHECK(LiveRegistry::instance().terminateUser(42, "locked") == 1);
  CHECK(c.last == "terminate:locked");
  CHECK(LiveRegistry::instance().terminateUser(43, "other user") == 0);
  s->setControl(nullptr);  // the proxy tears down
  const int before = c.calls;
  CHECK_FALSE(s->terminate("late"));
  CHECK(c.calls == before);
  s->setControl(&c);
  s->ended("terminated");
  s->setControl(&c);  // a proxy re-registering after the end is ignored
  CHECK_FALSE(s->resume());
  CHECK(c.calls == before);
  LiveRegistry::instance().remove("s3");
}

TEST_CASE("control calls racing the proxy's withdrawal never use a withdrawn control", "[live][registry]") {
  auto s = LiveRegistry::instance().add({"s4", "n", 1, "x", 1});
  for (int round = 0; round < 200; ++round) {
    auto c = std::make_unique<Control>();
    s->setControl(c.get());
    std::thread t([&] {
      for (int i = 0; i < 50; ++i) s->suspend("x");
    });
    s->setControl(nullptr);
    c.reset();  // freed: a call after setControl(nullptr) would touch freed memory (ASan/valgrind)
    t.join();
  }
  s->ended("error");
  LiveRegistry::instance().remove("s4");
}

namespace {
// Calls arrive on the moderation thread: kept under a lock, waited for with a bound.
struct ModControl : vigil::proto::SessionControl {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> calls;
  void add(std::string c) {
    std::lock_guard lk(mu);
    calls.push_back(std::move(c));
    cv.notify_all();
  }
  void suspend(const std::string& m) override { add("suspend:" + m); }
  void resume() override { add("resume"); }
  void terminate(const std::string& r) override { add("terminate:" + r); }
  /// Waits until `n` calls arrived (5 s at most); returns the n-th ("" on time-out).
  std::string waitCall(std::size_t n) {
    std::unique_lock lk(mu);
    cv.wait_for(lk, std::chrono::seconds(5), [&] { return calls.size() >= n; });
    return calls.size() >= n ? calls[n - 1] : "";
  }
  std::size_t count() {
    std::lock_guard lk(mu);
    return calls.size();
  }
};
}  // namespace

TEST_CASE("a moderated session is held until a moderator watches, held again when they leave, ended without one",
          "[live][registry][moderated]") {
  LiveInfo info{"mod1", "n", 7, "alice", 1};
  info.moderated = true;
  info.moderation_wait_seconds = 1;
  auto s = LiveRegistry::instance().add(info);
  ModControl c;
  s->setControl(&c);
  CHECK(c.waitCall(1).rfind("suspend:waiting for a moderator", 0) == 0);

  // alice watching her own session is no moderator.
  auto self = std::make_shared<Collect>();
  REQUIRE(s->addWatcher(self, 7));
  CHECK(s->moderatorCount() == 0);
  auto soc = std::make_shared<Collect>();
  REQUIRE(s->addWatcher(soc, 9));
  CHECK(s->moderatorCount() == 1);
  CHECK(c.waitCall(2) == "resume");
  // Held for longer than the wait while a moderator watches: nothing happens.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  CHECK(c.count() == 2);

  s->removeWatcher(soc.get());
  CHECK(c.waitCall(3).rfind("suspend:the moderator left", 0) == 0);
  // Nobody comes back within the wait: terminated, with the reason.
  CHECK(c.waitCall(4).rfind("terminate:no moderator watched this session within 1 s", 0) == 0);
  s->ended("terminated");
  LiveRegistry::instance().remove("mod1");
}

TEST_CASE("a moderator dropped as too slow counts as gone; an unmoderated session is never held",
          "[live][registry][moderated]") {
  LiveInfo info{"mod2", "n", 7, "alice", 1};
  info.moderated = true;
  info.moderation_wait_seconds = 30;
  auto s = LiveRegistry::instance().add(info);
  ModControl c;
  auto slow = std::make_shared<Collect>();
  slow->limit = 4;
  REQUIRE(s->addWatcher(slow, 9));  // a moderator before the proxy is ready: never held
  s->setControl(&c);
  {
    auto lk = s->lockScreen();
    s->publish("more than four bytes");
  }
  CHECK(slow->why.rfind("too slow", 0) == 0);
  CHECK(c.waitCall(1).rfind("suspend:the moderator left", 0) == 0);
  s->ended("client_closed");  // ends promptly although the wait has 30 s to go
  CHECK(c.count() == 1);
  LiveRegistry::instance().remove("mod2");

  auto plain = LiveRegistry::instance().add({"mod3", "n", 7, "alice", 1});
  ModControl p;
  plain->setControl(&p);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(p.count() == 0);
  plain->ended("client_closed");
  LiveRegistry::instance().remove("mod3");
}

TEST_CASE("a session with an end time is terminated then, with its reason, moderated or not", "[live][registry][window]") {
  for (bool moderated : {false, true}) {
    LiveInfo info{moderated ? "win2" : "win1", "n", 7, "alice", 1};
    info.moderated = moderated;
    info.ends_at = std::chrono::system_clock::now() + std::chrono::milliseconds(300);
    info.ends_reason = "the approved access window ended";
    auto s = LiveRegistry::instance().add(info);
    ModControl c;
    const auto t0 = std::chrono::steady_clock::now();
    s->setControl(&c);
    const std::size_t expect = moderated ? 2 : 1;  // a moderated one was held first
    CHECK(c.waitCall(expect) == "terminate:the approved access window ended");
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250));
    s->ended("terminated");
    LiveRegistry::instance().remove(info.id);
  }
}
