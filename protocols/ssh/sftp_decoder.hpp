#pragma once
// SftpDecoder: reads both directions of an SFTP channel (draft-ietf-secsh-filexfer-02, protocol
// version 3 as OpenSSH speaks it) and reports file operations. Bytes in, facts out: it buffers
// partial packets, never alters or keeps file contents, and has no sockets, threads or logging.
//
// A request is remembered by its id until the server answers; an OPEN's HANDLE reply maps the
// handle to the path, READ/WRITE replies add to the byte count, and the CLOSE status reports one
// upload or download. Memory is bounded: an oversized packet, too many outstanding requests or
// open handles, or anything that does not parse makes the decoder report onMalformed once and go
// inert (the proxy keeps relaying; only the decoding stops).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/session.hpp"

namespace vigil::ssh {

class SftpDecoder {
 public:
  /// What the decoder learns. Called synchronously from clientBytes/serverBytes/finish (and,
  /// for ScpDecoder, its constructor); arguments are borrowed for the call.
  struct Callbacks {
    virtual ~Callbacks() = default;
    virtual void onFileOperation(const proto::FileOperation& op) = 0;
    virtual void onMalformed(std::string_view why) = 0;
  };

  /// OpenSSH's limit is 256 KiB for a whole packet; a little slack for other servers' headers.
  static constexpr std::size_t kMaxPacketLength = 256 * 1024 + 1024;
  /// Outstanding requests and open file handles each.
  static constexpr std::size_t kMaxTracked = 4096;
  /// Paths and handles kept for outstanding requests and open files, in bytes.
  static constexpr std::size_t kMaxTrackedBytes = 8 * 1024 * 1024;

  /// `cb` must outlive the decoder.
  explicit SftpDecoder(Callbacks& cb);
  SftpDecoder(const SftpDecoder&) = delete;
  SftpDecoder& operator=(const SftpDecoder&) = delete;

  /// Client -> server bytes of the sftp channel, split anywhere. Borrowed for the call.
  void clientBytes(std::string_view bytes);
  /// Server -> client bytes of the sftp channel, split anywhere. Borrowed for the call.
  void serverBytes(std::string_view bytes);
  /// The channel closed: reports transfers and requests still open with ok=false, in the order
  /// they were requested. Idempotent; later bytes are ignored.
  void finish();
  /// True once the decoder stopped decoding (malformed input or finish()).
  bool inert() const { return inert_; }

 private:
  enum class Kind { Open, Read, Write, Close, Simple };
  struct Pending {
    Kind kind = Kind::Simple;
    std::uint64_t seq = 0;       // request order, for finish()
    std::uint64_t transfer = 0;  // Read/Write/Close: the transfer it belongs to
    std::uint64_t length = 0;    // Write: data length
    proto::FileOperation op;     // Open/Simple: what to report
  };
  struct Transfer {
    proto::FileOperation op;
    bool failed = false;  // a READ or WRITE failed
  };

  void feed(std::string& buf, std::string_view in, bool from_client);
  void clientPacket(std::string_view p);
  void serverPacket(std::string_view p);
  void reply(std::uint32_t id, std::uint8_t type, std::uint32_t status, std::uint64_t data_len,
             std::string_view handle);
  void track(std::uint32_t id, Pending p);
  void dropPending(std::unordered_map<std::uint32_t, Pending>::iterator it);
  void endTransfer(std::uint64_t transfer, bool ok);
  void malformed(std::string_view why);
  static std::size_t weight(const proto::FileOperation& op) { return op.path.size() + op.path2.size(); }

  Callbacks& cb_;
  bool inert_ = false;
  bool finished_ = false;
  bool client_started_ = false;  // INIT seen
  bool server_started_ = false;  // VERSION seen
  std::string client_buf_, server_buf_;
  std::uint64_t next_seq_ = 1;
  std::size_t tracked_bytes_ = 0;
  std::unordered_map<std::uint32_t, Pending> pending_;         // request id -> request
  std::unordered_map<std::string, std::uint64_t> handles_;     // open file handle -> transfer
  std::map<std::uint64_t, Transfer> transfers_;                // transfer (= OPEN seq) -> state
};

}  // namespace vigil::ssh
