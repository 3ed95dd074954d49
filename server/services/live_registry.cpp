#include "server/services/live_registry.hpp"

#include <algorithm>

#include "server/services/session_log.hpp"

namespace vigil::services {

void LiveSession::setScreenSource(std::function<std::string()> snapshot, int cols, int rows) {
  snapshot_ = std::move(snapshot);
  if (cols > 0 && rows > 0) cols_ = cols, rows_ = rows;
}

LiveSession::~LiveSession() {
  {
    std::lock_guard lk(mod_mu_);
    mod_done_ = true;
  }
  mod_cv_.notify_all();
  if (mod_thread_.joinable() && mod_thread_.get_id() != std::this_thread::get_id()) mod_thread_.join();
  else if (mod_thread_.joinable()) mod_thread_.detach();
}

void LiveSession::publish(std::string_view bytes) {
  if (watchers_.empty() || bytes.empty()) return;
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if ((*it)->deliver(bytes)) {
      ++it;
      continue;
    }
    (*it)->dropped("too slow: the watcher could not keep up and was dropped");
    if (info_.graphical) image_watchers_.fetch_sub(1);
    auto m = std::find(moderator_watchers_.begin(), moderator_watchers_.end(), it->get());
    if (m != moderator_watchers_.end()) {
      moderator_watchers_.erase(m);
      moderatorsChanged(-1);
    }
    it = watchers_.erase(it);
  }
}

void LiveSession::publishImage(std::string jpeg, int width, int height) {
  std::lock_guard lk(screen_mu_);
  if (ended_ || jpeg.empty()) return;
  image_ = std::move(jpeg);
  image_width_ = width, image_height_ = height;
  for (auto& w : watchers_) w->deliverImage(image_, width, height);
}

void LiveSession::resized(int cols, int rows) {
  if (cols <= 0 || rows <= 0) return;
  cols_ = cols, rows_ = rows;
  for (auto& w : watchers_) w->resized(cols, rows);
}

void LiveSession::ended(const std::string& reason) {
  {
    std::lock_guard lk(control_mu_);
    control_ = nullptr;
    control_closed_ = true;
  }
  {
    std::lock_guard lk(mod_mu_);
    mod_done_ = true;
  }
  mod_cv_.notify_all();
  if (mod_thread_.joinable() && mod_thread_.get_id() != std::this_thread::get_id()) mod_thread_.join();
  std::vector<std::shared_ptr<LiveWatcher>> gone;
  {
    std::lock_guard lk(screen_mu_);
    if (ended_) return;
    ended_ = true;
    snapshot_ = nullptr;
    gone.swap(watchers_);
    image_watchers_ = 0;
    image_.clear();
  }
  for (auto& w : gone) w->dropped("session ended: " + reason);
}

bool LiveSession::addWatcher(const std::shared_ptr<LiveWatcher>& w, std::int64_t watcher_user_id) {
  std::lock_guard lk(screen_mu_);
  if (ended_) return false;
  if (!info_.graphical) w->resized(cols_, rows_);
  if (snapshot_ && !w->deliver(snapshot_())) return false;
  if (info_.graphical) {
    if (!image_.empty()) w->deliverImage(image_, image_width_, image_height_);
    image_watchers_.fetch_add(1);
    image_request_ = true;
  }
  watchers_.push_back(w);
  if (info_.moderated && watcher_user_id != 0 && watcher_user_id != info_.user_id) {
    moderator_watchers_.push_back(w.get());
    moderatorsChanged(+1);
  }
  return true;
}

void LiveSession::removeWatcher(const LiveWatcher* w) {
  std::shared_ptr<LiveWatcher> keep;  // released after the lock: its destructor may do anything
  std::lock_guard lk(screen_mu_);
  auto it = std::find_if(watchers_.begin(), watchers_.end(), [w](auto& x) { return x.get() == w; });
  if (it == watchers_.end()) return;
  keep = *it;
  watchers_.erase(it);
  if (info_.graphical) image_watchers_.fetch_sub(1);
  auto m = std::find(moderator_watchers_.begin(), moderator_watchers_.end(), w);
  if (m != moderator_watchers_.end()) {
    moderator_watchers_.erase(m);
    moderatorsChanged(-1);
  }
}

void LiveSession::moderatorsChanged(int delta) {
  {
    std::lock_guard lk(mod_mu_);
    moderators_ += delta;
    if (delta > 0) mod_ever_ = true;
  }
  mod_cv_.notify_all();
}

