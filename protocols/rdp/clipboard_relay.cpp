#include "protocols/rdp/clipboard_relay.hpp"

#include <freerdp/channels/cliprdr.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/server/cliprdr.h>
#include <openssl/crypto.h>

#include <algorithm>

#include "protocols/rdp/clipboard_text.hpp"
#include "protocols/rdp/rdp_log.hpp"

namespace vigil::rdp {

// C trampolines: FreeRDP calls them on its channel threads; no exception crosses them.
struct ClipboardCallbacks {
  static ClipboardRelay* of(CliprdrServerContext* c) { return static_cast<ClipboardRelay*>(c->custom); }
  static ClipboardRelay* of(CliprdrClientContext* c) { return static_cast<ClipboardRelay*>(c->custom); }

  template <typename F>
  static UINT guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      rdpLog()->warn("clipboard relay: {}", e.what());
    } catch (...) {
    }
    return CHANNEL_RC_OK;
  }
  static std::vector<std::uint32_t> textFormats(const CLIPRDR_FORMAT_LIST* l) {
    std::vector<std::uint32_t> out;
    for (UINT32 i = 0; l && l->formats && i < l->numFormats; ++i)
      if (isTextFormat(l->formats[i].formatId)) out.push_back(l->formats[i].formatId);
    return out;
  }
  static bool ok(const CLIPRDR_FORMAT_DATA_RESPONSE* r) { return r && (r->msgFlags & CB_RESPONSE_OK) != 0; }

  // The person's client -> Vigil's cliprdr server.
  static UINT clientCapabilities(CliprdrServerContext* c, const CLIPRDR_CAPABILITIES*) {
    return guarded([&] { of(c)->clientReady(); });
  }
  static UINT clientFormatList(CliprdrServerContext* c, const CLIPRDR_FORMAT_LIST* l) {
    return guarded([&] { of(c)->clientFormatList(textFormats(l)); });
  }
  static UINT clientFormatDataRequest(CliprdrServerContext* c, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
    return guarded([&] { of(c)->clientFormatDataRequest(r ? r->requestedFormatId : 0); });
  }
  static UINT clientFormatDataResponse(CliprdrServerContext* c, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
    return guarded([&] { of(c)->clientFormatDataResponse(ok(r), r ? r->requestedFormatData : nullptr, r ? r->dataLen : 0); });
  }
  /// PDUs of no use to a text relay (locks, file streams, the temp directory, list responses).
  template <typename Context, typename Pdu>
  static UINT ignore(Context*, const Pdu*) {
    return CHANNEL_RC_OK;
  }

  // The target -> FreeRDP's cliprdr client addin on Vigil's target connection.
  static UINT targetMonitorReady(CliprdrClientContext* c, const CLIPRDR_MONITOR_READY*) {
    return guarded([&] { of(c)->targetMonitorReady(); });
  }
  static UINT targetFormatList(CliprdrClientContext* c, const CLIPRDR_FORMAT_LIST* l) {
    return guarded([&] { of(c)->targetFormatList(textFormats(l)); });
  }
  static UINT targetFormatDataRequest(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
    return guarded([&] { of(c)->targetFormatDataRequest(r ? r->requestedFormatId : 0); });
  }
  static UINT targetFormatDataResponse(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
    return guarded([&] { of(c)->targetFormatDataResponse(ok(r), r ? r->requestedFormatData : nullptr, r ? r->dataLen : 0); });
  }

  static CLIPRDR_FORMAT_LIST formatList(const std::vector<std::uint32_t>& ids, std::vector<CLIPRDR_FORMAT>& storage) {
    storage.clear();
    for (const auto id : ids) storage.push_back(CLIPRDR_FORMAT{id, nullptr});
    CLIPRDR_FORMAT_LIST l{};
    l.msgType = CB_FORMAT_LIST;
    l.numFormats = static_cast<UINT32>(storage.size());
    l.formats = storage.empty() ? nullptr : storage.data();
    return l;
  }
  static CLIPRDR_FORMAT_DATA_REQUEST dataRequest(std::uint32_t format) {
    CLIPRDR_FORMAT_DATA_REQUEST r{};
    r.msgType = CB_FORMAT_DATA_REQUEST;
    r.dataLen = 4;
    r.requestedFormatId = format;
    return r;
  }
  static CLIPRDR_FORMAT_DATA_RESPONSE dataResponse(const std::uint8_t* data, std::size_t size) {
    CLIPRDR_FORMAT_DATA_RESPONSE r{};
    r.msgType = CB_FORMAT_DATA_RESPONSE;
    r.msgFlags = CB_RESPONSE_OK;
    r.dataLen = static_cast<UINT32>(size);
    r.requestedFormatData = data;
    return r;
  }
  static CLIPRDR_FORMAT_DATA_RESPONSE failed() {
    CLIPRDR_FORMAT_DATA_RESPONSE r{};
    r.msgType = CB_FORMAT_DATA_RESPONSE;
    r.msgFlags = CB_RESPONSE_FAIL;
    return r;
  }
  static CLIPRDR_FORMAT_LIST_RESPONSE listAccepted() {
    CLIPRDR_FORMAT_LIST_RESPONSE r{};
    r.msgType = CB_FORMAT_LIST_RESPONSE;
    r.msgFlags = CB_RESPONSE_OK;
    return r;
  }
};

