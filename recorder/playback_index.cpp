#include "recorder/playback_index.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "recorder/terminal_screen.hpp"

namespace vigil::recorder {
namespace {

std::pair<int, int> parseSize(const std::string& s, std::pair<int, int> fallback) {
  int c = 0, r = 0;
  if (std::sscanf(s.c_str(), "%dx%d", &c, &r) == 2 && c > 0 && r > 0) return {c, r};
  return fallback;
}

void apply(TerminalScreen& screen, const PlaybackEvent& e) {
  if (e.type == 'o') {
    screen.feed(e.data);
  } else if (e.type == 'r') {
    auto [c, r] = parseSize(e.data, {screen.cols(), screen.rows()});
    screen.resize(c, r);
  }
}

std::uint64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

std::vector<std::pair<std::int64_t, std::int64_t>> PlaybackIndex::idleGaps(std::int64_t min_ms) const {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  std::int64_t prev = 0;
  for (const auto& e : events) {
    if (e.t_ms - prev > min_ms) out.emplace_back(prev, e.t_ms);
    prev = std::max(prev, e.t_ms);
  }
  return out;
}

std::shared_ptr<const PlaybackIndex> buildPlaybackIndex(const std::string& path, const PlaybackIndex* previous) {
  const auto started = std::chrono::steady_clock::now();
  auto idx = std::make_shared<PlaybackIndex>();
  idx->file_size = fileSize(path);
  bool have_header = false;
  bool truncated = false;
  std::error_code ec = readAsciicast(
      path,
      [&](const nlohmann::json& h) {
        have_header = true;
        idx->width = std::clamp(h.value("width", 80), 2, 1000);
        idx->height = std::clamp(h.value("height", 24), 1, 500);
      },
      [&](AsciicastEvent&& e) {
        PlaybackEvent p;
        p.t_ms = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::llround(e.time * 1000.0)));
        if (!idx->events.empty()) p.t_ms = std::max(p.t_ms, idx->events.back().t_ms);
        p.type = e.type;
        p.data = std::move(e.data);
        idx->events.push_back(std::move(p));
      },
      &truncated);
  if (!have_header) {
    idx->unreadable = true;
    idx->corrupt = ec ? "the recording cannot be read (" + ec.message() + ")" : "the recording is empty";
    return idx;
  }
  idx->duration_ms = idx->events.empty() ? 0 : idx->events.back().t_ms;
  if (ec) idx->corrupt = "corrupt at ~" + std::to_string(idx->duration_ms) + " ms: the rest cannot be decoded";
  idx->partial_tail = truncated && !ec;

  // Keyframes: reuse those of the previous index of this file (same events up to there).
  TerminalScreen screen(idx->width, idx->height);
  std::size_t from = 0;
  if (previous && !previous->keyframes.empty() && previous->width == idx->width &&
      previous->height == idx->height && previous->keyframes.back().next_event <= idx->events.size()) {
    idx->keyframes = previous->keyframes;
    const Keyframe& k = idx->keyframes.back();
    screen.resize(k.cols, k.rows);
    screen.feed(k.ansi);
    from = k.next_event;
  } else {
    idx->keyframes.push_back(Keyframe{0, 0, idx->width, idx->height, screen.toAnsi()});
  }
  std::int64_t last_t = idx->keyframes.back().t_ms;
  std::size_t bytes = 0;
  for (std::size_t i = from; i < idx->events.size(); ++i) {
    const auto& e = idx->events[i];
    // A keyframe sits between events of different times, so "time < t_ms" is exact.
    if ((e.t_ms - last_t >= kKeyframeMs || bytes >= kKeyframeBytes) && i > 0 && idx->events[i - 1].t_ms < e.t_ms) {
      idx->keyframes.push_back(Keyframe{e.t_ms, i, screen.cols(), screen.rows(), screen.toAnsi()});
      last_t = e.t_ms;
      bytes = 0;
    }
    apply(screen, e);
    bytes += e.data.size();
  }
  idx->build_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  return idx;
}

PlaybackChunk playbackChunk(const PlaybackIndex& index, std::int64_t from_ms, std::int64_t to_ms) {
  PlaybackChunk out;
  // The last keyframe at or before from_ms.
  auto it = std::upper_bound(index.keyframes.begin(), index.keyframes.end(), from_ms,
                             [](std::int64_t t, const Keyframe& k) { return t < k.t_ms; });
  const Keyframe& k = it == index.keyframes.begin() ? index.keyframes.front() : *std::prev(it);
  TerminalScreen screen(k.cols, k.rows);
  screen.feed(k.ansi);
  std::size_t i = k.next_event;
  for (; i < index.events.size() && index.events[i].t_ms < from_ms; ++i) apply(screen, index.events[i]);
  out.width = screen.cols();
  out.height = screen.rows();
  out.snapshot = screen.toAnsi();
  for (; i < index.events.size() && index.events[i].t_ms < to_ms; ++i)
    if (index.events[i].type != 'i') out.events.push_back(&index.events[i]);
  out.more = i < index.events.size();
  return out;
}

std::shared_ptr<const PlaybackIndex> PlaybackCache::get(const std::string& path, std::chrono::milliseconds min_age) {
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t size = fileSize(path);
  std::shared_ptr<const PlaybackIndex> previous;
  {
    std::lock_guard lock(mu_);
    for (auto e = entries_.begin(); e != entries_.end(); ++e) {
      if (e->path != path) continue;
      if (e->index->file_size == size || now - e->built < min_age) {
        entries_.splice(entries_.begin(), entries_, e);
        return entries_.front().index;
      }
      previous = e->index;
      entries_.erase(e);
      break;
    }
  }
  // Built outside the lock: two viewers of the same new file may both build it once.
  auto idx = buildPlaybackIndex(path, previous && previous->file_size < size ? previous.get() : nullptr);
  std::lock_guard lock(mu_);
  entries_.push_front(Entry{path, idx, now});
  while (entries_.size() > capacity_) entries_.pop_back();
  return idx;
}

}  // namespace vigil::recorder
