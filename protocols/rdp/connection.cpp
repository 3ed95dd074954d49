#include "protocols/rdp/connection.hpp"

#include <signal.h>
#include <unistd.h>

#include <freerdp/channels/channels.h>
#include <freerdp/channels/cliprdr.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/codec/planar.h>
#include <freerdp/codec/rfx.h>
#include <freerdp/freerdp.h>
#include <freerdp/input.h>
#include <freerdp/peer.h>
#include <freerdp/settings.h>
#include <freerdp/update.h>
#include <winpr/stream.h>
#include <winpr/synch.h>
#include <winpr/wlog.h>
#include <winpr/wtsapi.h>

#include <chrono>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>
#include <openssl/crypto.h>

#include "protocols/net/identity_login.hpp"
#include "protocols/rdp/clipboard_relay.hpp"
#include "protocols/rdp/keyboard_text.hpp"
#include "protocols/rdp/rdp_log.hpp"
#include "protocols/rdp/screen_banner.hpp"
#include "protocols/rdp/target_client.hpp"
#include "server/crypto/secure_bytes.hpp"

namespace vigil::rdp {
namespace {

using Clock = std::chrono::steady_clock;

class Connection;

struct PeerContext {
  rdpContext base;
  Connection* conn;
};

Connection* connOf(rdpContext* c) { return reinterpret_cast<PeerContext*>(c)->conn; }

class Connection : public proto::SessionControl {
 public:
  Connection(freerdp_peer* peer, std::string addr, proto::Gatekeeper& gk, const ConnectionOptions& o)
      : peer_(peer), addr_(std::move(addr)), gk_(gk), o_(o) {}
  ~Connection() override {
    if (clipboard_) clipboard_->stop();
    if (vcm_) WTSCloseServer(vcm_);
    if (rfx_) rfx_context_free(rfx_);
    if (planar_) freerdp_bitmap_planar_context_free(planar_);
    if (stream_) Stream_Free(stream_, TRUE);
  }

  // SessionControl: any thread; the loop applies them.
  void suspend(const std::string& message) override {
    std::lock_guard lk(mu_);
    suspend_message_ = message;
    suspended_ = true;
  }
  void resume() override { suspended_ = false; }
  void terminate(const std::string& reason) override {
    std::lock_guard lk(mu_);
    terminate_reason_ = reason.empty() ? "terminated by the SOC" : reason;
    terminate_ = true;
  }

  void run();

  BOOL onPostConnect();
  BOOL onActivate();
  void onKeyboard(UINT16 flags, UINT16 code);
  void onUnicode(UINT16 flags, UINT16 code);
  void onMouse(UINT16 flags, UINT16 x, UINT16 y, bool extended);
  void onSynchronize(UINT32 flags);
  void onSuppress(bool allow) {
    output_allowed_ = allow;
    if (allow) full_refresh_ = true;
  }
  void onRefresh() { full_refresh_ = true; }

 private:
  void sendScreen();
  void applyControlState();
  bool sendRfx(const DirtyRect& r, const std::uint8_t* fb);
  bool sendPlanar(const DirtyRect& r, const std::uint8_t* fb);
  void recordFrame(bool force);
  void flushKeys(bool finish);
  void flushClipboard();
  bool startClipboard();
  proto::Grant identityLogin(const proto::IdentityLogin& id, const crypto::SecureString& typed,
                             const proto::ClientInfo& client);
  /// How long the loop may sleep: until the next screen update may go out when one is waiting
  /// for the ~30/s pacing, else 40 ms (control requests, keystroke rows, the video's frames).
  DWORD waitMs() const {
    if (!activated_ || !output_allowed_ || (pending_.empty() && !full_refresh_)) return 40;
    const auto due = last_send_ + kSendInterval - Clock::now();
    return static_cast<DWORD>(std::clamp<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(due).count() + 1, 0, 40));
  }
  static constexpr auto kSendInterval = std::chrono::milliseconds(33);
  void end(const std::string& reason, const std::string& detail);
  std::int64_t sessionMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
  }

