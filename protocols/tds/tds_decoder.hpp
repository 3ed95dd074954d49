#pragma once
// TdsDecoder: watches both directions of a TDS connection after login and reports what the
// client asked (SQLBatch text, RPC calls with their parameters as text, ATTENTION) and how the
// server answered (DONE* row counts, ERROR messages, LOGINACK) once per response message.
// Bytes in, facts out: no sockets, threads or logging; it never alters the bytes.
//
// Memory is bounded: a request message above kMaxRequest is reported as "too large" (not
// decoded); a server token above kMaxToken, or one that does not parse, makes the decoder skip
// the rest of that response (rows/error unknown) and report onMalformed once per message. The
// connection is never broken by the decoder.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/tds/tds_wire.hpp"

namespace vigil::tds {

/// A column's or parameter's TYPE_INFO, as much as is needed to read or skip its value.
struct TypeInfo {
  enum class Len { Fixed, Byte, UShort, Plp, Long, Variant };
  std::uint8_t type = 0;
  Len len = Len::Fixed;
  std::size_t fixed = 0;      // Len::Fixed: the value's size
  std::uint32_t max_len = 0;  // declared maximum
};

/// One client request (one message up to EOM).
struct Request {
  std::uint8_t type = 0;  // kSqlBatch, kRpc, kBulkLoad, kTransactionManager, ...
  std::string kind;       // "batch", "rpc", "bulk", "transaction", "other"
  std::string text;       // UTF-8: the batch, the sp_executesql statement, or "EXEC proc args"
  std::string parameters; // JSON array of parameter values as text ('' when none)
  bool decoded = true;    // false: the message did not parse (text says why)
};

/// One server response message (up to EOM).
struct Response {
  std::int64_t rows = -1;    // sum of the DONE* counts that carry DONE_COUNT; -1 when none
  std::string error;         // ERROR messages, "; "-joined ('' when none)
  std::int32_t error_number = 0;  // the first ERROR's number
  bool attention_ack = false;     // a DONE with DONE_ATTN: the server confirmed a cancel
  bool login_ack = false;         // LOGINACK seen
  bool complete = true;           // false: some tokens could not be decoded
};

/// Parses one whole client message (`payload` is the concatenated packet payloads).
/// `tds_version` is LOGIN7's (ALL_HEADERS exist from 7.2 on).
Request parseRequest(std::uint8_t type, std::string_view payload, std::uint32_t tds_version = 0x74000004);

class TdsDecoder {
 public:
  struct Callbacks {
    virtual ~Callbacks() = default;
    virtual void onRequest(const Request& request) = 0;
    virtual void onAttention() = 0;
    virtual void onResponse(const Response& response) = 0;
    virtual void onMalformed(std::string_view why) = 0;
  };
  static constexpr std::size_t kMaxRequest = 16 * 1024 * 1024;
  static constexpr std::size_t kMaxToken = 1024 * 1024;

  explicit TdsDecoder(Callbacks& cb, std::uint32_t tds_version = 0x74000004) : cb_(cb), version_(tds_version) {}
  TdsDecoder(const TdsDecoder&) = delete;
  TdsDecoder& operator=(const TdsDecoder&) = delete;

  /// Client -> server bytes (plaintext TDS packets), split anywhere.
  void clientBytes(std::string_view bytes);
  /// Server -> client bytes, split anywhere.
  void serverBytes(std::string_view bytes);
  /// True once a stream's framing broke (that direction is no longer decoded).
  bool inert() const { return client_.failed() && server_.failed(); }

 private:
  void clientPacket(const std::string& packet);
  void serverPacket(const std::string& packet);
  void parseTokens(bool eom);
  // Parses one token at the front of `tokens_`; 1 = parsed, 0 = needs more bytes, -1 = malformed.
  int parseToken(std::string_view in, std::size_t& used, std::string& why);

  Callbacks& cb_;
  std::uint32_t version_;
  PacketFramer client_, server_;
  bool client_framing_reported_ = false, server_framing_reported_ = false;
  // Client message being assembled.
  std::uint8_t req_type_ = 0;
  std::string req_;
  bool req_oversized_ = false;
  bool prelogin_reply_ = false;  // the next server message answers a PRELOGIN
  // Server message being decoded.
  std::string tokens_;
  Response resp_;
  bool resp_lost_ = false;
  std::vector<TypeInfo> columns_;  // the last COLMETADATA (to skip ROW values)
};

}  // namespace vigil::tds
