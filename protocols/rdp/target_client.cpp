#include "protocols/rdp/target_client.hpp"

#include <freerdp/addin.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/event.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/input.h>
#include <freerdp/settings.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <mutex>
#include <cstring>

#include "protocols/net/target_pin.hpp"
#include "protocols/rdp/clipboard_relay.hpp"
#include "protocols/rdp/rdp_log.hpp"
#include "server/crypto/secure_bytes.hpp"

namespace vigil::rdp {
namespace {

struct TargetContext {
  rdpContext base;
  TargetClient* self;
};

TargetClient* selfOf(rdpContext* c) { return reinterpret_cast<TargetContext*>(c)->self; }

// C callbacks: no exception may cross them.
int verifyCertificate(freerdp* instance, const BYTE* data, size_t length, const char* /*host*/, UINT16 /*port*/,
                      DWORD /*flags*/) {
  try {
    TargetClient* t = selfOf(instance->context);
    const std::string seen = proto::certificateFingerprintFromPem(
        std::string_view(reinterpret_cast<const char*>(data), length));
    t->seen_fingerprint = seen;
    if (seen.empty()) {
      t->pin = {};
      t->pin.ok = false;
      t->pin.reason = "error";
      t->pin.detail = "unreadable certificate";
      t->pin.message = "Vigil could not read the certificate of the target.";
      return 0;
    }
    const std::string sid = t->session_->id();
    t->pin = proto::checkTargetPin(*t->grant_, *t->gatekeeper_, sid, seen, "certificate", true);
    if (!t->pin.ok) return 0;
    if (t->pin.newly_pinned) {
      t->session_->note("host_key_pinned", seen);
      rdpLog()->info("session={} pinned certificate {} for target {}", sid, seen, t->grant_->target.name);
    }
    return 2;  // accepted for this session only: FreeRDP's own store stays out of it
  } catch (...) {
    return 0;
  }
}

// FreeRDP 2 allocates the framebuffer without clearing it: until the target paints every pixel,
// the person's picture and the recording would show whatever the memory held before — e.g. the
// screen of an earlier session in this process. It starts black.
void clearFramebuffer(rdpGdi* gdi) {
  if (gdi && gdi->primary_buffer) std::memset(gdi->primary_buffer, 0, static_cast<std::size_t>(gdi->stride) * gdi->height);
}

BOOL beginPaint(rdpContext* context) {
  rdpGdi* gdi = context->gdi;
  if (!gdi || !gdi->primary) return FALSE;
  gdi->primary->hdc->hwnd->invalid->null = TRUE;
  gdi->primary->hdc->hwnd->ninvalid = 0;
  return TRUE;
}

BOOL endPaint(rdpContext* context) {
  rdpGdi* gdi = context->gdi;
  if (!gdi || !gdi->primary) return FALSE;
  HGDI_WND hwnd = gdi->primary->hdc->hwnd;
  if (!hwnd->invalid->null) {
    selfOf(context)->dirty.add(hwnd->invalid->x, hwnd->invalid->y, hwnd->invalid->w, hwnd->invalid->h);
  }
  hwnd->invalid->null = TRUE;
  hwnd->ninvalid = 0;
  return TRUE;
}

BOOL desktopResize(rdpContext* context) {
  rdpGdi* gdi = context->gdi;
  if (!gdi_resize(gdi, context->settings->DesktopWidth, context->settings->DesktopHeight)) return FALSE;
  clearFramebuffer(gdi);
  TargetClient* t = selfOf(context);
  t->resized = true;
  t->dirty.add(0, 0, static_cast<int>(gdi->width), static_cast<int>(gdi->height));
  return TRUE;
}

// The target's pointer: copied out of FreeRDP's update and handed to the relay (see pointer_relay.hpp).
PointerShape copyShape(UINT32 bpp, UINT32 hot_x, UINT32 hot_y, UINT32 w, UINT32 h, const BYTE* xor_mask, UINT32 xor_len,
                       const BYTE* and_mask, UINT32 and_len) {
  PointerShape s;
  s.xor_bpp = bpp;
  s.hot_x = hot_x;
  s.hot_y = hot_y;
  s.width = w;
  s.height = h;
  if (xor_mask) s.xor_mask.assign(xor_mask, xor_mask + xor_len);
  if (and_mask) s.and_mask.assign(and_mask, and_mask + and_len);
  return s;
}
BOOL pointerPosition(rdpContext* c, const POINTER_POSITION_UPDATE* u) {
  if (u) selfOf(c)->pointer.position(u->xPos, u->yPos);
  return TRUE;
}
BOOL pointerSystem(rdpContext* c, const POINTER_SYSTEM_UPDATE* u) {
  if (u) selfOf(c)->pointer.system(u->type);
  return TRUE;
}
BOOL pointerColor(rdpContext* c, const POINTER_COLOR_UPDATE* u) {
  if (u)
    selfOf(c)->pointer.shape(u->cacheIndex, copyShape(24, u->xPos, u->yPos, u->width, u->height, u->xorMaskData,
                                                      u->lengthXorMask, u->andMaskData, u->lengthAndMask));
  return TRUE;
}
BOOL pointerNew(rdpContext* c, const POINTER_NEW_UPDATE* u) {
  if (!u) return TRUE;
  const POINTER_COLOR_UPDATE& a = u->colorPtrAttr;
  selfOf(c)->pointer.shape(a.cacheIndex, copyShape(u->xorBpp, a.xPos, a.yPos, a.width, a.height, a.xorMaskData,
                                                   a.lengthXorMask, a.andMaskData, a.lengthAndMask));
  return TRUE;
}
BOOL pointerLarge(rdpContext* c, const POINTER_LARGE_UPDATE* u) {
  if (u)
    selfOf(c)->pointer.shape(u->cacheIndex, copyShape(u->xorBpp, u->hotSpotX, u->hotSpotY, u->width, u->height,
                                                      u->xorMaskData, u->lengthXorMask, u->andMaskData, u->lengthAndMask));
  return TRUE;
}
BOOL pointerCached(rdpContext* c, const POINTER_CACHED_UPDATE* u) {
  if (u) selfOf(c)->pointer.cached(u->cacheIndex);
  return TRUE;
}

// The target's clipboard channel (FreeRDP's cliprdr addin) came up or went away.
void channelConnected(void* context, ChannelConnectedEventArgs* e) {
  TargetClient* t = selfOf(static_cast<rdpContext*>(context));
  if (t->clipboard && e && e->name && std::strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0)
    t->clipboard->attachTarget(static_cast<CliprdrClientContext*>(e->pInterface));
}
void channelDisconnected(void* context, ChannelDisconnectedEventArgs* e) {
  TargetClient* t = selfOf(static_cast<rdpContext*>(context));
  if (t->clipboard && e && e->name && std::strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0)
    t->clipboard->detachTarget(static_cast<CliprdrClientContext*>(e->pInterface));
}

BOOL preConnect(freerdp* instance) {
  TargetClient* t = selfOf(instance->context);
  if (!t->clipboard) return TRUE;
  // The clipboard is the one static channel Vigil opens to the target (FreeRDP's built-in addins,
  // as its own clients load them); everything else stays off in the settings.
  static std::once_flag addins;
  std::call_once(addins, [] { freerdp_register_addin_provider(freerdp_channels_load_static_addin_entry, 0); });
  PubSub_SubscribeChannelConnected(instance->context->pubSub, channelConnected);
  PubSub_SubscribeChannelDisconnected(instance->context->pubSub, channelDisconnected);
  return freerdp_client_load_addins(instance->context->channels, instance->settings);
}

BOOL postConnect(freerdp* instance) {
  if (!gdi_init(instance, PIXEL_FORMAT_BGRX32)) return FALSE;
  clearFramebuffer(instance->context->gdi);
  instance->update->BeginPaint = beginPaint;
  instance->update->EndPaint = endPaint;
  instance->update->DesktopResize = desktopResize;
  rdpPointerUpdate* pointer = instance->update->pointer;
  pointer->PointerPosition = pointerPosition;
  pointer->PointerSystem = pointerSystem;
  pointer->PointerColor = pointerColor;
  pointer->PointerNew = pointerNew;
  pointer->PointerCached = pointerCached;
  pointer->PointerLarge = pointerLarge;
  TargetClient* t = selfOf(instance->context);
  t->dirty.add(0, 0, static_cast<int>(instance->context->gdi->width), static_cast<int>(instance->context->gdi->height));
  return TRUE;
}

void postDisconnect(freerdp* instance) { gdi_free(instance); }

// The credential is in the settings already; never prompt.
BOOL authenticate(freerdp*, char**, char**, char**) { return TRUE; }

void wipeSetting(rdpSettings* s, size_t id) {
  if (const char* v = freerdp_settings_get_string(s, id)) {
    // FreeRDP frees without zeroing: zero the secret first.
    char* p = const_cast<char*>(v);
    std::memset(p, 0, std::strlen(p));
  }
  freerdp_settings_set_string(s, id, nullptr);
}

}  // namespace

void DirtyRect::add(int ax, int ay, int aw, int ah) {
  if (aw <= 0 || ah <= 0) return;
  if (empty()) {
    x1 = ax, y1 = ay, x2 = ax + aw, y2 = ay + ah;
    return;
  }
  x1 = std::min(x1, ax);
  y1 = std::min(y1, ay);
  x2 = std::max(x2, ax + aw);
  y2 = std::max(y2, ay + ah);
}

TargetClient::TargetClient() {
  instance_ = freerdp_new();
  if (!instance_) return;
  instance_->ContextSize = sizeof(TargetContext);
  instance_->PreConnect = preConnect;
  instance_->PostConnect = postConnect;
  instance_->PostDisconnect = postDisconnect;
  instance_->Authenticate = authenticate;
  instance_->VerifyX509Certificate = verifyCertificate;
  if (!freerdp_context_new(instance_)) {
    freerdp_free(instance_);
    instance_ = nullptr;
    return;
  }
  reinterpret_cast<TargetContext*>(instance_->context)->self = this;
}

TargetClient::~TargetClient() {
  if (!instance_) return;
  if (connected_) freerdp_disconnect(instance_);
  if (instance_->settings) {
    wipeSetting(instance_->settings, FreeRDP_Password);
  }
  freerdp_context_free(instance_);
  freerdp_free(instance_);
}

bool TargetClient::connect(const proto::Grant& grant, proto::Credential& cred, int width, int height,
                           int timeout_seconds, proto::Gatekeeper& gatekeeper, proto::Session& session,
                           TargetFailure& failure) {
  if (!instance_) {
    failure = {"error", "FreeRDP client setup failed", "Vigil could not start the RDP client."};
    return false;
  }
  grant_ = &grant;
  gatekeeper_ = &gatekeeper;
  session_ = &session;
  rdpSettings* s = instance_->settings;
  freerdp_settings_set_string(s, FreeRDP_ServerHostname, grant.target.address.c_str());
  freerdp_settings_set_uint32(s, FreeRDP_ServerPort, static_cast<UINT32>(grant.target.port > 0 ? grant.target.port : 3389));
  std::string user = cred.username, domain;
  if (auto bs = user.find('\\'); bs != std::string::npos) {
    domain = user.substr(0, bs);
    user = user.substr(bs + 1);
  }
  freerdp_settings_set_string(s, FreeRDP_Username, user.c_str());
  if (!domain.empty()) freerdp_settings_set_string(s, FreeRDP_Domain, domain.c_str());
  if (cred.kind == "password") {
    freerdp_settings_set_string(s, FreeRDP_Password, cred.secret.c_str());
  }
  if (!cred.secret.empty()) OPENSSL_cleanse(cred.secret.data(), cred.secret.size());
  cred.secret.clear();
  // NLA first; TLS when the target does not offer NLA (negotiated, never plain RDP security).
  freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_TlsSecurity, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_RdpSecurity, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_ExternalCertificateManagement, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_IgnoreCertificate, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_AutoReconnectionEnabled, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_SoftwareGdi, TRUE);
  freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32);
  freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(width));
  freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(height));
  freerdp_settings_set_uint32(s, FreeRDP_TcpConnectTimeout, static_cast<UINT32>(timeout_seconds * 1000));
  freerdp_settings_set_bool(s, FreeRDP_DeviceRedirection, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_RedirectClipboard, clipboard != nullptr);
  for (const size_t off : {FreeRDP_SupportDynamicChannels, FreeRDP_SupportDisplayControl, FreeRDP_SupportEchoChannel,
                           FreeRDP_SupportGeometryTracking, FreeRDP_SupportVideoOptimized, FreeRDP_EncomspVirtualChannel,
                           FreeRDP_RemdeskVirtualChannel, FreeRDP_MultiTouchInput, FreeRDP_AudioCapture,
                           FreeRDP_RemoteApplicationMode, FreeRDP_SupportSSHAgentChannel})
    freerdp_settings_set_bool(s, off, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_AudioPlayback, FALSE);
  // Lossless pictures from the target (planar / interleaved bitmaps): the recording encodes the
  // real screen, not a lossy codec's noise that changes every frame (RemoteFX made the video
  // several times larger), and the person's picture is re-encoded from a clean copy.
  freerdp_settings_set_bool(s, FreeRDP_RemoteFxCodec, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_NSCodec, FALSE);
  freerdp_settings_set_bool(s, FreeRDP_SupportGraphicsPipeline, FALSE);
  // Pointer shapes of at most 96x96 (every client takes them), in Vigil's own cache.
  freerdp_settings_set_bool(s, FreeRDP_ColorPointerFlag, TRUE);
  freerdp_settings_set_uint32(s, FreeRDP_PointerCacheSize, PointerRelay::kCacheSize);
  freerdp_settings_set_uint32(s, FreeRDP_LargePointerFlag, 0);

  const std::string sid = session.id();
  const bool ok = freerdp_connect(instance_);
  wipeSetting(s, FreeRDP_Password);
  const std::string where = grant.target.address + ":" + std::to_string(grant.target.port);
  if (ok) {
    connected_ = true;
    rdpLog()->info("session={} connected to {} ({}x{})", sid, where, this->width(), this->height());
    return true;
  }
  const UINT32 err = freerdp_get_last_error(instance_->context);
  const std::string name = freerdp_get_last_error_name(err) ? freerdp_get_last_error_name(err) : "unknown";
  const std::string text = freerdp_get_last_error_string(err) ? freerdp_get_last_error_string(err) : "";
  if (!pin.ok) {
    rdpLog()->warn("session={} certificate of {} refused: {} ({})", sid, where, pin.reason, pin.detail);
    failure = {pin.reason, pin.detail, pin.message};
  } else if (name.find("AUTH") != std::string::npos || name.find("LOGON") != std::string::npos ||
             name.find("PASSWORD") != std::string::npos || name.find("ACCOUNT") != std::string::npos) {
    failure = {"target_auth_failed", name, "The target refused the vault credential."};
  } else {
    failure = {"target_unreachable", where + ": " + name + " " + text,
               "Vigil could not reach " + grant.target.name + "."};
  }
  rdpLog()->warn("session={} target {} failed: {} ({})", sid, where, failure.reason, name);
  return false;
}