using CB = ClipboardCallbacks;


ClipboardRelay::~ClipboardRelay() { stop(); }

bool ClipboardRelay::startClientSide(void* vcm) {
  CliprdrServerContext* s = cliprdr_server_context_new(static_cast<HANDLE>(vcm));
  if (!s) {
    rdpLog()->warn("clipboard: FreeRDP could not create the clipboard channel towards the client");
    return false;
  }
  s->custom = this;
  // Text only: long format names as every current client sends them, no file streams, no locks.
  s->useLongFormatNames = TRUE;
  s->streamFileClipEnabled = FALSE;
  s->fileClipNoFilePaths = TRUE;
  s->canLockClipData = FALSE;
  s->autoInitializationSequence = TRUE;  // Vigil's own capabilities and Monitor Ready
  s->ClientCapabilities = CB::clientCapabilities;
  s->ClientFormatList = CB::clientFormatList;
  s->ClientFormatListResponse = CB::ignore<CliprdrServerContext, CLIPRDR_FORMAT_LIST_RESPONSE>;
  s->ClientFormatDataRequest = CB::clientFormatDataRequest;
  s->ClientFormatDataResponse = CB::clientFormatDataResponse;
  s->TempDirectory = CB::ignore<CliprdrServerContext, CLIPRDR_TEMP_DIRECTORY>;
  s->ClientLockClipboardData = CB::ignore<CliprdrServerContext, CLIPRDR_LOCK_CLIPBOARD_DATA>;
  s->ClientUnlockClipboardData = CB::ignore<CliprdrServerContext, CLIPRDR_UNLOCK_CLIPBOARD_DATA>;
  s->ClientFileContentsRequest = CB::ignore<CliprdrServerContext, CLIPRDR_FILE_CONTENTS_REQUEST>;
  s->ClientFileContentsResponse = CB::ignore<CliprdrServerContext, CLIPRDR_FILE_CONTENTS_RESPONSE>;
  {
    std::lock_guard lk(mu_);
    server_ = s;
  }
  if (s->Start(s) != CHANNEL_RC_OK) {
    rdpLog()->warn("clipboard: the clipboard channel towards the client did not start");
    {
      std::lock_guard lk(mu_);
      server_ = nullptr;
    }
    cliprdr_server_context_free(s);
    return false;
  }
  return true;
}

