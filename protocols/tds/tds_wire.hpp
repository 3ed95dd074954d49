#pragma once
// MS-TDS wire format (TDS 7.x): the 8-byte packet header, PRELOGIN options, LOGIN7 parse and
// rewrite with the password obfuscation, and the few server tokens Vigil writes itself (ERROR,
// DONE, PRELOGIN response). Pure functions on bytes: no sockets, no logging.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::tds {

// Packet types (MS-TDS 2.2.3.1.1).
enum PacketType : std::uint8_t {
  kSqlBatch = 0x01,
  kRpc = 0x03,
  kTabularResult = 0x04,
  kAttention = 0x06,
  kBulkLoad = 0x07,
  kTransactionManager = 0x0E,
  kLogin7 = 0x10,
  kSspi = 0x11,
  kPrelogin = 0x12,
};
constexpr std::uint8_t kStatusEom = 0x01;
constexpr std::size_t kHeaderSize = 8;
/// TDS packets are at most 32,767 bytes (the negotiated packet size's ceiling).
constexpr std::size_t kMaxPacketSize = 32767;

// PRELOGIN ENCRYPTION values.
enum Encryption : std::uint8_t { kEncryptOff = 0, kEncryptOn = 1, kEncryptNotSup = 2, kEncryptReq = 3 };

// Token types (MS-TDS 2.2.7).
enum Token : std::uint8_t {
  kTokAltMetadata = 0x88,
  kTokAltRow = 0xD3,
  kTokColMetadata = 0x81,
  kTokColInfo = 0xA5,
  kTokDone = 0xFD,
  kTokDoneProc = 0xFE,
  kTokDoneInProc = 0xFF,
  kTokEnvChange = 0xE3,
  kTokError = 0xAA,
  kTokFeatureExtAck = 0xAE,
  kTokFedAuthInfo = 0xEE,
  kTokInfo = 0xAB,
  kTokLoginAck = 0xAD,
  kTokNbcRow = 0xD2,
  kTokOffset = 0x78,
  kTokOrder = 0xA9,
  kTokReturnStatus = 0x79,
  kTokReturnValue = 0xAC,
  kTokRow = 0xD1,
  kTokSessionState = 0xE4,
  kTokSspi = 0xED,
  kTokTabName = 0xA4,
};
// DONE status bits.
constexpr std::uint16_t kDoneMore = 0x01, kDoneError = 0x02, kDoneCount = 0x10, kDoneAttn = 0x20,
                        kDoneSrvError = 0x100;

struct PacketHeader {
  std::uint8_t type = 0;
  std::uint8_t status = 0;
  std::uint16_t length = 0;  // header included
  std::uint16_t spid = 0;
  std::uint8_t packet_id = 0;
  std::uint8_t window = 0;
  bool eom() const { return (status & kStatusEom) != 0; }
};

/// Reads the header at the start of `bytes` (needs 8 bytes). Nullopt with `why` when the length
/// is below 8 or above kMaxPacketSize.
std::optional<PacketHeader> readHeader(std::string_view bytes, std::string& why);
/// One or more packets of `type` carrying `payload`, split at `packet_size`, EOM on the last.
std::string buildPackets(std::uint8_t type, std::string_view payload, std::size_t packet_size = 4096);

/// Splits a byte stream into whole packets (header + payload). Bounded: a header with an
/// impossible length makes it fail once (`failed()`), after which it returns nothing.
class PacketFramer {
 public:
  void push(std::string_view bytes);
  /// The next whole packet, or nullopt when more bytes are needed (or after a failure).
  std::optional<std::string> next();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buf_.size() - pos_; }
  /// The bytes buffered and not yet returned as packets.
  std::string_view peek() const { return std::string_view(buf_).substr(pos_); }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------- text

/// UTF-16LE to UTF-8 (unpaired surrogates become U+FFFD).
std::string utf16ToUtf8(std::string_view utf16le);
/// UTF-8 to UTF-16LE (invalid bytes become U+FFFD).
std::string utf8ToUtf16(std::string_view utf8);

// ---------------------------------------------------------------- PRELOGIN

struct PreloginOption {
  std::uint8_t token = 0;
  std::string data;
};
constexpr std::uint8_t kPreVersion = 0x00, kPreEncryption = 0x01, kPreInstOpt = 0x02, kPreThreadId = 0x03,
                       kPreMars = 0x04, kPreTraceId = 0x05, kPreFedAuth = 0x06, kPreNonce = 0x07;
/// Parses a PRELOGIN payload (option table terminated by 0xFF, then the data it points at).
std::optional<std::vector<PreloginOption>> parsePrelogin(std::string_view payload, std::string& why);
std::string buildPrelogin(const std::vector<PreloginOption>& options);
/// The ENCRYPTION option's value, or nullopt when absent.
std::optional<std::uint8_t> preloginEncryption(const std::vector<PreloginOption>& options);

// ---------------------------------------------------------------- LOGIN7

/// MS-TDS 2.2.6.4: each byte's nibbles swapped, then XOR 0xA5 (over the UTF-16LE password).
std::string obfuscatePassword(std::string_view utf16le);
std::string deobfuscatePassword(std::string_view obfuscated);

struct Login7 {
  std::uint32_t tds_version = 0;
  std::uint32_t packet_size = 0;
  std::string host_name;   // UTF-8
  std::string user_name;   // UTF-8
  crypto::SecureString password;  // UTF-8, deobfuscated
  std::string app_name;
  std::string server_name;
  std::string library_name;
  std::string database;
  bool integrated_security = false;  // OptionFlags2 fIntSecurity (SSPI): not supported by Vigil
};
/// Parses a LOGIN7 payload; every offset/length is checked against the payload.
std::optional<Login7> parseLogin7(std::string_view payload, std::string& why);
/// The same LOGIN7 with the user name and password replaced (every offset behind them, the
/// FeatureExt pointer and the total length adjusted). Nullopt with `why` when it does not parse.
std::optional<crypto::SecureString> rewriteLogin7(std::string_view payload, std::string_view user_utf8,
                                                  std::string_view password_utf8, std::string& why);

// ---------------------------------------------------------------- tokens Vigil writes

std::string errorToken(std::int32_t number, std::uint8_t state, std::uint8_t severity, std::string_view message,
                       std::string_view server_name);
std::string doneToken(std::uint8_t token, std::uint16_t status, std::uint64_t rows);
/// A whole TABULAR RESULT message: ERROR + DONE(error), as a server refuses a login or statement.
std::string errorReply(std::int32_t number, std::string_view message, std::uint8_t severity = 14);

}  // namespace vigil::tds
