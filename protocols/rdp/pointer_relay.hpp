#pragma once
// The target's mouse pointer, shown on the person's client: shapes (color, new, large), cached
// shapes, the system pointers (hidden, default) and pointer moves made by the target.
//
// The two legs have their own pointer caches, negotiated separately (and the person's client
// states its cache size only at activation, after the target link is up), so target cache
// indexes are never passed on: Vigil keeps a copy of each shape the target caches and sends the
// shape itself whenever the target shows one, always in the client's cache slot 0. Shapes that
// arrive before the person's client is active are kept and the current one is sent on attach.
#include <cstdint>
#include <optional>
#include <vector>

struct rdp_context;

namespace vigil::rdp {

struct PointerShape {
  std::uint32_t xor_bpp = 32;  // 1, 4, 8, 16, 24 or 32
  std::uint32_t hot_x = 0, hot_y = 0;
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> xor_mask, and_mask;
};

class PointerRelay {
 public:
  static constexpr std::uint32_t kCacheSize = 32;  // asked of the target
  static constexpr std::uint32_t kMaxSide = 96;     // largest shape a client must accept (no large pointers)

  /// The person's client is active (or again active after a reactivation): send the current
  /// pointer. nullptr detaches.
  void attach(rdp_context* peer);

  // From the target (FreeRDP client callbacks, the session's thread).
  void shape(std::uint32_t cache_index, PointerShape s);  // cache it and show it
  void cached(std::uint32_t cache_index);                 // show a cached shape
  void system(std::uint32_t type);                        // SYSPTR_NULL or SYSPTR_DEFAULT
  void position(std::uint32_t x, std::uint32_t y);        // the target moved the pointer

  /// Pointer updates sent to the person's client.
  std::uint64_t sent() const { return sent_; }
  /// Updates from the target that could not be shown (unknown cache slot, oversized shape).
  std::uint64_t dropped() const { return dropped_; }

 private:
  enum class Current { Default, Hidden, Shape };
  void show();

  rdp_context* peer_ = nullptr;
  std::vector<std::optional<PointerShape>> cache_ = std::vector<std::optional<PointerShape>>(kCacheSize);
  Current current_ = Current::Default;
  PointerShape shape_;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace vigil::rdp