  freerdp_peer* peer_;
  std::string addr_;
  proto::Gatekeeper& gk_;
  const ConnectionOptions& o_;
  const Clock::time_point start_ = Clock::now();
  std::unique_ptr<proto::Session> session_;
  proto::Grant grant_;
  // The clipboard, where the safe lets text cross: declared before target_ so that it outlives the
  // target connection, whose channel thread reports to it until the connection is freed.
  HANDLE vcm_ = nullptr;  // the peer's virtual channel manager (only with the clipboard)
  std::unique_ptr<ClipboardRelay> clipboard_;
  TargetClient target_;
  bool target_up_ = false;
  bool activated_ = false;
  bool output_allowed_ = true;
  bool full_refresh_ = true;
  DirtyRect pending_;
  Clock::time_point last_send_{};
  bool video_dirty_ = true;
  Clock::time_point last_video_{};
  RFX_CONTEXT* rfx_ = nullptr;
  BITMAP_PLANAR_CONTEXT* planar_ = nullptr;  // clients without RemoteFX: planar bitmap updates
  bool use_rfx_ = true;
  wStream* stream_ = nullptr;
  KeyboardText keys_;
  std::atomic<bool> suspended_{false};
  bool shown_suspended_ = false;  // the loop's view: noted in the timeline, the banner drawn
  ScreenBanner banner_;           // the notice over the person's picture while suspended
  std::string banner_text_;
  std::vector<std::uint8_t> composed_;  // while suspended: the target's screen with the banner
  std::mutex mu_;
  std::string suspend_message_;
  bool terminate_ = false;
  std::string terminate_reason_;
  std::uint64_t bytes_to_client_ = 0;
  std::uint64_t input_events_ = 0;
  bool ended_ = false;
};

// The static virtual channels the person's client joined, named for the timeline. Vigil opens
// none of them to the target and never answers on them, so drive, printer, smart-card and sound
// redirection stay off, and the clipboard too unless the safe allows it (`clipboard_relayed`).
// (FreeRDP keeps the client's channel list inside the peer; a channel it joined is one
// VirtualChannelOpen finds.)
std::string requestedChannels(freerdp_peer* peer, bool clipboard_relayed) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"cliprdr", "clipboard"}, {"rdpdr", "drives, printers and smart cards"}, {"rdpsnd", "sound"},
      {"rail", "RemoteApp"},   {"encomsp", "multiparty"},                     {"remdesk", "remote assistance"}};
  std::string out;
  if (!peer->VirtualChannelOpen) return out;
  for (const auto& [id, what] : kNames) {
    if (clipboard_relayed && std::strcmp(id, "cliprdr") == 0) continue;
    HANDLE h = peer->VirtualChannelOpen(peer, id, 0);
    if (!h) continue;
    if (peer->VirtualChannelClose) peer->VirtualChannelClose(peer, h);
    out += (out.empty() ? "" : ", ") + std::string(what) + " (" + id + ")";
  }
  return out;
}

// ---- C trampolines: no exception crosses them ----
BOOL cbPostConnect(freerdp_peer* p) {
  try {
    return connOf(p->context)->onPostConnect();
  } catch (const std::exception& e) {
    rdpLog()->error("post-connect failed: {}", e.what());
    return FALSE;
  } catch (...) {
    return FALSE;
  }
}
BOOL cbActivate(freerdp_peer* p) {
  try {
    return connOf(p->context)->onActivate();
  } catch (...) {
    return FALSE;
  }
}
BOOL cbKeyboard(rdpInput* in, UINT16 flags, UINT16 code) {
  try {
    connOf(in->context)->onKeyboard(flags, code);
  } catch (...) {
  }
  return TRUE;
}
BOOL cbUnicode(rdpInput* in, UINT16 flags, UINT16 code) {
  try {
    connOf(in->context)->onUnicode(flags, code);
  } catch (...) {
  }
  return TRUE;
}
BOOL cbMouse(rdpInput* in, UINT16 flags, UINT16 x, UINT16 y) {
  try {
    connOf(in->context)->onMouse(flags, x, y, false);
  } catch (...) {
  }
  return TRUE;
}
BOOL cbExtMouse(rdpInput* in, UINT16 flags, UINT16 x, UINT16 y) {
  try {
    connOf(in->context)->onMouse(flags, x, y, true);
  } catch (...) {
  }
  return TRUE;
}
BOOL cbSync(rdpInput* in, UINT32 flags) {
  try {
    connOf(in->context)->onSynchronize(flags);
  } catch (...) {
  }
  return TRUE;
}
BOOL cbSuppress(rdpContext* c, BYTE allow, const RECTANGLE_16*) {
  connOf(c)->onSuppress(allow != 0);
  return TRUE;
}
BOOL cbRefresh(rdpContext* c, BYTE, const RECTANGLE_16*) {
  connOf(c)->onRefresh();
  return TRUE;
}

