#pragma once
// The person-facing leg: one accepted libssh server session, from key exchange through
// authentication (launch token or identity login), the one session channel, and the data phase
// through the Pump.
//
// Login names: a name without '%' is a launch token (accepted on "none", or on password /
// keyboard-interactive with any password for clients that skip "none"); "alice%root%web01" is
// an identity login (password, public key, keyboard-interactive; a TOTP code is asked with
// keyboard-interactive when the Gatekeeper answers NeedTotp).
#include <libssh/libssh.h>

#include <functional>
#include <string>

#include "protocols/session.hpp"

namespace vigil::ssh {

struct PersonConnection {
  proto::Gatekeeper* gatekeeper = nullptr;
  std::string client_addr;  // "203.0.113.5:51234"
  int connect_timeout_seconds = 10;
  std::string banner;  // shown before authentication when not empty
  /// Called once when the login phase is over (the channel request arrived, or the connection
  /// failed): the listener stops counting it as unauthenticated and cancels its login grace.
  std::function<void()> on_login_done;
  /// Called with the session's live control once the data phase runs, and with null before it
  /// goes away, so the listener can end sessions politely when it stops.
  std::function<void(proto::SessionControl*)> on_control;
};

/// Serves one accepted connection to its end on the calling thread (the connection's own
/// thread). `session` already carries the accepted socket and host key; the caller frees it.
void servePerson(ssh_session session, PersonConnection& conn);

}  // namespace vigil::ssh
