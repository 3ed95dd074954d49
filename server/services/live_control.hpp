#pragma once
// SOC actions on live sessions, on whichever node hosts them. A session running here is told
// through the LiveRegistry; one hosted by another node (sessions.node) is told through
// PostgreSQL: NOTIFY on the channel every node LISTENs to (a dedicated connection and thread
// per node, reconnecting), and the hosting node applies it. Either way the caller waits until
// the action shows in the database — the session's lifecycle event (suspend, resume) or its
// end (terminate) — so an answer of "applied" means the proxy has done it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/store/store.hpp"

namespace vigil::services {

class LiveControl {
 public:
  static constexpr const char* kChannel = "vigil_live";
  enum class Action { Suspend, Resume, Terminate };
  enum class Result {
    Applied,   // the action shows in the session's timeline / row
    Ended,     // the session had already ended
    NotLive,   // the hosting node does not run it (not started yet, or a stale row)
    Timeout,   // told, but not applied in time (node down?)
  };

  LiveControl(store::Store& store, std::string node);
  ~LiveControl();
  LiveControl(const LiveControl&) = delete;
  LiveControl& operator=(const LiveControl&) = delete;

  /// Starts the LISTEN thread. Idempotent.
  void start();
  void stop();
  /// True once the LISTEN connection is up (tests wait for it).
  bool listening() const { return listening_; }
  const std::string& node() const { return node_; }

  /// Applies `action` to session `s` and waits up to `timeout` until it is applied.
  Result apply(const store::SessionRecord& s, Action action, const std::string& text,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Terminates every session of the user on every node (risk engine's lock_user). Returns the
  /// number terminated on this node; the others are told by NOTIFY. Does not wait.
  int terminateUserSessions(std::int64_t user_id, const std::string& reason);

  static const char* name(Action a);

 private:
  void run();
  void handle(const std::string& payload);

  store::Store& store_;
  const std::string node_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
  std::mutex mu_;
};

}  // namespace vigil::services