void ClipboardRelay::attachTarget(CliprdrClientContext* t) {
  if (!t) return;
  t->custom = this;
  t->MonitorReady = CB::targetMonitorReady;
  t->ServerCapabilities = CB::ignore<CliprdrClientContext, CLIPRDR_CAPABILITIES>;
  t->ServerFormatList = CB::targetFormatList;
  t->ServerFormatListResponse = CB::ignore<CliprdrClientContext, CLIPRDR_FORMAT_LIST_RESPONSE>;
  t->ServerFormatDataRequest = CB::targetFormatDataRequest;
  t->ServerFormatDataResponse = CB::targetFormatDataResponse;
  t->ServerLockClipboardData = CB::ignore<CliprdrClientContext, CLIPRDR_LOCK_CLIPBOARD_DATA>;
  t->ServerUnlockClipboardData = CB::ignore<CliprdrClientContext, CLIPRDR_UNLOCK_CLIPBOARD_DATA>;
  t->ServerFileContentsRequest = CB::ignore<CliprdrClientContext, CLIPRDR_FILE_CONTENTS_REQUEST>;
  t->ServerFileContentsResponse = CB::ignore<CliprdrClientContext, CLIPRDR_FILE_CONTENTS_RESPONSE>;
  std::lock_guard lk(mu_);
  target_ = t;
  target_ready_ = false;
}

void ClipboardRelay::detachTarget(CliprdrClientContext* t) {
  std::lock_guard lk(mu_);
  if (target_ != t) return;
  target_ = nullptr;
  target_ready_ = false;
  target_formats_.clear();
  pending_for_client_.clear();
  pending_for_target_.clear();
}

void ClipboardRelay::stop() {
  CliprdrServerContext* s = nullptr;
  {
    std::lock_guard lk(mu_);
    s = server_;
    server_ = nullptr;
    target_ = nullptr;
    target_ready_ = client_ready_ = false;
  }
  if (!s) return;
  s->Stop(s);  // joins the channel's thread: outside the lock, which its callbacks take
  cliprdr_server_context_free(s);
}

void ClipboardRelay::setPaused(bool paused) {
  std::lock_guard lk(mu_);
  paused_ = paused;
}

std::vector<proto::ClipboardTransfer> ClipboardRelay::take() {
  std::lock_guard lk(mu_);
  std::vector<proto::ClipboardTransfer> out;
  out.swap(done_);
  return out;
}

// ---- with mu_ held ----

void ClipboardRelay::announceToClient() {
  if (!server_ || !client_ready_) return;
  std::vector<CLIPRDR_FORMAT> storage;
  const CLIPRDR_FORMAT_LIST l = CB::formatList(target_formats_, storage);
  server_->ServerFormatList(server_, &l);
}

void ClipboardRelay::announceToTarget() {
  if (!target_ || !target_ready_) return;
  std::vector<CLIPRDR_FORMAT> storage;
  const CLIPRDR_FORMAT_LIST l = CB::formatList(client_formats_, storage);
  target_->ClientFormatList(target_, &l);
}

void ClipboardRelay::failToClient() {
  if (!server_) return;
  const CLIPRDR_FORMAT_DATA_RESPONSE r = CB::failed();
  server_->ServerFormatDataResponse(server_, &r);
}

void ClipboardRelay::failToTarget() {
  if (!target_) return;
  const CLIPRDR_FORMAT_DATA_RESPONSE r = CB::failed();
  target_->ClientFormatDataResponse(target_, &r);
}

void ClipboardRelay::record(bool to_target, std::uint32_t format, const std::uint8_t* data, std::size_t size) {
  ClipboardText text = decodeClipboardText(
      format, std::string_view(reinterpret_cast<const char*>(data), data ? size : 0),
      proto::ClipboardTransfer::kClipboardLogBytes);
  proto::ClipboardTransfer t;
  t.to_target = to_target;
  t.chars = text.chars;
  t.truncated = log_text_ && text.truncated;
  t.logged = log_text_;
  if (log_text_) t.text = std::move(text.utf8);
  else OPENSSL_cleanse(text.utf8.data(), text.utf8.size());  // counted, never kept
  done_.push_back(std::move(t));
}

// ---- the person's client ----

void ClipboardRelay::clientReady() {
  std::lock_guard lk(mu_);
  client_ready_ = true;
  if (!target_formats_.empty()) announceToClient();  // the target copied before the client was up
}

