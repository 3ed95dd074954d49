#pragma once
// What the person was shown, made searchable: terminal lines (rows that scrolled off the screen
// or that the cursor moved past) are deduplicated, rate-limited and batched into at most one
// `output` timeline event per second, so `cat bigfile` cannot flood the database.
//
// Bounds (docs/api.md "Output lines"): lines are cut at kMaxLineChars bytes; a token bucket lets
// through kLinesPerSecond lines per second on average with bursts of kBurstLines, the rest is
// counted as dropped in the event's details; an event holds at most kMaxBatchBytes of text. So a
// session adds at most about kLinesPerSecond * kMaxLineChars bytes per second of output text
// (worst case ~4 KiB/s, ~14 MiB per hour of non-stop distinct output); typical shells far less.
// A line seen among the last kRecentLines lines is not repeated (a static screen is re-read
// every second). Not thread-safe: the session's own thread.
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

namespace vigil::recorder {

class ShownLines {
 public:
  static constexpr std::size_t kMaxLineChars = 400;
  static constexpr double kLinesPerSecond = 20;
  static constexpr double kBurstLines = 200;
  static constexpr std::size_t kMaxBatchBytes = 4096;
  static constexpr std::size_t kRecentLines = 1024;
  static constexpr double kBatchSeconds = 1.0;

  struct Batch {
    double t = 0;       // time of the batch's first line (seconds from the session start)
    std::string text;   // lines joined by '\n'
    int lines = 0;
    int dropped = 0;    // lines over the rate limit since the previous batch
  };

  /// A line shown at time `t` (seconds). Blank and recently seen lines are skipped.
  void line(std::string text, double t);
  /// Batches due at `t` (the current batch is older than kBatchSeconds or full); all with `final`.
  std::vector<Batch> take(double t, bool final = false);
  std::uint64_t droppedTotal() const { return dropped_total_; }

 private:
  void close();
  std::deque<std::string> recent_order_;
  std::unordered_set<std::string> recent_;
  double tokens_ = kBurstLines;
  double last_refill_ = 0;
  Batch current_;
  bool open_ = false;
  int dropped_ = 0;
  std::uint64_t dropped_total_ = 0;
  std::vector<Batch> ready_;
};

}  // namespace vigil::recorder
