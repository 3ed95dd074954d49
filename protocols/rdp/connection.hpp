#pragma once
// One RDP client connection, served on the calling thread from TLS handshake to disconnect:
// the user's side (FreeRDP peer), the launch-token check, the session, the target (FreeRDP
// client with the injected credential), screen re-encoding, input forwarding and recording.
#include <atomic>
#include <string>

#include "protocols/session.hpp"

namespace vigil::rdp {

struct ConnectionOptions {
  std::string cert_file;
  std::string key_file;
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 15;
  const std::atomic<bool>* stopping = nullptr;  // the listener is stopping: end the session
};

/// Once per process, before the first connection (FreeRDP's global state, SIGPIPE).
void initFreeRdpOnce();

/// Serves one accepted socket (owned: closed at the end). Never throws.
void serveConnection(int fd, const std::string& client_addr, proto::Gatekeeper& gatekeeper,
                     const ConnectionOptions& options);

}  // namespace vigil::rdp
