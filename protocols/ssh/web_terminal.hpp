#pragma once
// The browser terminal: the same target side and pump as native SSH clients, with the web
// page as the person's side (keystrokes in through write(), output out through a callback).
#include "protocols/session.hpp"

namespace vigil::ssh {

struct WebTerminalOptions {
  int connect_timeout_seconds = 10;
  std::string term = "xterm-256color";
};

/// A TerminalOpener for the session core's browser terminal. Each bridge runs on its own
/// thread: startSession, host-key check, credential injection, then the pump. The Gatekeeper
/// must outlive every bridge.
proto::TerminalOpener makeTerminalOpener(proto::Gatekeeper& gatekeeper, WebTerminalOptions options = {});

}  // namespace vigil::ssh
