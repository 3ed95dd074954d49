#pragma once
// The listening socket and peer names shared by the protocol listeners (SSH, TDS, PostgreSQL,
// RDP): plain POSIX, no protocol knowledge.
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace vigil::net {

/// A non-blocking, close-on-exec TCP socket with SO_REUSEADDR listening on a numeric address
/// ("127.0.0.1", "::"); port 0 picks a free one. Returns the descriptor and sets `bound_port`, or
/// -1 with `error` ("invalid <what> bind address ...", "cannot listen on ...: <errno text>").
int listenTcp(const std::string& address, std::uint16_t port, const std::string& what, int& bound_port,
              std::string& error);

/// "203.0.113.5:51234" or "[2001:db8::1]:51234".
std::string peerName(const sockaddr_storage& ss);

}  // namespace vigil::net
