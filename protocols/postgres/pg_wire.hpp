#pragma once
// PostgreSQL wire protocol v3 framing (no sockets): a framer that cuts a byte stream into whole
// messages with a length limit, a reader for message bodies, and builders for the few messages
// Vigil itself sends (authentication requests, ErrorResponse, ReadyForQuery, StartupMessage).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::pg {

/// Protocol version 3.0 and the special startup codes.
constexpr std::uint32_t kProtocol3 = 196608;
constexpr std::uint32_t kSslRequestCode = 80877103;
constexpr std::uint32_t kGssEncRequestCode = 80877104;
constexpr std::uint32_t kCancelRequestCode = 80877102;

/// A whole message: `type` is 0 for the untyped startup-phase messages (StartupMessage,
/// SSLRequest, CancelRequest); `body` excludes the type byte and the length; `raw` is the whole
/// message as it was on the wire.
struct Message {
  char type = 0;
  std::string_view body;
  std::string_view raw;
};

/// Cuts a stream into messages. Startup mode: the first message is untyped (length + body); the
/// owner switches to typed mode when the startup phase of that direction ends.
class Framer {
 public:
  /// 1 GiB is PostgreSQL's own limit for a message; Vigil keeps less in memory per connection.
  static constexpr std::size_t kDefaultMaxMessage = 64 * 1024 * 1024;
  explicit Framer(bool startup, std::size_t max_message = kDefaultMaxMessage)
      : startup_(startup), max_(max_message) {}

  void setStartup(bool startup) { startup_ = startup; }
  void append(std::string_view bytes) { buf_.append(bytes); }
  /// The next whole message, borrowed until the next call to next()/append(). False when more
  /// bytes are needed or after an error (error() says why; the framer stays failed).
  bool next(Message& out);
  const std::string& error() const { return error_; }
  /// Bytes buffered and not yet returned as a message.
  std::size_t buffered() const { return buf_.size() - pos_; }
  /// Zeroes and drops everything buffered (after a password message).
  void wipe();
  /// Takes the unreturned bytes (e.g. to forward them raw).
  std::string takeRest();

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  bool startup_;
  std::size_t max_;
  std::string error_;
};

/// Reads fields of a message body; every read checks bounds and sets ok() false when short.
class Reader {
 public:
  explicit Reader(std::string_view body) : b_(body) {}
  std::int32_t i32();
  std::int16_t i16();
  std::uint8_t u8();
  /// A NUL-terminated string (without the NUL).
  std::string_view cstr();
  std::string_view bytes(std::size_t n);
  bool ok() const { return ok_; }
  std::size_t left() const { return ok_ ? b_.size() - p_ : 0; }

 private:
  std::string_view b_;
  std::size_t p_ = 0;
  bool ok_ = true;
};

/// StartupMessage parameters (user, database, application_name, ...), in order.
struct Startup {
  std::uint32_t version = 0;
  std::vector<std::pair<std::string, std::string>> params;
  std::string get(std::string_view key) const;
};
/// Parses a StartupMessage body; false when malformed.
bool parseStartup(std::string_view body, Startup& out);

// Builders: each returns the whole message.
std::string message(char type, std::string_view body);
std::string startupMessage(const Startup& s);
std::string sslRequest();
std::string authRequest(std::int32_t code, std::string_view extra = {});
/// ErrorResponse: S/V severity, C SQLSTATE, M message.
std::string errorResponse(std::string_view severity, std::string_view sqlstate, std::string_view msg);
/// NoticeResponse with the same fields (a client accepts it at any message boundary).
std::string noticeResponse(std::string_view severity, std::string_view sqlstate, std::string_view msg);
std::string readyForQuery(char status);
void putI32(std::string& out, std::int32_t v);
void putI16(std::string& out, std::int16_t v);

/// The fields of an ErrorResponse / NoticeResponse (M message, C code, S severity).
struct ErrorFields {
  std::string severity, code, message;
};
ErrorFields parseError(std::string_view body);

}  // namespace vigil::pg
