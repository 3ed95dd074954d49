#pragma once
// The risk engine at run time: the current rule set (swapped atomically on reload: SIGHUP, a
// changed file, or POST /api/v1/risk/rules/reload; sessions always read the current one), and
// per session a SessionRisk that evaluates what the session yields (commands, SQL, titles, ...)
// and acts on matches: a 'risk' timeline event with the offset (the player's markers), the
// session's risk score, an alert row, and suspend / terminate / lock_user through the session's
// SessionControl. Database writes go through the shared SessionEventWriter's thread; the session
// thread never waits for the database.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocols/session.hpp"
#include "server/risk/rule_set.hpp"
#include "server/services/session_event_writer.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

class RiskService;

/// One session's view of the risk engine. evaluate()/setControl() are called on the session's
/// thread; checkDuration() on the service's thread: the control pointer is guarded.
class SessionRisk {
 public:
  struct Identity {
    std::string session_id;
    std::int64_t user_id = 0;
    std::string username;
  };
  struct Verdict {
    bool block = false;
    const risk::Rule* rule = nullptr;  // the blocking rule (valid while `rules` is held)
    std::shared_ptr<const risk::RuleSet> rules;
  };
  SessionRisk(RiskService& service, Identity who);

  /// Evaluates `text` against the current rules. With `only_if_blocking`, acts only when a
  /// matching rule blocks (the proxy asks before forwarding an Enter; other matches are acted
  /// on once the shell echoes the command). Returns whether the input must be blocked.
  Verdict evaluate(risk::MatchType type, std::string_view text, std::int64_t offset_ms, bool only_if_blocking);
  void setControl(proto::SessionControl* control);
  /// Duration rules: acts on each rule the session has outlived, once.
  void checkDuration();
  std::int64_t elapsedMs() const;

 private:
  void act(const risk::Rule& rule, risk::MatchType type, std::string_view text, std::int64_t offset_ms,
           bool blocked);

  RiskService& service_;
  const Identity who_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  proto::SessionControl* control_ = nullptr;
  std::set<std::string> fired_durations_;
};

class RiskService {
 public:
  struct Options {
    std::string rules_file;
    /// How often the file's mtime and the running sessions' durations are checked.
    std::chrono::milliseconds poll_interval{1000};
  };
  struct ReloadResult {
    bool ok = false;
    bool changed = false;
    risk::RuleError error;
    std::string version;
    std::size_t rules = 0;
  };

  RiskService(store::Store& store, SessionEventWriter& events, Options options);
  ~RiskService();
  RiskService(const RiskService&) = delete;
  RiskService& operator=(const RiskService&) = delete;

  /// Loads the rules file; a file that cannot be used leaves the current rules (none at first)
  /// active and says why. Thread-safe. Audit is the caller's.
  ReloadResult reload();
  /// Starts the polling thread (mtime + durations).
  void start();
  void stop();

  std::shared_ptr<const risk::RuleSet> rules() const { return std::atomic_load(&rules_); }
  const std::string& rulesFile() const { return options_.rules_file; }
  std::string lastError() const;
  std::string loadedAt() const;

  std::shared_ptr<SessionRisk> openSession(SessionRisk::Identity who);
  void closeSession(const std::shared_ptr<SessionRisk>& s);

  /// Called with a locked user's id: ends the user's other sessions (the lead wires the live
  /// registry here). May be empty. Called on the session's thread or the service's thread.
  std::function<void(std::int64_t user_id, const std::string& reason)> terminate_user_sessions;

 private:
  friend class SessionRisk;
  void run();

  store::Store& store_;
  SessionEventWriter& events_;
  Options options_;
  std::shared_ptr<const risk::RuleSet> rules_;
  mutable std::mutex mu_;
  std::string last_error_;
  std::string loaded_at_;
  std::filesystem::file_time_type mtime_{};
  std::vector<std::weak_ptr<SessionRisk>> sessions_;
  std::mutex reload_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigil::services
