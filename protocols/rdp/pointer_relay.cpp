#include "protocols/rdp/pointer_relay.hpp"

#include <freerdp/freerdp.h>
#include <freerdp/pointer.h>
#include <freerdp/update.h>

namespace vigil::rdp {
namespace {

// Bytes in one mask, rows padded to 2 bytes (MS-RDPBCGR 2.2.9.1.1.4.4).
std::size_t maskBytes(std::uint32_t width, std::uint32_t height, std::uint32_t bpp) {
  const std::size_t row = ((static_cast<std::size_t>(width) * bpp + 15) / 16) * 2;
  return row * height;
}

bool wellFormed(const PointerShape& s) {
  if (s.width == 0 || s.height == 0 || s.width > PointerRelay::kMaxSide || s.height > PointerRelay::kMaxSide) return false;
  switch (s.xor_bpp) {
    case 1: case 4: case 8: case 16: case 24: case 32: break;
    default: return false;
  }
  if (s.hot_x >= s.width || s.hot_y >= s.height) return false;
  return s.xor_mask.size() == maskBytes(s.width, s.height, s.xor_bpp) &&
         (s.and_mask.empty() || s.and_mask.size() == maskBytes(s.width, s.height, 1));
}

}  // namespace

void PointerRelay::attach(rdp_context* peer) {
  peer_ = peer;
  if (peer_) show();
}

void PointerRelay::shape(std::uint32_t cache_index, PointerShape s) {
  if (!wellFormed(s)) {
    ++dropped_;
    return;
  }
  if (cache_index < cache_.size()) cache_[cache_index] = s;
  shape_ = std::move(s);
  current_ = Current::Shape;
  show();
}

void PointerRelay::cached(std::uint32_t cache_index) {
  if (cache_index >= cache_.size() || !cache_[cache_index]) {
    ++dropped_;
    return;
  }
  shape_ = *cache_[cache_index];
  current_ = Current::Shape;
  show();
}

void PointerRelay::system(std::uint32_t type) {
  current_ = type == SYSPTR_NULL ? Current::Hidden : Current::Default;
  show();
}

void PointerRelay::position(std::uint32_t x, std::uint32_t y) {
  if (!peer_) return;
  rdpPointerUpdate* p = peer_->update->pointer;
  POINTER_POSITION_UPDATE u{};
  u.xPos = x;
  u.yPos = y;
  if (p->PointerPosition && p->PointerPosition(peer_, &u)) ++sent_;
}

void PointerRelay::show() {
  if (!peer_) return;
  rdpPointerUpdate* p = peer_->update->pointer;
  bool ok = false;
  if (current_ == Current::Shape) {
    POINTER_NEW_UPDATE u{};
    u.xorBpp = shape_.xor_bpp;
    POINTER_COLOR_UPDATE& c = u.colorPtrAttr;
    c.cacheIndex = 0;
    c.xPos = shape_.hot_x;
    c.yPos = shape_.hot_y;
    c.width = shape_.width;
    c.height = shape_.height;
    c.lengthXorMask = static_cast<UINT32>(shape_.xor_mask.size());
    c.lengthAndMask = static_cast<UINT32>(shape_.and_mask.size());
    c.xorMaskData = shape_.xor_mask.data();
    c.andMaskData = shape_.and_mask.empty() ? nullptr : shape_.and_mask.data();
    ok = p->PointerNew && p->PointerNew(peer_, &u);
  } else {
    POINTER_SYSTEM_UPDATE u{};
    u.type = current_ == Current::Hidden ? SYSPTR_NULL : SYSPTR_DEFAULT;
    ok = p->PointerSystem && p->PointerSystem(peer_, &u);
  }
  if (ok) ++sent_;
}

}  // namespace vigil::rdp
