#pragma once
// The target-facing leg: a libssh client that checks the target's host key against the pinned
// fingerprint, logs in with the vault credential (wiped right after), and opens the one channel
// the person asked for.
#include <libssh/libssh.h>

#include <string>
#include <utility>
#include <vector>

#include "protocols/session.hpp"
#include "protocols/ssh/proxy.hpp"

namespace vigil::ssh {

/// Why the target leg could not be set up: `reason` is a Session::end reason, `detail` for the
/// audit log, `message` for the person.
struct TargetFailure {
  std::string reason;
  std::string detail;
  std::string message;
};

class TargetSide {
 public:
  TargetSide() = default;
  ~TargetSide();
  TargetSide(const TargetSide&) = delete;
  TargetSide& operator=(const TargetSide&) = delete;

  /// Connects, checks the host key (pinning it on first use when the policy allows), and
  /// authenticates with the session's credential. Blocking; session thread only.
  bool connect(const proto::Grant& grant, proto::Session& session, proto::Gatekeeper& gatekeeper,
               int connect_timeout_seconds, TargetFailure& failure);
  /// Opens the session channel: pty (when asked), locale env, then shell / exec / subsystem.
  bool openChannel(const ChannelSetup& setup, const std::vector<std::pair<std::string, std::string>>& env,
                   const proto::Grant& grant, TargetFailure& failure);

  ssh_session session() const { return session_; }
  ssh_channel channel() const { return channel_; }

 private:
  ssh_session session_ = nullptr;
  ssh_channel channel_ = nullptr;
};

}  // namespace vigil::ssh
