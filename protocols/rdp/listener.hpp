#pragma once
// Vigil's RDP listener: accepts RDP clients (TLS with Vigil's certificate, no NLA on the user's
// side: the user name is a one-time launch token), and serves each on its own thread as a
// re-encoding proxy (connection.cpp): the target's screen is kept in a software framebuffer,
// re-encoded to the client and recorded as video; keyboard and mouse go to the target.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "protocols/session.hpp"

namespace vigil::rdp {

struct ListenerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;                 // 0: any free port (see RdpListener::port())
  std::string cert_file;        // PEM certificate shown to clients (the portal's)
  std::string key_file;         // its private key
  int max_sessions = 200;       // connections at once; beyond it new ones are closed
  int login_grace_seconds = 30;  // TLS + Client Info + target connect must fit in this
  int connect_timeout_seconds = 15;
};

class RdpListener {
 public:
  /// The Gatekeeper must outlive the listener.
  RdpListener(proto::Gatekeeper& gatekeeper, ListenerOptions options);
  ~RdpListener();
  RdpListener(const RdpListener&) = delete;
  RdpListener& operator=(const RdpListener&) = delete;

  /// Binds and starts accepting. False with `error` set when it cannot.
  bool start(std::string& error);
  /// Stops accepting, ends every connection and waits for their threads. Idempotent.
  void stop();
  int port() const { return port_; }
  int connections() const;

 private:
  void acceptLoop();

  proto::Gatekeeper& gatekeeper_;
  ListenerOptions options_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable all_done_;
  int active_ = 0;
};

}  // namespace vigil::rdp