std::uint32_t TargetClient::eventHandles(void** handles, std::uint32_t room) {
  if (!connected_) return 0;
  return freerdp_get_event_handles(instance_->context, reinterpret_cast<HANDLE*>(handles), room);
}

bool TargetClient::check() {
  if (!connected_) return false;
  if (!freerdp_check_event_handles(instance_->context)) return false;
  return !freerdp_shall_disconnect(instance_);
}

const std::uint8_t* TargetClient::buffer() const {
  return instance_ && instance_->context->gdi ? instance_->context->gdi->primary_buffer : nullptr;
}
int TargetClient::width() const {
  return instance_ && instance_->context->gdi ? static_cast<int>(instance_->context->gdi->width) : 0;
}
int TargetClient::height() const {
  return instance_ && instance_->context->gdi ? static_cast<int>(instance_->context->gdi->height) : 0;
}
int TargetClient::stride() const {
  return instance_ && instance_->context->gdi ? static_cast<int>(instance_->context->gdi->stride) : 0;
}

DirtyRect TargetClient::takeDirty(bool& was_resized) {
  DirtyRect d = dirty;
  dirty.clear();
  was_resized = resized;
  resized = false;
  // Clip to the framebuffer.
  d.x1 = std::max(d.x1, 0);
  d.y1 = std::max(d.y1, 0);
  d.x2 = std::min(d.x2, width());
  d.y2 = std::min(d.y2, height());
  return d;
}

void TargetClient::keyboard(std::uint16_t flags, std::uint16_t code) {
  if (connected_) freerdp_input_send_keyboard_event(instance_->input, flags, code);
}
void TargetClient::unicode(std::uint16_t flags, std::uint16_t code) {
  if (connected_) freerdp_input_send_unicode_keyboard_event(instance_->input, flags, code);
}
void TargetClient::mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  if (connected_) freerdp_input_send_mouse_event(instance_->input, flags, x, y);
}
void TargetClient::extendedMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  if (connected_) freerdp_input_send_extended_mouse_event(instance_->input, flags, x, y);
}
void TargetClient::synchronize(std::uint32_t flags) {
  if (connected_) freerdp_input_send_synchronize_event(instance_->input, flags);
}

}  // namespace vigil::rdp
