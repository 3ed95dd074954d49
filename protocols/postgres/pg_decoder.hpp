#pragma once
// PgDecoder: reads both directions of a PostgreSQL (protocol 3) connection and reports what was
// run: each simple Query, each extended-protocol Execute (with the Parse text and the Bind
// parameters), COPY, with the target's CommandComplete tag, row count, error and duration.
// Bytes in, facts out: no sockets, threads or logging; it never alters the bytes.
//
// Requests are answered in order, so statements wait in a queue of sync points (a Query or a
// Sync) until the server answers: CommandComplete / EmptyQueryResponse / PortalSuspended finish
// the next Execute, ErrorResponse fails it and the server skips the rest up to the Sync,
// ReadyForQuery closes the sync point (and finishes a simple Query, whose sub-statements' tags
// and rows are folded into one report).
//
// Memory is bounded: an oversized message, too many prepared statements / portals / queued
// statements, or anything that does not parse makes the decoder report onMalformed once and go
// inert (the proxy keeps relaying; only the decoding stops).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocols/postgres/pg_wire.hpp"
#include "protocols/session.hpp"

namespace vigil::pg {

class PgDecoder {
 public:
  struct Callbacks {
    virtual ~Callbacks() = default;
    virtual void onSslRequest() {}
    virtual void onStartup(const Startup& startup) { (void)startup; }
    virtual void onCancelRequest(std::int32_t pid, std::int32_t key) { (void)pid, (void)key; }
    /// An authentication request of the server (0 ok, 3 cleartext, 5 md5, 10 SASL, ...).
    virtual void onAuthRequest(std::int32_t code) { (void)code; }
    /// The server's BackendKeyData (what a CancelRequest must name).
    virtual void onBackendKey(std::int32_t pid, std::int32_t key) { (void)pid, (void)key; }
    /// ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' in a failed transaction.
    virtual void onReady(char status) { (void)status; }
    virtual void onStatement(const proto::SqlStatement& statement) = 0;
    /// Once; the decoder is inert afterwards.
    virtual void onMalformed(std::string_view why) = 0;
  };

  struct Options {
    /// True when the proxy feeds only what follows the login (both directions typed).
    bool after_login = false;
    std::size_t max_message = 64 * 1024 * 1024;
    /// Milliseconds on any monotonic clock (tests and the fuzzer pass a fixed one).
    std::function<std::int64_t()> now_ms;
  };

  static constexpr std::size_t kMaxStatementText = 256 * 1024;
  static constexpr std::size_t kMaxParametersJson = 8 * 1024;
  static constexpr std::size_t kMaxNamed = 10000;           // prepared statements and portals each
  static constexpr std::size_t kMaxNamedBytes = 32 << 20;   // their texts together
  static constexpr std::size_t kMaxQueued = 100000;         // statements awaiting an answer

  PgDecoder(Callbacks& cb, Options options);
  PgDecoder(const PgDecoder&) = delete;
  PgDecoder& operator=(const PgDecoder&) = delete;

  void clientBytes(std::string_view bytes);
  void serverBytes(std::string_view bytes);
  /// The connection closed: statements still unanswered are reported with error "connection
  /// closed before the server answered". Idempotent; later bytes are ignored.
  void finish();
  bool inert() const { return inert_; }

 private:
  struct Pending {
    proto::SqlStatement stmt;
    std::int64_t start_ms = 0;
    std::int64_t data_rows = 0;
    bool any_tag = false;
  };
  struct SyncPoint {
    bool simple = false;
    std::vector<Pending> stmts;
    std::size_t next = 0;  // extended: the next Execute the server answers
    bool failed = false;   // extended: an error skipped the rest
  };
  struct Portal {
    std::string text;
    std::string parameters;
  };

  void clientMessage(const Message& m);
  void serverMessage(const Message& m);
  void clientStartup(const Message& m);
  Pending* current();
  void report(Pending& p, std::string_view error);
  std::string parameters(Reader& r);
  void malformed(std::string_view why);
  std::int64_t now() const;

  Callbacks& cb_;
  Options opt_;
  Framer client_;
  Framer server_;
  bool inert_ = false;
  bool client_startup_;
  int server_ssl_bytes_ = 0;  // single-byte answers ('S'/'N') the server owes to SSL/GSS requests
  bool server_typed_;
  std::unordered_map<std::string, std::string> prepared_;
  std::unordered_map<std::string, Portal> portals_;
  std::size_t named_bytes_ = 0;
  std::deque<SyncPoint> syncs_;
  SyncPoint open_;  // extended messages not yet closed by a Sync
  std::size_t queued_ = 0;
};

/// "SELECT 5" -> 5, "INSERT 0 3" -> 3, "CREATE TABLE" -> -1.
std::int64_t rowsOfTag(std::string_view tag);

}  // namespace vigil::pg
