#include "server/services/live_image_feed.hpp"

#include <cstring>

#include "recorder/jpeg_image.hpp"
#include "server/services/session_log.hpp"

namespace vigil::services {

LiveImageFeed::LiveImageFeed(std::shared_ptr<LiveSession> live, std::chrono::milliseconds interval, int quality)
    : live_(std::move(live)), interval_(interval), quality_(quality), worker_([this] { run(); }) {}

LiveImageFeed::~LiveImageFeed() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void LiveImageFeed::offer(const std::uint8_t* bgrx, int width, int height, int stride) {
  if (!live_->wantsImages() || !bgrx || width <= 0 || height <= 0 || stride < width * 4) return;
  {
    std::lock_guard lk(mu_);
    const std::size_t row = static_cast<std::size_t>(width) * 4;
    frame_.resize(row * static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y)
      std::memcpy(frame_.data() + row * static_cast<std::size_t>(y), bgrx + static_cast<std::size_t>(stride) * y, row);
    width_ = width, height_ = height;
    pending_ = true;
  }
  cv_.notify_all();
}

void LiveImageFeed::run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next = Clock::now();
  std::vector<std::uint8_t> work;
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || pending_; });
    if (stop_) return;
    // At most one picture per interval: later offers replace the waiting frame.
    if (cv_.wait_until(lk, next, [&] { return stop_; })) return;
    work.swap(frame_);
    const int w = width_, h = height_;
    pending_ = false;
    lk.unlock();
    std::string error;
    std::string jpeg = recorder::encodeJpeg(work.data(), w, h, w * 4, quality_, error);
    if (jpeg.empty()) sessionLog()->warn("session={} live picture not encoded: {}", live_->info().id, error);
    else live_->publishImage(std::move(jpeg), w, h);
    next = Clock::now() + interval_;
    lk.lock();
  }
}

}  // namespace vigil::services
