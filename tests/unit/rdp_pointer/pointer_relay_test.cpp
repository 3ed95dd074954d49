// The target's pointer on the person's client: shapes are copied, re-sent in the client's slot 0
// (the two legs' caches are never mixed), kept until the client is active, and bad ones dropped.
#include <catch2/catch.hpp>

#include <freerdp/freerdp.h>
#include <freerdp/pointer.h>
#include <freerdp/update.h>

#include <string>
#include <vector>

#include "protocols/rdp/pointer_relay.hpp"

using vigil::rdp::PointerRelay;
using vigil::rdp::PointerShape;

namespace {

struct Seen {
  std::string kind;  // "new", "system", "position"
  std::uint32_t cache_index = 0, bpp = 0, width = 0, height = 0, hot_x = 0, hot_y = 0, type = 0, x = 0, y = 0;
  std::vector<std::uint8_t> xor_mask, and_mask;
};
std::vector<Seen> seen;

BOOL onNew(rdpContext*, const POINTER_NEW_UPDATE* u) {
  const POINTER_COLOR_UPDATE& c = u->colorPtrAttr;
  Seen s{"new", c.cacheIndex, u->xorBpp, c.width, c.height, c.xPos, c.yPos};
  s.xor_mask.assign(c.xorMaskData, c.xorMaskData + c.lengthXorMask);
  if (c.andMaskData) s.and_mask.assign(c.andMaskData, c.andMaskData + c.lengthAndMask);
  seen.push_back(s);
  return TRUE;
}
BOOL onSystem(rdpContext*, const POINTER_SYSTEM_UPDATE* u) {
  Seen s{"system"};
  s.type = u->type;
  seen.push_back(s);
  return TRUE;
}
BOOL onPosition(rdpContext*, const POINTER_POSITION_UPDATE* u) {
  Seen s{"position"};
  s.x = u->xPos;
  s.y = u->yPos;
  seen.push_back(s);
  return TRUE;
}

// A client connection as far as pointer updates go.
struct FakePeer {
  rdpContext context{};
  rdpUpdate update{};
  rdpPointerUpdate pointer{};
  FakePeer() {
    context.update = &update;
    update.pointer = &pointer;
    pointer.PointerNew = onNew;
    pointer.PointerSystem = onSystem;
    pointer.PointerPosition = onPosition;
    seen.clear();
  }
};

// A 32x32 32-bpp shape whose masks are filled with `fill` (so copies can be told apart).
PointerShape shape32(std::uint8_t fill, std::uint32_t hot = 3) {
  PointerShape s;
  s.xor_bpp = 32;
  s.width = s.height = 32;
  s.hot_x = s.hot_y = hot;
  s.xor_mask.assign(32 * 32 * 4, fill);
  s.and_mask.assign(4 * 32, 0);
  return s;
}

}  // namespace

TEST_CASE("a shape from the target is sent whole, in the client's cache slot 0, whatever the target's slot", "[rdp][pointer]") {
  FakePeer peer;
  PointerRelay r;
  r.attach(&peer.context);
  seen.clear();
  r.shape(17, shape32(0xAB, 5));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == "new");
  CHECK(seen[0].cache_index == 0);
  CHECK(seen[0].bpp == 32);
  CHECK(seen[0].width == 32);
  CHECK(seen[0].hot_x == 5);
  CHECK(seen[0].xor_mask == std::vector<std::uint8_t>(32 * 32 * 4, 0xAB));
  CHECK(seen[0].and_mask.size() == 4 * 32);
  CHECK(r.sent() == 2);  // the default pointer on attach, then the shape
}

TEST_CASE("a cached shape is re-sent from Vigil's copy; an unknown slot is dropped", "[rdp][pointer]") {
  FakePeer peer;
  PointerRelay r;
  r.attach(&peer.context);
  r.shape(2, shape32(0x11));
  r.shape(3, shape32(0x22));
  seen.clear();
  r.cached(2);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].xor_mask[0] == 0x11);
  r.cached(9);                        // never filled
  r.cached(PointerRelay::kCacheSize);  // outside the cache
  CHECK(seen.size() == 1);
  CHECK(r.dropped() == 2);
}

TEST_CASE("shapes that arrive before the client is active are kept and the current one is sent on attach", "[rdp][pointer]") {
  FakePeer peer;
  PointerRelay r;
  r.shape(0, shape32(0x01));
  r.shape(1, shape32(0x02));
  r.position(10, 20);  // nothing to send it to: not queued
  CHECK(seen.empty());
  r.attach(&peer.context);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == "new");
  CHECK(seen[0].xor_mask[0] == 0x02);
  // Detached (the session ended): nothing more is sent.
  r.attach(nullptr);
  r.system(SYSPTR_NULL);
  CHECK(seen.size() == 1);
}

TEST_CASE("system pointers (hidden, default) and the target's pointer moves are passed on", "[rdp][pointer]") {
  FakePeer peer;
  PointerRelay r;
  r.attach(&peer.context);
  REQUIRE(seen.size() == 1);  // the default pointer on attach
  CHECK(seen[0].type == SYSPTR_DEFAULT);
  r.system(SYSPTR_NULL);
  r.position(640, 400);
  REQUIRE(seen.size() == 3);
  CHECK(seen[1].kind == "system");
  CHECK(seen[1].type == SYSPTR_NULL);
  CHECK(seen[2].kind == "position");
  CHECK(seen[2].x == 640);
  CHECK(seen[2].y == 400);
}

TEST_CASE("malformed shapes from the target are dropped, never sent", "[rdp][pointer]") {
  FakePeer peer;
  PointerRelay r;
  r.attach(&peer.context);
  seen.clear();
  auto big = shape32(0);
  big.width = big.height = 128;  // larger than a client without large pointers accepts
  big.xor_mask.assign(128 * 128 * 4, 0);
  r.shape(0, big);
  auto short_mask = shape32(0);
  short_mask.xor_mask.resize(100);  // length does not match 32x32x32bpp
  r.shape(0, short_mask);
  auto bad_bpp = shape32(0);
  bad_bpp.xor_bpp = 7;
  r.shape(0, bad_bpp);
  auto bad_hot = shape32(0, 40);  // hot spot outside the shape
  r.shape(0, bad_hot);
  auto empty = shape32(0);
  empty.width = 0;
  r.shape(0, empty);
  CHECK(seen.empty());
  CHECK(r.dropped() == 5);
  // A 24-bpp color pointer (padded rows) passes.
  PointerShape c;
  c.xor_bpp = 24;
  c.width = c.height = 15;
  c.xor_mask.assign(((15 * 24 + 15) / 16) * 2 * 15, 0x7F);
  c.and_mask.assign(2 * 15, 0);
  r.shape(1, c);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].bpp == 24);
}
