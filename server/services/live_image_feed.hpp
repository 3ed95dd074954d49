#pragma once
// Pictures of a graphical session's screen for its SOC watchers: the session's thread offers
// frames (a copy, only while someone watches); a worker thread encodes the latest one as JPEG at
// most every `interval` and publishes it to the LiveSession. The session never waits for the
// encoder, and the last change of a burst is always sent (the worker waits out the interval).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/services/live_registry.hpp"

namespace vigil::services {

class LiveImageFeed {
 public:
  explicit LiveImageFeed(std::shared_ptr<LiveSession> live,
                         std::chrono::milliseconds interval = std::chrono::milliseconds(300), int quality = 60);
  ~LiveImageFeed();  // stops the worker (a frame being encoded is finished and published)
  LiveImageFeed(const LiveImageFeed&) = delete;
  LiveImageFeed& operator=(const LiveImageFeed&) = delete;

  /// The session's thread: the screen changed (BGRX). Copied; ignored while nobody watches.
  void offer(const std::uint8_t* bgrx, int width, int height, int stride);

 private:
  void run();

  std::shared_ptr<LiveSession> live_;
  const std::chrono::milliseconds interval_;
  const int quality_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::uint8_t> frame_;  // the latest offered frame, rows packed (width * 4)
  int width_ = 0, height_ = 0;
  bool pending_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace vigil::services