int LiveSession::moderatorCount() {
  std::lock_guard lk(mod_mu_);
  return moderators_;
}

void LiveSession::watch() {
  using Clock = std::chrono::steady_clock;
  const int wait = std::max(1, info_.moderation_wait_seconds);
  const std::string limit = " (the session ends after " + std::to_string(wait) + " s without one)";
  // The window end as a steady deadline (immune to clock steps while the session runs).
  const auto ends = info_.ends_at ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                       *info_.ends_at - std::chrono::system_clock::now())
                                  : Clock::time_point::max();
  bool paused = false, had_moderator;
  Clock::time_point deadline = Clock::time_point::max();
  std::unique_lock lk(mod_mu_);
  while (!mod_done_) {
    if (Clock::now() >= ends) {
      lk.unlock();
      sessionLog()->info("session={} {}: terminating", info_.id, info_.ends_reason);
      terminate(info_.ends_reason);
      return;
    }
    had_moderator = mod_ever_;
    if (info_.moderated && moderators_ == 0 && !paused) {
      paused = true;
      deadline = Clock::now() + std::chrono::seconds(wait);
      const std::string msg = had_moderator
                                  ? "the moderator left: your input is held until a moderator watches again" + limit
                                  : "waiting for a moderator: this safe requires a SOC watcher, your input is held "
                                    "until one joins" + limit;
      lk.unlock();
      sessionLog()->info("session={} moderated: {}", info_.id, had_moderator ? "no moderator any more" : "waiting for a moderator");
      suspend(msg);
      lk.lock();
      continue;
    }
    if (info_.moderated && moderators_ > 0 && paused) {
      paused = false;
      deadline = Clock::time_point::max();
      lk.unlock();
      sessionLog()->info("session={} moderated: a moderator watches", info_.id);
      resume();
      lk.lock();
      continue;
    }
    if (paused && Clock::now() >= deadline) {
      lk.unlock();
      sessionLog()->warn("session={} moderated: no moderator within {} s, terminating", info_.id, wait);
      terminate("no moderator watched this session within " + std::to_string(wait) + " s (the safe requires one)");
      return;
    }
    const auto wake = std::min(deadline, ends);
    if (wake == Clock::time_point::max()) mod_cv_.wait(lk);
    else mod_cv_.wait_until(lk, wake);
  }
}

std::size_t LiveSession::watcherCount() {
  std::lock_guard lk(screen_mu_);
  return watchers_.size();
}

void LiveSession::setControl(proto::SessionControl* control) {
  {
    std::lock_guard lk(control_mu_);
    control_ = control_closed_ ? nullptr : control;
    if (!control_) return;
  }
  // A moderated session starts held: the watchdog suspends it until a moderator watches; it also
  // ends the session when its approval window does.
  std::lock_guard lk(mod_mu_);
  if ((info_.moderated || info_.ends_at) && !mod_thread_.joinable() && !mod_done_)
    mod_thread_ = std::thread([this] { watch(); });
}

bool LiveSession::suspend(const std::string& message) {
  std::lock_guard lk(control_mu_);
  if (!control_) return false;
  control_->suspend(message);
  return true;
}

bool LiveSession::resume() {
  std::lock_guard lk(control_mu_);
  if (!control_) return false;
  control_->resume();
  return true;
}

bool LiveSession::terminate(const std::string& reason) {
  std::lock_guard lk(control_mu_);
  if (!control_) return false;
  control_->terminate(reason);
  return true;
}

LiveRegistry& LiveRegistry::instance() {
  static LiveRegistry r;
  return r;
}

std::shared_ptr<LiveSession> LiveRegistry::add(LiveInfo info) {
  auto s = std::make_shared<LiveSession>(info);
  std::lock_guard lk(mu_);
  sessions_[info.id] = s;
  return s;
}

void LiveRegistry::remove(const std::string& id) {
  std::shared_ptr<LiveSession> keep;
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  keep = it->second;
  sessions_.erase(it);
}

std::shared_ptr<LiveSession> LiveRegistry::find(const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<LiveSession>> LiveRegistry::all() {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<LiveSession>> out;
  for (auto& [id, s] : sessions_) out.push_back(s);
  return out;
}

int LiveRegistry::terminateUser(std::int64_t user_id, const std::string& reason) {
  int n = 0;
  for (auto& s : all())
    if (s->info().user_id == user_id && s->terminate(reason)) ++n;
  return n;
}

}  // namespace vigil::services
