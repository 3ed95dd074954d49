#include "server/services/retention.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "server/services/access_requests.hpp"
#include "server/services/compliance_log.hpp"

namespace vigil::services {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// Files of one session in `dir`: the recording and its siblings named "<id>.*" (a manifest...).
std::vector<fs::path> sessionFiles(const fs::path& dir, const std::string& id) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(id + ".", 0) == 0) out.push_back(e.path());
  }
  return out;
}

}  // namespace

bool RetentionJob::removeFiles(const std::string& session_id, const std::string& rel, int& removed) {
  if (rel.empty()) return true;
  std::vector<fs::path> dirs{(cfg_.recordingsDir() / rel).parent_path()};
  if (!cfg_.retention.cold_dir.empty()) dirs.push_back((fs::path(cfg_.retention.cold_dir) / rel).parent_path());
  for (auto& dir : dirs) {
    for (auto& f : sessionFiles(dir, session_id)) {
      std::error_code ec;
      if (!fs::remove(f, ec) && ec) {
        complianceLog()->error("session={} retention could not delete {}: {}", session_id, f.string(), ec.message());
        return false;
      }
      ++removed;
    }
  }
  return true;
}

RetentionReport RetentionJob::runOnce(bool dry_run, const std::string& actor,
                                      const std::function<void(const RetentionReport&)>& progress) {
  RetentionReport rep;
  rep.dry_run = dry_run;
  rep.due = store_.countRetentionCandidates();
  const int batch = cfg_.retention.batch_size;
  if (dry_run) {
    for (auto& c : store_.retentionCandidates(batch * cfg_.retention.max_batches)) rep.session_ids.push_back(c.session_id);
    rep.deleted = static_cast<int>(rep.session_ids.size());
    if (progress) progress(rep);
    return rep;
  }
  for (int b = 0; b < cfg_.retention.max_batches; ++b) {
    auto cands = store_.retentionCandidates(batch);
    if (cands.empty()) break;
    int purged_in_batch = 0;
    for (auto& c : cands) {
      store::AuditEntry e;
      e.actor = actor;
      e.action = "retention_delete";
      e.object_type = "session";
      e.object_id = c.session_id;
      e.outcome = "ok";
      e.details_json = json{{"safe", c.safe_name}, {"username", c.username}, {"ended_at", c.ended_at},
                            {"recording", !c.recording_path.empty()}, {"tier", c.recording_tier},
                            {"events", c.event_count}}
                           .dump(-1, ' ', false, json::error_handler_t::replace);
      int removed = 0;
      bool files_ok = true;
      auto n = store_.purgeSession(c.session_id, e, [&] {
        files_ok = removeFiles(c.session_id, c.recording_path, removed);
        return files_ok;
      });
      if (!files_ok) ++rep.failed;
      if (!n) continue;
      ++rep.deleted;
      ++purged_in_batch;
      rep.events_deleted += *n;
      rep.files_deleted += removed;
      rep.session_ids.push_back(c.session_id);
    }
    if (progress) progress(rep);
    // A batch where nothing could be purged would come back unchanged: stop instead of spinning.
    if (purged_in_batch == 0) break;
  }
  if (!cfg_.retention.cold_dir.empty()) rep.moved_cold = moveCold(batch);
  if (rep.deleted > 0 || rep.failed > 0)
    complianceLog()->info("retention: {} session(s) purged, {} file(s) and {} timeline row(s) deleted, {} failed",
                          rep.deleted, rep.files_deleted, rep.events_deleted, rep.failed);
  return rep;
}

int RetentionJob::moveCold(int limit) {
  int moved = 0;
  for (auto& c : store_.coldCandidates(limit)) {
    const fs::path hot = cfg_.recordingsDir() / c.recording_path;
    const fs::path cold = fs::path(cfg_.retention.cold_dir) / c.recording_path;
    std::error_code ec;
    if (fs::is_symlink(hot, ec)) {  // moved before, the database update was lost
      store_.setRecordingTier(c.session_id, "cold");
      continue;
    }
    fs::create_directories(cold.parent_path(), ec);
    // copy + rename + symlink: the hot path keeps working throughout (a reader sees the old file
    // or the link, never nothing); a rename across file systems is not possible in general.
    const fs::path tmp = cold.string() + ".tmp";
    if (!fs::copy_file(hot, tmp, fs::copy_options::overwrite_existing, ec) || ec) {
      complianceLog()->warn("session={} cold tier copy failed: {}", c.session_id, ec.message());
      continue;
    }
    fs::rename(tmp, cold, ec);
    if (ec) continue;
    const fs::path link = hot.string() + ".lnk";
    fs::remove(link, ec);
    fs::create_symlink(fs::absolute(cold), link, ec);
    if (ec) continue;
    fs::rename(link, hot, ec);  // atomically replaces the file by the link
    if (ec) continue;
    store_.setRecordingTier(c.session_id, "cold");
    ++moved;
  }
  return moved;
}

void RetentionJob::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void RetentionJob::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionJob::loop() {
  auto next_retention = std::chrono::steady_clock::now();
  for (;;) {
    try {
      AccessRequests(store_).expireDue();
      if (cfg_.retention.enabled && std::chrono::steady_clock::now() >= next_retention) {
        // Set before the run: a failing run waits for the next interval instead of spinning.
        next_retention = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.retention.interval_seconds);
        runOnce(false, "vigil");
      }
    } catch (const std::exception& e) {
      complianceLog()->error("retention job failed: {}", e.what());
    }
    std::unique_lock<std::mutex> lk(mu_);
    auto wake = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    if (cfg_.retention.enabled) wake = std::min(wake, next_retention);
    if (cv_.wait_until(lk, wake, [this] { return stop_; })) return;
  }
}

}  // namespace vigil::services