BOOL Connection::onPostConnect() {
  rdpSettings* s = peer_->settings;
  // The user name is the one-time launch token (the .rdp file from the portal), or an identity
  // login "alice%administrator%win01" with the Vigil password (and the TOTP code after it).
  const char* u = freerdp_settings_get_string(s, FreeRDP_Username);
  std::string name = u ? u : "";
  if (u) OPENSSL_cleanse(const_cast<char*>(u), std::strlen(u));
  const char* pw = freerdp_settings_get_string(s, FreeRDP_Password);
  crypto::SecureString password(pw ? pw : "");
  if (pw) OPENSSL_cleanse(const_cast<char*>(pw), std::strlen(pw));
  proto::ClientInfo client{"rdp", addr_, "rdp"};
  proto::IdentityLogin id;
  if (proto::parseIdentityLogin(name, id)) {
    grant_ = identityLogin(id, password, client);
  } else {
    if (name.empty()) rdpLog()->warn("refused RDP client {}: no launch token in the user name", addr_);
    grant_ = gk_.redeemLaunchToken(name, client);  // an empty or bad token is audited there
  }
  OPENSSL_cleanse(name.data(), name.size());
  password.clear();
  if (grant_.status != proto::Grant::Status::Ok) {
    rdpLog()->warn("refused RDP client {}: {}", addr_, grant_.message);
    return FALSE;
  }
  std::string error;
  session_ = gk_.startSession(grant_, client, error);
  if (!session_) {
    rdpLog()->warn("RDP session for {} not started: {}", grant_.username, error);
    return FALSE;
  }
  const std::string sid = session_->id();
  keys_ = KeyboardText(freerdp_settings_get_uint32(s, FreeRDP_KeyboardLayout));
  int w = static_cast<int>(freerdp_settings_get_uint32(s, FreeRDP_DesktopWidth));
  int h = static_cast<int>(freerdp_settings_get_uint32(s, FreeRDP_DesktopHeight));
  if (w < 200 || w > 8192) w = 1280;
  if (h < 200 || h > 8192) h = 800;
  const bool clipboard = startClipboard();
  proto::Credential cred = session_->takeCredential();
  TargetFailure f;
  const bool ok = target_.connect(grant_, cred, w, h, o_.connect_timeout_seconds, gk_, *session_, f);
  if (!cred.secret.empty()) OPENSSL_cleanse(cred.secret.data(), cred.secret.size());
  if (!ok) {
    session_->end(f.reason, f.detail, 0, 0);
    session_.reset();
    return FALSE;
  }
  target_up_ = true;
  // The user's desktop is the target's size.
  freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(target_.width()));
  freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(target_.height()));
  freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32);
  session_->setControl(this);
  if (clipboard && !clipboard_->startClientSide(vcm_)) {
    session_->note("clipboard", "the clipboard channel towards the client did not start: nothing crosses");
    target_.clipboard = nullptr;
    clipboard_->stop();
  }
  if (const std::string asked = requestedChannels(peer_, clipboard); !asked.empty())
    session_->note("channels_refused", "redirections the client asked for, not relayed: " + asked);
  if (!keys_.layoutKnown())
    session_->note("keyboard_layout", "client keyboard layout " + std::to_string(keys_.layout()) +
                                          " is not known: typed text is transcribed as on a US keyboard");
  rdpLog()->info("session={} RDP client {} as {} -> {}@{}", sid, addr_, grant_.username, grant_.account_user,
                 grant_.target.name);
  return TRUE;
}

// The safe lets text cross the clipboard and the client joined the clipboard channel: the relay
// is made before the target connection, which opens the target's clipboard channel for it.
bool Connection::startClipboard() {
  if (grant_.policy.clipboard != "allow_log" && grant_.policy.clipboard != "allow") return false;
  vcm_ = WTSOpenServerA(reinterpret_cast<LPSTR>(peer_->context));
  if (!vcm_) {
    rdpLog()->warn("session={} no virtual channel manager: the clipboard stays off", session_->id());
    return false;
  }
  if (!WTSVirtualChannelManagerIsChannelJoined(vcm_, CLIPRDR_SVC_CHANNEL_NAME)) {
    session_->note("clipboard", "the safe allows the clipboard; the client did not offer it");
    return false;
  }
  clipboard_ = std::make_unique<ClipboardRelay>(grant_.policy.clipboard == "allow_log");
  target_.clipboard = clipboard_.get();
  return true;
}