void ClipboardRelay::clientFormatList(std::vector<std::uint32_t> formats) {
  std::lock_guard lk(mu_);
  if (!server_) return;
  const CLIPRDR_FORMAT_LIST_RESPONSE accepted = CB::listAccepted();
  server_->ServerFormatListResponse(server_, &accepted);
  client_formats_ = std::move(formats);
  logged_to_target_ = false;  // a new copy on the person's side
  announceToTarget();
}

void ClipboardRelay::clientFormatDataRequest(std::uint32_t format) {
  std::lock_guard lk(mu_);
  const bool offered = std::find(target_formats_.begin(), target_formats_.end(), format) != target_formats_.end();
  if (paused_ || !target_ || !target_ready_ || !offered || pending_for_client_.size() >= kMaxPending) {
    failToClient();
    return;
  }
  pending_for_client_.push_back(format);
  const CLIPRDR_FORMAT_DATA_REQUEST r = CB::dataRequest(format);
  target_->ClientFormatDataRequest(target_, &r);
}

void ClipboardRelay::clientFormatDataResponse(bool ok, const std::uint8_t* data, std::size_t size) {
  std::lock_guard lk(mu_);
  if (!target_ || pending_for_target_.empty()) return;  // nothing of Vigil's asked for it
  const std::uint32_t format = pending_for_target_.front();
  pending_for_target_.pop_front();
  if (!ok || paused_) {
    failToTarget();
    return;
  }
  if (!logged_to_target_) record(true, format, data, size);
  logged_to_target_ = true;
  const CLIPRDR_FORMAT_DATA_RESPONSE r = CB::dataResponse(data, size);
  target_->ClientFormatDataResponse(target_, &r);
}

// ---- the target ----

void ClipboardRelay::targetMonitorReady() {
  std::lock_guard lk(mu_);
  if (!target_) return;
  CLIPRDR_GENERAL_CAPABILITY_SET general{};
  general.capabilitySetType = CB_CAPSTYPE_GENERAL;
  general.capabilitySetLength = 12;
  general.version = CB_CAPS_VERSION_2;
  general.generalFlags = CB_USE_LONG_FORMAT_NAMES;
  CLIPRDR_CAPABILITIES caps{};
  caps.msgType = CB_CLIP_CAPS;
  caps.cCapabilitiesSets = 1;
  caps.capabilitySets = reinterpret_cast<CLIPRDR_CAPABILITY_SET*>(&general);
  target_->ClientCapabilities(target_, &caps);
  target_ready_ = true;
  announceToTarget();  // the person's text formats, or an empty list (the protocol wants one)
}

void ClipboardRelay::targetFormatList(std::vector<std::uint32_t> formats) {
  std::lock_guard lk(mu_);
  if (!target_) return;
  const CLIPRDR_FORMAT_LIST_RESPONSE accepted = CB::listAccepted();
  target_->ClientFormatListResponse(target_, &accepted);
  target_formats_ = std::move(formats);
  logged_to_client_ = false;  // a new copy on the target
  announceToClient();
}

void ClipboardRelay::targetFormatDataRequest(std::uint32_t format) {
  std::lock_guard lk(mu_);
  const bool offered = std::find(client_formats_.begin(), client_formats_.end(), format) != client_formats_.end();
  if (paused_ || !server_ || !client_ready_ || !offered || pending_for_target_.size() >= kMaxPending) {
    failToTarget();
    return;
  }
  pending_for_target_.push_back(format);
  const CLIPRDR_FORMAT_DATA_REQUEST r = CB::dataRequest(format);
  server_->ServerFormatDataRequest(server_, &r);
}

void ClipboardRelay::targetFormatDataResponse(bool ok, const std::uint8_t* data, std::size_t size) {
  std::lock_guard lk(mu_);
  if (!server_ || pending_for_client_.empty()) return;
  const std::uint32_t format = pending_for_client_.front();
  pending_for_client_.pop_front();
  if (!ok || paused_) {
    failToClient();
    return;
  }
  if (!logged_to_client_) record(false, format, data, size);
  logged_to_client_ = true;
  const CLIPRDR_FORMAT_DATA_RESPONSE r = CB::dataResponse(data, size);
  server_->ServerFormatDataResponse(server_, &r);
}

}  // namespace vigil::rdp
