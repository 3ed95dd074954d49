#pragma once
// The sessions running on this node, for the SOC: who is watching each one, and the live
// control (suspend / resume / terminate) of each. Process-wide (LiveRegistry::instance()).
//
// Threads: a session's own thread publishes its output (under the session's screen lock, which
// also guards the terminal emulator the snapshot is read from, so a joining watcher gets the
// snapshot and then every later byte, none twice); watchers join and leave from web threads;
// controls come from web threads and the cross-node listener. Fan-out never waits for a
// watcher: each delivery is a non-blocking offer, and a watcher that refuses (its bounded
// queue is full) is dropped with a reason.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocols/session.hpp"

namespace vigil::services {

/// One watcher of a live session (a browser). Calls come from the session's thread (deliver,
/// ended) and must never block.
class LiveWatcher {
 public:
  virtual ~LiveWatcher() = default;
  /// Terminal bytes (the snapshot first, then live output). False: cannot take them now (its
  /// bounded queue is full); the watcher is then dropped and told so by dropped().
  virtual bool deliver(std::string_view bytes) = 0;
  /// The terminal size changed (also sent once before the snapshot).
  virtual void resized(int cols, int rows) = 0;
  /// Removed by the session: "too slow" or "session ended: <reason>". Once.
  virtual void dropped(const std::string& why) = 0;
  /// Graphical sessions (RDP): a JPEG picture of the whole screen (the latest first, then a new
  /// one at most a few times a second while the screen changes). A watcher that cannot take one
  /// now skips it; the next one replaces it. Default: ignored.
  virtual void deliverImage(std::string_view jpeg, int width, int height) { (void)jpeg, (void)width, (void)height; }
};

struct LiveInfo {
  std::string id;
  std::string node;
  std::int64_t user_id = 0;
  std::string username;
  std::int64_t safe_id = 0;
  /// Moderated safe: the person's input is held (the session suspended) while no moderator — a
  /// watcher other than the session's own user — watches; after `moderation_wait_seconds` without
  /// one the session is terminated.
  bool moderated = false;
  int moderation_wait_seconds = 300;
  /// The session is terminated at this time with this reason (the end of the approval window of
  /// a dual-authorization safe).
  std::optional<std::chrono::system_clock::time_point> ends_at;
  std::string ends_reason;
  /// A graphical session (RDP): watchers get pictures (publishImage) instead of terminal bytes.
  bool graphical = false;
};

class LiveSession {
 public:
  explicit LiveSession(LiveInfo info) : info_(std::move(info)) {}
  ~LiveSession();
  const LiveInfo& info() const { return info_; }

  // ---- the session's thread
  /// Held by the session while it changes its screen (output, resize, channel open).
  std::unique_lock<std::mutex> lockScreen() { return std::unique_lock(screen_mu_); }
  /// With lockScreen() held: the screen's ANSI snapshot and size (null: no terminal yet).
  void setScreenSource(std::function<std::string()> snapshot, int cols, int rows);
  /// With lockScreen() held: fan-out of output to every watcher.
  void publish(std::string_view bytes);
  /// With lockScreen() held.
  void resized(int cols, int rows);
  /// Ended: watchers are dropped with the reason, controls refused from now on.
  void ended(const std::string& reason);
  /// Graphical sessions, any thread: a new picture of the screen for every watcher (kept for
  /// watchers that join later).
  void publishImage(std::string jpeg, int width, int height);
  /// Graphical sessions: someone is watching, pictures are wanted.
  bool wantsImages() const { return image_watchers_.load() > 0; }
  /// Graphical sessions: true once after a watcher joined (the session sends its current screen
  /// even when nothing changes).
  bool takeImageRequest() { return image_request_.exchange(false); }

  // ---- any thread
  /// Adds a watcher: it gets the size and the snapshot, then the live stream. False if ended.
  /// `watcher_user_id`: who watches (on a moderated session, anyone but the session's own user
  /// is a moderator; 0 counts as nobody).
  bool addWatcher(const std::shared_ptr<LiveWatcher>& w, std::int64_t watcher_user_id = 0);
  void removeWatcher(const LiveWatcher* w);
  std::size_t watcherCount();

  /// The proxy's control (null when it tears down). Control calls are serialised with this,
  /// so a late terminate never reaches a freed pump.
  void setControl(proto::SessionControl* control);
  /// False when the session has no control (not started yet, or ending).
  bool suspend(const std::string& message);
  bool resume();
  bool terminate(const std::string& reason);
  /// Moderators watching now (0 on a session that is not moderated).
  int moderatorCount();

 private:
  void moderatorsChanged(int delta);  // with screen_mu_ held or not: only counts and wakes
  void watch();                       // the session's watchdog: moderation and the window end

  const LiveInfo info_;
  std::mutex screen_mu_;  // the session's screen and the watcher list
  std::function<std::string()> snapshot_;
  int cols_ = 80, rows_ = 24;
  std::vector<std::shared_ptr<LiveWatcher>> watchers_;
  bool ended_ = false;
  std::string image_;  // graphical: the latest picture (JPEG) and its size
  int image_width_ = 0, image_height_ = 0;
  std::atomic<int> image_watchers_{0};
  std::atomic<bool> image_request_{false};
  std::mutex control_mu_;
  proto::SessionControl* control_ = nullptr;
  bool control_closed_ = false;  // ended: no control is accepted again
  // Moderation: watchers joining and leaving only count and wake the moderation thread, which is
  // the one that suspends, resumes and terminates (no control call from a watcher's path).
  std::vector<const LiveWatcher*> moderator_watchers_;  // guarded by screen_mu_
  std::mutex mod_mu_;
  std::condition_variable mod_cv_;
  int moderators_ = 0;
  bool mod_ever_ = false;  // a moderator has watched at some point
  bool mod_done_ = false;
  std::thread mod_thread_;
};

class LiveRegistry {
 public:
  static LiveRegistry& instance();

  std::shared_ptr<LiveSession> add(LiveInfo info);
  void remove(const std::string& id);
  std::shared_ptr<LiveSession> find(const std::string& id);
  std::vector<std::shared_ptr<LiveSession>> all();
  /// Terminates this node's sessions of `user_id`; returns how many were told.
  int terminateUser(std::int64_t user_id, const std::string& reason);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<LiveSession>> sessions_;
};

}  // namespace vigil::services