BOOL Connection::onActivate() {
  rdpSettings* s = peer_->settings;
  use_rfx_ = freerdp_settings_get_bool(s, FreeRDP_RemoteFxCodec);
  if (use_rfx_) {
    if (!rfx_) {
      rfx_ = rfx_context_new(TRUE);
      if (!rfx_) return FALSE;
      rfx_->mode = RLGR3;
      rfx_context_set_pixel_format(rfx_, PIXEL_FORMAT_BGRX32);
    }
    rfx_context_reset(rfx_, static_cast<UINT32>(target_.width()), static_cast<UINT32>(target_.height()));
  } else if (!planar_) {
    // Clients without RemoteFX get planar-compressed 64x64 bitmap tiles.
    planar_ = freerdp_bitmap_planar_context_new(PLANAR_FORMAT_HEADER_NA | PLANAR_FORMAT_HEADER_RLE, 64, 64);
    if (!planar_) return FALSE;
  }
  if (!stream_) stream_ = Stream_New(nullptr, 64 * 1024);
  activated_ = true;
  full_refresh_ = true;
  target_.pointer.attach(peer_->context);  // the target's current pointer, then its changes
  return TRUE;
}

bool Connection::sendPlanar(const DirtyRect& d, const std::uint8_t* fb) {
  constexpr int kTile = 64;
  const int stride = target_.stride();
  std::vector<BITMAP_DATA> tiles;
  std::vector<BYTE*> buffers;
  std::size_t batch_bytes = 0;
  bool ok = true;
  auto flush = [&] {
    if (tiles.empty()) return;
    BITMAP_UPDATE u{};
    u.count = u.number = static_cast<UINT32>(tiles.size());
    u.rectangles = tiles.data();
    u.skipCompression = TRUE;
    if (!peer_->update->BitmapUpdate(peer_->update->context, &u)) ok = false;
    for (BYTE* b : buffers) free(b);
    tiles.clear();
    buffers.clear();
    batch_bytes = 0;
  };
  // Tiles on a fixed 64-pixel grid covering the dirty rectangle.
  for (int ty = (d.y1 / kTile) * kTile; ty < d.y2 && ok; ty += kTile) {
    for (int tx = (d.x1 / kTile) * kTile; tx < d.x2 && ok; tx += kTile) {
      const int w = std::min(kTile, target_.width() - tx), h = std::min(kTile, target_.height() - ty);
      if (w <= 0 || h <= 0) continue;
      UINT32 size = 0;
      BYTE* out = freerdp_bitmap_compress_planar(planar_, fb + static_cast<std::size_t>(ty) * stride + tx * 4,
                                                 PIXEL_FORMAT_BGRX32, static_cast<UINT32>(w), static_cast<UINT32>(h),
                                                 static_cast<UINT32>(stride), nullptr, &size);
      if (!out) {
        ok = false;
        break;
      }
      BITMAP_DATA b{};
      b.destLeft = static_cast<UINT32>(tx);
      b.destTop = static_cast<UINT32>(ty);
      b.destRight = static_cast<UINT32>(tx + w - 1);
      b.destBottom = static_cast<UINT32>(ty + h - 1);
      b.width = static_cast<UINT32>(w);
      b.height = static_cast<UINT32>(h);
      b.bitsPerPixel = 32;
      b.cbScanWidth = static_cast<UINT32>(w * 4);
      b.compressed = TRUE;
      b.bitmapLength = size;
      b.bitmapDataStream = out;
      tiles.push_back(b);
      buffers.push_back(out);
      batch_bytes += size;
      bytes_to_client_ += size;
      if (batch_bytes > 48 * 1024 || tiles.size() >= 32) flush();
    }
  }
  flush();
  for (BYTE* b : buffers) free(b);
  return ok;
}

