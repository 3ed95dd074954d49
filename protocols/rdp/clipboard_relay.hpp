#pragma once
// The clipboard of an RDP session, where the safe allows it ("allow_log" or "allow"): Vigil ends
// the clipboard channel on both legs — a cliprdr server towards the person's client (on the
// peer's virtual channel manager) and FreeRDP's cliprdr client addin towards the target — and
// relays only what a text copy and paste needs: format lists (reduced to the text formats), data
// requests and their responses. Files, pictures, locks and file streams never cross. Each leg's
// start-up (capabilities, monitor ready) is answered by Vigil itself, so either leg may come up
// first. While the session is suspended nothing crosses. Every transfer is reported for the
// session's timeline, with its text when the safe logs it.
//
// FreeRDP calls the relay from its channel threads (the cliprdr server's thread and the target
// connection's channel thread); one mutex guards the state, and sending to either leg only queues
// a message for that leg's own loop.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "protocols/session.hpp"

typedef struct _cliprdr_server_context CliprdrServerContext;
typedef struct _cliprdr_client_context CliprdrClientContext;

namespace vigil::rdp {

class ClipboardRelay {
 public:
  explicit ClipboardRelay(bool log_text) : log_text_(log_text) {}
  ~ClipboardRelay();
  ClipboardRelay(const ClipboardRelay&) = delete;
  ClipboardRelay& operator=(const ClipboardRelay&) = delete;

  /// Starts the clipboard towards the person's client on the peer's channel manager (`vcm`, the
  /// client joined "cliprdr"). False (with a log line) when FreeRDP could not start it.
  bool startClientSide(void* vcm);
  /// The target's clipboard channel connected (FreeRDP's ChannelConnected event), or went away.
  void attachTarget(CliprdrClientContext* target);
  void detachTarget(CliprdrClientContext* target);
  /// Stops the person's side and lets go of the target's; idempotent. Before the peer, its channel
  /// manager and the target connection are freed.
  void stop();
  /// While paused (the session is suspended) every request is answered "failed".
  void setPaused(bool paused);
  /// Transfers since the last call, for the session's timeline (the session's own thread).
  std::vector<proto::ClipboardTransfer> take();

 private:
  friend struct ClipboardCallbacks;  // the C trampolines (clipboard_relay.cpp), on FreeRDP's channel threads
  void clientReady();
  void clientFormatList(std::vector<std::uint32_t> formats);
  void clientFormatDataRequest(std::uint32_t format);
  void clientFormatDataResponse(bool ok, const std::uint8_t* data, std::size_t size);
  void targetMonitorReady();
  void targetFormatList(std::vector<std::uint32_t> formats);
  void targetFormatDataRequest(std::uint32_t format);
  void targetFormatDataResponse(bool ok, const std::uint8_t* data, std::size_t size);
  void record(bool to_target, std::uint32_t format, const std::uint8_t* data, std::size_t size);
  void failToClient();
  void failToTarget();
  void announceToClient();
  void announceToTarget();

  const bool log_text_;
  std::mutex mu_;
  CliprdrServerContext* server_ = nullptr;  // towards the person's client (owned)
  CliprdrClientContext* target_ = nullptr;  // towards the target (FreeRDP's addin owns it)
  bool client_ready_ = false;               // the person's client sent its capabilities
  bool target_ready_ = false;               // the target sent Monitor Ready and got Vigil's answer
  bool paused_ = false;
  std::vector<std::uint32_t> client_formats_;  // text formats the person's clipboard offers
  std::vector<std::uint32_t> target_formats_;  // text formats the target's clipboard offers
  // Requests relayed and not yet answered, oldest first (a side may ask again before the answer:
  // xrdp does); each answer goes with the oldest. At most kMaxPending: beyond, answered "failed".
  static constexpr std::size_t kMaxPending = 16;
  std::deque<std::uint32_t> pending_for_client_;  // formats the person asked the target for
  std::deque<std::uint32_t> pending_for_target_;  // formats the target asked the person for
  // One timeline row per copy and direction: the first time the other side takes the text. Later
  // requests for the same copy (every paste; xrdp also fetches at once) are relayed, not logged.
  bool logged_to_client_ = false;  // since the target's last format list
  bool logged_to_target_ = false;  // since the person's last format list
  std::vector<proto::ClipboardTransfer> done_;
};

}  // namespace vigil::rdp
