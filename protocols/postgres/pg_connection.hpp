#pragma once
// One proxied PostgreSQL connection, run on its own thread by PgListener: the client's startup
// (SSLRequest, StartupMessage, the launch token as a cleartext password inside TLS), the session
// start, the target's login with the vault credential, then the relay (see pg_listener.hpp).
#include <openssl/ssl.h>
#include <sys/eventfd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "protocols/postgres/pg_decoder.hpp"
#include "protocols/postgres/pg_listener.hpp"
#include "protocols/postgres/pg_stream.hpp"
#include "protocols/postgres/pg_wire.hpp"
#include "protocols/session.hpp"

namespace spdlog {
class logger;
}

namespace vigil::pg {

/// The "proxy.postgres" logger.
spdlog::logger& log();

class Connection : public proto::SessionControl, public PgDecoder::Callbacks {
 public:
  Connection(proto::Gatekeeper& gk, const ListenerOptions& opt, SSL_CTX* server_ctx, SSL_CTX* client_ctx, int fd,
             std::string peer);
  ~Connection() override;
  /// Runs the whole connection; returns when both legs are closed.
  void run();
  /// From any thread: ends the connection (Vigil stopping).
  void kill() { terminate("Vigil is stopping"); }
  /// From any thread: unblocks whatever the connection waits for (the last resort at stop).
  void shutdownSockets();

  // SessionControl (any thread): applied by the connection's own thread.
  void suspend(const std::string& message) override;
  void resume() override;
  void terminate(const std::string& reason) override;

 private:
  enum class Ctl : std::uint64_t { None = 0, Suspend = 1, Resume = 2, Terminate = 4 };

  bool clientStartup(Startup& startup);
  bool readStartupPacket(Message& m, Framer& f, std::string& storage);
  bool readMessage(Stream& s, Framer& f, Message& m, std::chrono::steady_clock::time_point deadline);
  bool loginTarget(const Startup& client_startup, std::string& forward_after_ok);
  void fatal(std::string_view sqlstate, std::string_view message);
  void relay();
  void screen(const Message& m, std::string& forward);
  bool clientMessages();
  bool flushInjected();
  void applyControl();
  static void setReadTimeout(int fd, int seconds);

  // PgDecoder::Callbacks
  void onStatement(const proto::SqlStatement& s) override;
  void onMalformed(std::string_view why) override;
  void onReady(char status) override;
  void onBackendKey(std::int32_t pid, std::int32_t key) override;

  proto::Gatekeeper& gk_;
  const ListenerOptions& opt_;
  SSL_CTX* server_ctx_;
  SSL_CTX* client_ctx_;
  std::unique_ptr<Stream> client_;
  std::unique_ptr<Stream> target_;
  std::string peer_;
  std::unique_ptr<proto::Session> session_;
  std::unique_ptr<PgDecoder> decoder_;
  Framer client_framer_{false};
  int ctl_fd_ = -1;
  std::mutex ctl_mu_;
  std::uint64_t ctl_pending_ = 0;
  std::string suspend_message_, terminate_reason_;
  bool suspended_ = false;
  bool terminated_ = false;
  // A refused statement's answer (ErrorResponse + ReadyForQuery) waits until the target has
  // answered everything sent before it; meanwhile the client's later messages wait too.
  std::string injected_;
  bool batch_forwarded_ = false;
  bool client_said_bye_ = false;  // Terminate ('X') forwarded  // extended messages of the current batch went to the target
  std::string end_reason_, end_detail_;
  proto::Grant grant_;
  bool swallowing_ = false;  // a refused extended-protocol batch: drop messages up to its Sync
  std::string swallow_error_;
  int outstanding_ = 1;      // Query/Sync sent to the target and not yet answered by ReadyForQuery
  char status_ = 'I';        // the last ReadyForQuery status
  std::uint64_t from_client_ = 0, to_client_ = 0;
  std::int64_t backend_pid_ = 0, backend_key_ = 0;
  bool has_backend_key_ = false;
};

/// CancelRequests name a (pid, key) the target gave; Vigil relays them to the right target.
void registerCancelKey(std::int32_t pid, std::int32_t key, const std::string& address, int port);
void unregisterCancelKey(std::int32_t pid, std::int32_t key);
bool lookupCancelKey(std::int32_t pid, std::int32_t key, std::string& address, int& port);

}  // namespace vigil::pg