void Connection::onKeyboard(UINT16 flags, UINT16 code) {
  if (!target_up_ || suspended_) return;
  ++input_events_;
  keys_.key(code & 0xFF, (flags & KBD_FLAGS_EXTENDED) != 0, (flags & KBD_FLAGS_RELEASE) != 0, sessionMs());
  target_.keyboard(flags, code);
}

void Connection::onUnicode(UINT16 flags, UINT16 code) {
  if (!target_up_ || suspended_) return;
  ++input_events_;
  keys_.unicode(code, (flags & KBD_FLAGS_RELEASE) != 0, sessionMs());
  target_.unicode(flags, code);
}

void Connection::onMouse(UINT16 flags, UINT16 x, UINT16 y, bool extended) {
  if (!target_up_ || suspended_) return;
  ++input_events_;
  if (extended) target_.extendedMouse(flags, x, y);
  else target_.mouse(flags, x, y);
}

void Connection::onSynchronize(UINT32 flags) {
  keys_.setCapsLock((flags & KBD_SYNC_CAPS_LOCK) != 0);
  if (target_up_) target_.synchronize(flags);
}

bool Connection::sendRfx(const DirtyRect& d, const std::uint8_t* fb) {
  const int w = target_.width(), h = target_.height();
  RFX_RECT rect{static_cast<UINT16>(d.x1), static_cast<UINT16>(d.y1), static_cast<UINT16>(d.x2 - d.x1),
                static_cast<UINT16>(d.y2 - d.y1)};
  size_t count = 0;
  rdpSettings* s = peer_->settings;
  RFX_MESSAGE* messages =
      rfx_encode_messages_ex(rfx_, &rect, 1, fb, static_cast<UINT32>(w), static_cast<UINT32>(h),
                             static_cast<UINT32>(target_.stride()), &count,
                             freerdp_settings_get_uint32(s, FreeRDP_MultifragMaxRequestSize));
  if (!messages) return false;
  SURFACE_BITS_COMMAND cmd{};
  cmd.cmdType = CMDTYPE_STREAM_SURFACE_BITS;
  cmd.destLeft = 0;
  cmd.destTop = 0;
  cmd.destRight = static_cast<UINT32>(w);
  cmd.destBottom = static_cast<UINT32>(h);
  cmd.bmp.bpp = 32;
  cmd.bmp.codecID = static_cast<UINT16>(freerdp_settings_get_uint32(s, FreeRDP_RemoteFxCodecId));
  cmd.bmp.width = static_cast<UINT16>(w);
  cmd.bmp.height = static_cast<UINT16>(h);
  cmd.skipCompression = TRUE;
  bool ok = true;
  for (size_t i = 0; i < count; ++i) {
    Stream_SetPosition(stream_, 0);
    if (ok && !rfx_write_message(rfx_, stream_, &messages[i])) ok = false;
    rfx_message_free(rfx_, &messages[i]);
    if (!ok) continue;
    cmd.bmp.bitmapDataLength = static_cast<UINT32>(Stream_GetPosition(stream_));
    cmd.bmp.bitmapData = Stream_Buffer(stream_);
    bytes_to_client_ += cmd.bmp.bitmapDataLength;
    if (!peer_->update->SurfaceBits(peer_->update->context, &cmd)) ok = false;
  }
  free(messages);
  return ok;
}

void Connection::sendScreen() {
  bool resized = false;
  DirtyRect d = target_.takeDirty(resized);
  if (!d.empty()) {
    pending_.add(d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1);
    video_dirty_ = true;
  }
  if (resized) {
    // The target changed its desktop size: the user's client follows.
    rdpSettings* s = peer_->settings;
    freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(target_.width()));
    freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(target_.height()));
    if (activated_) {
      peer_->update->DesktopResize(peer_->update->context);
      activated_ = false;  // the client re-activates; onActivate resets the encoder
      target_.pointer.attach(nullptr);  // pointer updates wait for that activation too
    }
    pending_.clear();
    full_refresh_ = true;
    if (banner_.shown()) banner_.render(banner_text_, target_.width());
  }
  recordFrame(session_->wantsFrame());  // forced: a SOC watcher joined and needs a first picture
  if (!activated_ || !output_allowed_) return;
  if (full_refresh_) {
    pending_.clear();
    pending_.add(0, 0, target_.width(), target_.height());
    full_refresh_ = false;
  }
  if (pending_.empty()) return;
  // At most ~30 updates a second: changes in between merge.
  if (Clock::now() - last_send_ < kSendInterval) return;
  DirtyRect r = pending_;
  r.x1 = std::max(r.x1, 0);
  r.y1 = std::max(r.y1, 0);
  r.x2 = std::min(r.x2, target_.width());
  r.y2 = std::min(r.y2, target_.height());
  pending_.clear();
  last_send_ = Clock::now();
  const std::uint8_t* fb = target_.buffer();
  if (banner_.shown()) {  // the person sees why their input stops: the notice over the picture
    const std::size_t size = static_cast<std::size_t>(target_.stride()) * target_.height();
    composed_.assign(fb, fb + size);
    banner_.overlay(composed_.data(), target_.width(), target_.height(), target_.stride());
    fb = composed_.data();
  }
  if (!r.empty() && !(use_rfx_ ? sendRfx(r, fb) : sendPlanar(r, fb))) rdpLog()->warn("session={} sending a screen update failed", session_->id());
}

