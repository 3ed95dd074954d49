#pragma once
// Vigil's TDS (SQL Server) listener: accepts connections and serves each on its own thread
// (proxy.cpp). A person logs in with the account's SQL login name and a one-time launch token as
// the password; the target gets the vault credential.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "protocols/session.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace vigil::tds {

struct ListenerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;                     // 0: any free port (see TdsListener::port())
  std::string cert_file, key_file;  // Vigil's TLS certificate (PEM), offered inside PRELOGIN
  int max_sessions = 1000;
  int login_grace_seconds = 30;     // PRELOGIN + TLS + LOGIN7 must fit in this
  int connect_timeout_seconds = 10; // dialing and logging in to the target
};

class TdsListener {
 public:
  TdsListener(proto::Gatekeeper& gatekeeper, ListenerOptions options);
  ~TdsListener();
  TdsListener(const TdsListener&) = delete;
  TdsListener& operator=(const TdsListener&) = delete;

  /// Loads the certificate, binds and starts accepting. False with `error` set when it cannot.
  bool start(std::string& error);
  /// Stops accepting, ends every connection and waits for their threads. Idempotent.
  void stop();
  int port() const { return port_; }

  struct Conn;

 private:
  void acceptLoop();
  void serve(std::shared_ptr<Conn> conn);

  proto::Gatekeeper& gatekeeper_;
  ListenerOptions options_;
  SSL_CTX* server_tls_ = nullptr;
  SSL_CTX* client_tls_ = nullptr;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::mutex mu_;
  std::condition_variable all_done_;
  std::map<std::uint64_t, std::shared_ptr<Conn>> conns_;
  std::uint64_t next_id_ = 1;
};

}  // namespace vigil::tds
