#pragma once
// Retention (issue 8): deletes the recordings and timelines of ended sessions past their safe's
// retention class, in bounded batches, one audit row (`retention_delete`) per session, in the
// same transaction as the deletion. Legal holds (session, user or safe) stop it. Optionally moves
// recordings past the safe's hot days to the cold tier (retention.cold_dir), leaving a symbolic
// link in recordings.dir so playback finds them unchanged. The background thread also expires
// access requests whose window has ended (every 30 s).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/config.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

struct RetentionReport {
  bool dry_run = false;
  std::int64_t due = 0;        // sessions past retention and not held, at the start
  int deleted = 0;             // sessions purged (dry run: would be)
  std::int64_t events_deleted = 0;
  int files_deleted = 0;
  int moved_cold = 0;
  int failed = 0;              // sessions whose files could not be removed (left for the next run)
  std::vector<std::string> session_ids;  // purged (or, dry run, due) in this run
};

class RetentionJob {
 public:
  RetentionJob(const Config& cfg, store::Store& store) : cfg_(cfg), store_(store) {}
  ~RetentionJob() { stop(); }

  /// One run: up to retention.max_batches batches of retention.batch_size sessions. `progress`
  /// is called after each batch. `actor` names who ran it in the audit rows.
  RetentionReport runOnce(bool dry_run, const std::string& actor,
                          const std::function<void(const RetentionReport&)>& progress = {});
  /// Starts the background thread (runs at once, then every retention.interval_seconds).
  void start();
  void stop();

 private:
  bool removeFiles(const std::string& session_id, const std::string& rel, int& removed);
  int moveCold(int limit);
  void loop();

  const Config& cfg_;
  store::Store& store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace vigil::services