void Connection::applyControlState() {
  const bool suspended = suspended_.load();
  if (suspended == shown_suspended_) return;
  shown_suspended_ = suspended;
  std::string message;
  {
    std::lock_guard lk(mu_);
    message = suspend_message_;
  }
  if (suspended) {
    banner_text_ = "Session suspended by the security team" + (message.empty() ? "" : ": " + message) +
                   "  \u2014  your keyboard and mouse do not reach the server";
    banner_.render(banner_text_, target_.width());
    if (clipboard_) clipboard_->setPaused(true);
    session_->note("suspended", message);
  } else {
    banner_.clear();
    composed_.clear();
    composed_.shrink_to_fit();
    if (clipboard_) clipboard_->setPaused(false);
    session_->note("resumed", "");
  }
  pending_.add(0, 0, target_.width(), ScreenBanner::kHeight);
}

void Connection::recordFrame(bool force) {
  if (!session_ || !target_up_ || !target_.buffer()) return;
  if (!video_dirty_ && !force) return;
  // The session core caps the video's frame rate too; this spares copying every small change.
  if (!force && Clock::now() - last_video_ < std::chrono::milliseconds(100)) return;
  last_video_ = Clock::now();
  video_dirty_ = false;
  session_->frame(target_.buffer(), target_.width(), target_.height(), target_.stride());
}

void Connection::flushKeys(bool finish) {
  if (!session_) return;
  if (finish) keys_.finish();
  else keys_.poll(sessionMs());
  for (auto& row : keys_.take()) {
    session_->keystrokes(row);
    OPENSSL_cleanse(row.data(), row.size());
  }
}

void Connection::flushClipboard() {
  if (!clipboard_ || !session_) return;
  for (auto& t : clipboard_->take()) {
    session_->clipboard(t);
    OPENSSL_cleanse(t.text.data(), t.text.size());
  }
}

void Connection::end(const std::string& reason, const std::string& detail) {
  if (ended_ || !session_) return;
  ended_ = true;
  if (clipboard_) clipboard_->stop();
  flushClipboard();
  flushKeys(true);
  recordFrame(true);
  session_->setControl(nullptr);
  session_->end(reason, detail, input_events_, bytes_to_client_);
  target_.pointer.attach(nullptr);
  rdpLog()->info("session={} ended: {} (pointer updates: {} sent, {} dropped)", session_->id(), reason,
                 target_.pointer.sent(), target_.pointer.dropped());
}

proto::Grant Connection::identityLogin(const proto::IdentityLogin& id, const crypto::SecureString& typed,
                                       const proto::ClientInfo& client) {
  std::string_view password = typed, code;
  // One password field: with TOTP the code follows the password.
  const bool totp = gk_.userHasTotp(id.vigil_user);
  if (totp && !proto::splitTotpSuffix(typed, password, code)) code = {};
  proto::Grant g = gk_.loginWithPassword(id, password, code, client);
  if (g.status == proto::Grant::Status::NeedTotp)
    g = gk_.refuseMissingTotp(g, "your Vigil user has TOTP: type the 6-digit code right after the password", client);
  return g;
}

