#pragma once
// The target side of an RDP session: a FreeRDP client that logs in with the injected vault
// credential (NLA, or TLS when the target does not offer NLA), checks the target's certificate
// against the pinned fingerprint, and keeps the target's screen in a software framebuffer (BGRX).
#include <cstdint>
#include <string>

#include "protocols/net/target_pin.hpp"
#include "protocols/rdp/pointer_relay.hpp"
#include "protocols/session.hpp"

struct rdp_freerdp;
struct rdp_context;

namespace vigil::rdp {

class ClipboardRelay;

struct DirtyRect {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // x2/y2 exclusive
  bool empty() const { return x2 <= x1 || y2 <= y1; }
  void add(int ax, int ay, int aw, int ah);
  void clear() { x1 = y1 = x2 = y2 = 0; }
};

struct TargetFailure {
  std::string reason;   // proto::Session::end reason
  std::string detail;   // for the audit log
  std::string message;  // for the person
};

class TargetClient {
 public:
  TargetClient();
  ~TargetClient();
  TargetClient(const TargetClient&) = delete;
  TargetClient& operator=(const TargetClient&) = delete;

  /// Connects and logs in (blocks up to the timeout). The credential is wiped from FreeRDP's
  /// settings once the login is done. False with `failure` set.
  bool connect(const proto::Grant& grant, proto::Credential& cred, int width, int height, int timeout_seconds,
               proto::Gatekeeper& gatekeeper, proto::Session& session, TargetFailure& failure);
  /// Handles to wait on (adds to `handles`, returns how many).
  std::uint32_t eventHandles(void** handles, std::uint32_t room);
  /// Processes what arrived; false when the target closed the connection.
  bool check();

  const std::uint8_t* buffer() const;
  int width() const;
  int height() const;
  int stride() const;
  /// Region of the framebuffer changed since the last takeDirty(); `resized` says the desktop
  /// size changed.
  DirtyRect takeDirty(bool& resized);

  // Input from the user, forwarded as is.
  void keyboard(std::uint16_t flags, std::uint16_t code);
  void unicode(std::uint16_t flags, std::uint16_t code);
  void mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void extendedMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void synchronize(std::uint32_t flags);

  // Called from FreeRDP callbacks (public for the C trampolines).
  std::string seen_fingerprint;
  proto::PinResult pin;  // the certificate check (refused: why, for the session end and the person)
  const proto::Grant* grant_ = nullptr;
  proto::Gatekeeper* gatekeeper_ = nullptr;
  proto::Session* session_ = nullptr;
  DirtyRect dirty;
  bool resized = false;
  PointerRelay pointer;  // the target's pointer, for the person's client
  /// Set before connect() when the safe lets the clipboard cross: the target connection then
  /// opens the clipboard channel and hands it to the relay. Not owned; outlives this client.
  ClipboardRelay* clipboard = nullptr;

 private:
  rdp_freerdp* instance_ = nullptr;
  bool connected_ = false;
};

}  // namespace vigil::rdp
