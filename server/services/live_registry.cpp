#include "server/services/live_registry.hpp"

#include <algorithm>

namespace vigil::services {

void LiveSession::setScreenSource(std::function<std::string()> snapshot, int cols, int rows) {
  snapshot_ = std::move(snapshot);
  if (cols > 0 && rows > 0) cols_ = cols, rows_ = rows;
}

void LiveSession::publish(std::string_view bytes) {
  if (watchers_.empty() || bytes.empty()) return;
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if ((*it)->deliver(bytes)) {
      ++it;
      continue;
    }
    (*it)->dropped("too slow: the watcher could not keep up and was dropped");
    it = watchers_.erase(it);
  }
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
  std::vector<std::shared_ptr<LiveWatcher>> gone;
  {
    std::lock_guard lk(screen_mu_);
    if (ended_) return;
    ended_ = true;
    snapshot_ = nullptr;
    gone.swap(watchers_);
  }
  for (auto& w : gone) w->dropped("session ended: " + reason);
}

bool LiveSession::addWatcher(const std::shared_ptr<LiveWatcher>& w) {
  std::lock_guard lk(screen_mu_);
  if (ended_) return false;
  w->resized(cols_, rows_);
  if (snapshot_ && !w->deliver(snapshot_())) return false;
  watchers_.push_back(w);
  return true;
}

void LiveSession::removeWatcher(const LiveWatcher* w) {
  std::shared_ptr<LiveWatcher> keep;  // released after the lock: its destructor may do anything
  std::lock_guard lk(screen_mu_);
  auto it = std::find_if(watchers_.begin(), watchers_.end(), [w](auto& x) { return x.get() == w; });
  if (it == watchers_.end()) return;
  keep = *it;
  watchers_.erase(it);
}

std::size_t LiveSession::watcherCount() {
  std::lock_guard lk(screen_mu_);
  return watchers_.size();
}

void LiveSession::setControl(proto::SessionControl* control) {
  std::lock_guard lk(control_mu_);
  control_ = control_closed_ ? nullptr : control;
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
