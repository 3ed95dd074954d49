// LiveSession / LiveRegistry: the snapshot then the stream (nothing twice, nothing lost), a
// watcher that refuses is dropped and the others keep going, and controls after the proxy
// withdrew its control (or after the end) never reach it.
#include <catch2/catch.hpp>

#include <atomic>
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
