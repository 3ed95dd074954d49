#pragma once
// Playback of a recording without sending it whole: the recording is decoded once into its
// events plus keyframes (the screen as ANSI every kKeyframeMs of recording time, or sooner after
// kKeyframeBytes of output), so the screen at any moment is one keyframe plus at most that much
// replay. PlaybackCache keeps the last few per file and, for a recording still being written,
// extends the previous index (the screen is replayed only from its last keyframe).
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "recorder/asciicast_reader.hpp"

namespace vigil::recorder {

struct PlaybackEvent {
  std::int64_t t_ms = 0;
  char type = 'o';  // 'o' output, 'r' resize, 'i' input (kept for idle gaps, never sent)
  std::string data;
};

struct Keyframe {
  std::int64_t t_ms = 0;          // the screen after every event with time < t_ms...
  std::size_t next_event = 0;     // ...i.e. before events[next_event]
  int cols = 80, rows = 24;
  std::string ansi;
};

struct PlaybackIndex {
  int width = 80, height = 24;  // from the header
  std::vector<PlaybackEvent> events;
  std::vector<Keyframe> keyframes;  // keyframes[0] is the empty screen at 0
  std::int64_t duration_ms = 0;      // time of the last event
  /// Why not everything could be read ("truncated"/"corrupt" at ~N ms); empty when the file is
  /// whole. A recording still being written ends mid-frame: `partial_tail` says so, the caller
  /// decides (damaged only once the session ended).
  std::string corrupt;
  bool partial_tail = false;
  bool unreadable = false;  // not even a header: nothing to play
  std::uint64_t file_size = 0;
  std::int64_t build_ms = 0;  // how long the last (re)build took, for the logs and docs

  /// Gaps between consecutive events longer than `min_ms`, as [start, end].
  std::vector<std::pair<std::int64_t, std::int64_t>> idleGaps(std::int64_t min_ms) const;
};

inline constexpr std::int64_t kKeyframeMs = 20'000;
inline constexpr std::size_t kKeyframeBytes = 512 * 1024;

/// Reads `path` and builds its index; `previous` (an index of the same file when it was shorter)
/// lets the screen replay start at its last keyframe.
std::shared_ptr<const PlaybackIndex> buildPlaybackIndex(const std::string& path,
                                                         const PlaybackIndex* previous = nullptr);

struct PlaybackChunk {
  int width = 80, height = 24;  // terminal size at from_ms
  std::string snapshot;         // ANSI painting the screen at from_ms
  std::vector<const PlaybackEvent*> events;  // 'o' and 'r' events with from_ms <= t < to_ms
  bool more = false;            // events exist at or after to_ms
};

/// The screen at `from_ms` (nearest keyframe + replay) and the events of [from_ms, to_ms).
PlaybackChunk playbackChunk(const PlaybackIndex& index, std::int64_t from_ms, std::int64_t to_ms);

/// The last few indexes, by file. Thread-safe.
class PlaybackCache {
 public:
  explicit PlaybackCache(std::size_t capacity = 16) : capacity_(capacity) {}
  /// The index of `path`: cached when the file did not grow, or grew less than `min_age` ago
  /// (a live recording is flushed every second: at most one rebuild per second per file).
  std::shared_ptr<const PlaybackIndex> get(const std::string& path,
                                           std::chrono::milliseconds min_age = std::chrono::milliseconds(1000));

 private:
  struct Entry {
    std::string path;
    std::shared_ptr<const PlaybackIndex> index;
    std::chrono::steady_clock::time_point built;
  };
  std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  std::size_t capacity_;
};

}  // namespace vigil::recorder
