#pragma once
// The PostgreSQL listener: accepts database clients (psql, pgbench, drivers), authenticates them
// with a one-time launch token sent as the password (inside TLS), logs in to the target with the
// vault credential (SCRAM-SHA-256 or md5, TLS when the target offers it) and then relays the
// protocol unchanged in both directions while a PgDecoder watches a copy (pg_connection.cpp).
// One thread per connection: a connection's thread blocks only on its own sockets and, during
// the login, on the Gatekeeper.
#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "protocols/session.hpp"

namespace vigil::pg {

struct ListenerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;  // 0: any free port
  std::string cert_file;  // Vigil's TLS certificate and key (PEM), offered to clients
  std::string key_file;
  /// Accept the token without TLS (sslmode=disable). Off by default: the token would travel in clear.
  bool allow_cleartext = false;
  int max_connections = 1000;
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 10;
};

class Connection;

class PgListener {
 public:
  PgListener(proto::Gatekeeper& gatekeeper, ListenerOptions options);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  /// Loads the certificate, binds and starts accepting; false with `error` set.
  bool start(std::string& error);
  /// Stops accepting, ends the running sessions (client_closed) and waits for their threads.
  void stop();
  int port() const { return port_; }

 private:
  void acceptLoop();
  void serve(int fd, std::string peer);

  proto::Gatekeeper& gatekeeper_;
  ListenerOptions opt_;
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<Connection*> live_;
  int running_ = 0;
};

}  // namespace vigil::pg
