#pragma once
// Vigil's SSH listener: accepts connections, keeps the numbers of connections and of logins in
// progress bounded, gives every login a grace period, and serves each connection on its own
// small-stack thread (listener_side.cpp).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "protocols/session.hpp"

namespace vigil::ssh {

struct ListenerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;                    // 0: any free port (see SshListener::port())
  std::string host_key_file;       // ed25519; generated (0600) on first start when missing
  int max_sessions = 1000;         // connections of any kind at once
  int max_unauthenticated = 64;    // connections still in key exchange / login at once
  int login_grace_seconds = 30;    // key exchange + login + channel request must fit in this
  int connect_timeout_seconds = 10;  // dialing and logging in to the target
  std::string banner;              // shown to every client before login when not empty
};

class SshListener {
 public:
  struct Stats {
    int connections = 0;      // served right now
    int unauthenticated = 0;  // of which still logging in
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;  // closed at once because a limit was reached
  };

  /// The Gatekeeper must outlive the listener.
  SshListener(proto::Gatekeeper& gatekeeper, ListenerOptions options);
  /// Stops (see stop()).
  ~SshListener();
  SshListener(const SshListener&) = delete;
  SshListener& operator=(const SshListener&) = delete;

  /// Loads or creates the host key, binds and starts accepting. False with `error` set when it
  /// cannot. Call once, from any thread.
  bool start(std::string& error);
  /// Stops accepting, ends every connection (their sessions end as client_closed) and waits
  /// for all connection threads. Idempotent; any thread except a connection thread.
  void stop();

  /// The bound port (after start()).
  int port() const { return port_; }
  /// The host key's fingerprint, "SHA256:..." as OpenSSH prints it (after start()).
  const std::string& hostKeyFingerprint() const { return fingerprint_; }
  Stats stats() const;

 private:
  struct Conn;
  void acceptLoop();
  void acceptOne();
  void reapExpiredLogins();
  void launch(std::shared_ptr<Conn> conn);
  static void* connectionMain(void* arg);

  proto::Gatekeeper& gatekeeper_;
  ListenerOptions options_;
  void* bind_ = nullptr;  // ssh_bind (kept out of this header)
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::string fingerprint_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  mutable std::mutex mu_;
  std::condition_variable all_done_;
  std::map<std::uint64_t, std::shared_ptr<Conn>> conns_;
  std::uint64_t next_id_ = 1;
  int unauthenticated_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace vigil::ssh