void Connection::run() {
  rdpSettings* s = peer_->settings;
  freerdp_settings_set_string(s, FreeRDP_CertificateFile, o_.cert_file.c_str());
  freerdp_settings_set_string(s, FreeRDP_PrivateKeyFile, o_.key_file.c_str());
  freerdp_settings_set_bool(s, FreeRDP_RdpSecurity, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_TlsSecurity, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, FALSE);  // the token in the user name is the login
  freerdp_settings_set_bool(s, FreeRDP_RemoteFxCodec, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_NSCodec, FALSE);
  freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32);
  freerdp_settings_set_bool(s, FreeRDP_SuppressOutput, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_RefreshRect, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_SurfaceFrameMarkerEnabled, FALSE);
  peer_->PostConnect = cbPostConnect;
  peer_->Activate = cbActivate;
  peer_->input->KeyboardEvent = cbKeyboard;
  peer_->input->UnicodeKeyboardEvent = cbUnicode;
  peer_->input->MouseEvent = cbMouse;
  peer_->input->ExtendedMouseEvent = cbExtMouse;
  peer_->input->SynchronizeEvent = cbSync;
  peer_->update->SuppressOutput = cbSuppress;
  peer_->update->RefreshRect = cbRefresh;
  if (!peer_->Initialize(peer_)) {
    rdpLog()->warn("RDP client {}: peer initialization failed", addr_);
    return;
  }
  std::string reason = "client_closed", detail;
  for (;;) {
    HANDLE handles[64];
    DWORD n = peer_->GetEventHandles(peer_, handles, 32);
    if (n == 0) break;
    if (vcm_) handles[n++] = WTSVirtualChannelManagerGetEventHandle(vcm_);
    if (target_up_) n += target_.eventHandles(reinterpret_cast<void**>(handles + n), 64 - n);
    WaitForMultipleObjects(n, handles, FALSE, waitMs());
    if (!peer_->CheckFileDescriptor(peer_)) {
      detail = "the RDP client disconnected";
      break;
    }
    if (vcm_ && !WTSVirtualChannelManagerCheckFileDescriptor(vcm_)) {
      detail = "the RDP client's virtual channels failed";
      break;
    }
    if (target_up_ && !target_.check()) {
      reason = "target_closed";
      detail = "the target closed the connection";
      break;
    }
    if (o_.stopping && o_.stopping->load()) {
      detail = "Vigil is shutting down";
      break;
    }
    if (!session_ && Clock::now() - start_ > std::chrono::seconds(o_.login_grace_seconds)) {
      rdpLog()->warn("RDP client {} did not log in within {} s", addr_, o_.login_grace_seconds);
      break;
    }
    {
      std::lock_guard lk(mu_);
      if (terminate_) {
        reason = "terminated";
        detail = terminate_reason_;
        break;
      }
    }
    if (session_ && target_up_) {
      if (!session_->recordingHealthy()) {
        reason = "recording_failed";
        detail = "the recording failed and the safe requires recording";
        break;
      }
      applyControlState();
      sendScreen();
      flushKeys(false);
      flushClipboard();
    }
  }
  end(reason, detail);
  peer_->Disconnect(peer_);
}

}  // namespace

void initFreeRdpOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    signal(SIGPIPE, SIG_IGN);
    // FreeRDP logs through WLog; keep it to warnings unless the operator asked for more.
    if (!getenv("WLOG_LEVEL")) WLog_SetLogLevel(WLog_GetRoot(), WLOG_WARN);
    // The peer's virtual channel manager (the clipboard towards the client) through WinPR's WTS API.
    WTSRegisterWtsApiFunctionTable(FreeRDP_InitWtsApi());
  });
}

void serveConnection(int fd, const std::string& client_addr, proto::Gatekeeper& gatekeeper,
                     const ConnectionOptions& options) {
  try {
    freerdp_peer* peer = freerdp_peer_new(fd);
    if (!peer) {
      ::close(fd);
      return;
    }
    peer->ContextSize = sizeof(PeerContext);
    if (!freerdp_peer_context_new(peer)) {
      freerdp_peer_free(peer);
      return;
    }
    {
      Connection conn(peer, client_addr, gatekeeper, options);
      reinterpret_cast<PeerContext*>(peer->context)->conn = &conn;
      conn.run();
    }
    freerdp_peer_context_free(peer);
    freerdp_peer_free(peer);
  } catch (const std::exception& e) {
    rdpLog()->error("RDP connection from {} failed: {}", client_addr, e.what());
  }
}

}  // namespace vigil::rdp
