#pragma once
// The SOC feed behind GET /api/v1/live (WebSocket): one thread per server polls the database
// once a second — active sessions on every node and new alerts — and pushes to each subscribed
// socket what that person may see, only when it changed. Browsers never poll.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/store/store.hpp"
#include "web/websocket.hpp"

namespace vigil::web {

struct ApiDeps;

class LiveFeed {
 public:
  /// One socket's view: everything (soc, superuser) or the sessions of some safes.
  struct Viewer {
    bool all = false;
    std::set<std::int64_t> safes;  // monitor_live
  };
  explicit LiveFeed(store::Store& store);
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  /// Adds a socket; it gets the session list at once, then changes and new alerts.
  void subscribe(std::shared_ptr<WebSocketConnection> conn, Viewer viewer);

 private:
  struct Sub {
    std::weak_ptr<WebSocketConnection> conn;
    Viewer viewer;
    std::string last_items;
    bool sent = false;
  };
  void run();
  void tick();

  store::Store& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Sub>> subs_;
  bool stopping_ = false;
  bool woken_ = false;
  std::int64_t last_alert_ = -1;  // -1: not read yet (only alerts newer than the first look go out)
  std::thread thread_;
};

}  // namespace vigil::web
