#include "protocols/ssh/target_side.hpp"

#include "protocols/net/target_pin.hpp"
#include "protocols/ssh/ssh_common.hpp"

namespace vigil::ssh {

TargetSide::~TargetSide() {
  if (channel_ != nullptr) ssh_channel_free(channel_);
  if (session_ != nullptr) {
    ssh_disconnect(session_);
    ssh_free(session_);
  }
}

namespace {

/// Zeroes the whole buffer (the small-string buffer too), not just the characters in use.
void wipeSecret(crypto::SecureString& s) {
  OPENSSL_cleanse(s.data(), s.capacity());
  s.clear();
}

std::string where(const proto::Grant& g) {
  return g.target.name + " (" + g.target.address + ":" + std::to_string(g.target.port) + ")";
}

}  // namespace

bool TargetSide::connect(const proto::Grant& grant, proto::Session& session, proto::Gatekeeper& gatekeeper,
                         int connect_timeout_seconds, TargetFailure& failure) {
  const std::string& sid = session.id();
  // Taken first so that every early return below still destroys (wipes) it.
  proto::Credential cred = session.takeCredential();
  session_ = ssh_new();
  if (session_ == nullptr) {
    failure = {"error", "ssh_new failed", "Vigil could not start the connection to the target."};
    return false;
  }
  long timeout = connect_timeout_seconds > 0 ? connect_timeout_seconds : 10;
  int port = grant.target.port > 0 ? grant.target.port : 22;
  int no = 0;
  std::string user = cred.username.empty() ? grant.account_user : cred.username;
  ssh_options_set(session_, SSH_OPTIONS_HOST, grant.target.address.c_str());
  ssh_options_set(session_, SSH_OPTIONS_PORT, &port);
  ssh_options_set(session_, SSH_OPTIONS_USER, user.c_str());
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);
  int yes = 1;
  ssh_options_set(session_, SSH_OPTIONS_NODELAY, &yes);
  // Nothing from root's ~/.ssh may change how Vigil reaches a target.
  ssh_options_set(session_, SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(session_, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
  ssh_options_set(session_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");

  if (ssh_connect(session_) != SSH_OK) {
    std::string err = ssh_get_error(session_);
    log().warn("session={} target {} unreachable: {}", sid, where(grant), err);
    failure = {"target_unreachable", where(grant) + ": " + err,
               "Vigil could not reach " + grant.target.name + ": " + err};
    return false;
  }

  ssh_key key = nullptr;
  if (ssh_get_server_publickey(session_, &key) != SSH_OK || key == nullptr) {
    failure = {"error", "no host key from target", "Vigil could not read the host key of " + grant.target.name + "."};
    return false;
  }
  std::string seen = fingerprintOf(key);
  ssh_key_free(key);
  const auto pin = proto::checkTargetPin(grant, gatekeeper, sid, seen, "host key", true);
  if (!pin.ok) {
    log().warn("session={} host key of {} refused: {} ({})", sid, where(grant), pin.reason, pin.detail);
    failure = {pin.reason, pin.detail, pin.message};
    return false;
  }
  if (pin.newly_pinned) {
    session.note("host_key_pinned", seen);
    log().info("session={} pinned host key {} for {}", sid, seen, where(grant));
  }

  int rc = SSH_AUTH_ERROR;
  if (cred.kind == "password") {
    rc = ssh_userauth_password(session_, nullptr, cred.secret.c_str());
  } else if (cred.kind == "private_key") {
    ssh_key priv = nullptr;
    if (ssh_pki_import_privkey_base64(cred.secret.c_str(), nullptr, nullptr, nullptr, &priv) == SSH_OK) {
      rc = ssh_userauth_publickey(session_, nullptr, priv);
      ssh_key_free(priv);
    } else {
      wipeSecret(cred.secret);
      failure = {"target_auth_failed", "the vault key could not be read",
                 "Vigil could not use the stored key for " + user + "@" + grant.target.name + "."};
      return false;
    }
  }
  wipeSecret(cred.secret);  // authentication is over; the secret is not needed again
  if (rc != SSH_AUTH_SUCCESS) {
    std::string err = rc == SSH_AUTH_ERROR ? ssh_get_error(session_) : "credential rejected";
    log().warn("session={} target {} refused the vault credential for {}: {}", sid, where(grant), user, err);
    failure = {"target_auth_failed", err,
               "Vigil could not log in to " + grant.target.name + " as " + user + " with the stored credential."};
    return false;
  }
  return true;
}

bool TargetSide::openChannel(const ChannelSetup& setup, const std::vector<std::pair<std::string, std::string>>& env,
                             const proto::Grant& grant, TargetFailure& failure) {
  channel_ = ssh_channel_new(session_);
  if (channel_ == nullptr || ssh_channel_open_session(channel_) != SSH_OK) {
    failure = {"error", std::string("channel open failed: ") + ssh_get_error(session_),
               "Vigil could not open a channel on " + grant.target.name + "."};
    return false;
  }
  if (setup.pty) {
    const char* term = setup.term.empty() ? "xterm" : setup.term.c_str();
    if (ssh_channel_request_pty_size(channel_, term, setup.cols, setup.rows) != SSH_OK) {
      failure = {"error", "pty request refused by target", "The target refused a terminal."};
      return false;
    }
  }
  for (const auto& [name, value] : env) {
    // sshd accepts only what AcceptEnv lists; a refusal is not an error.
    if (forwardableEnv(name)) ssh_channel_request_env(channel_, name.c_str(), value.c_str());
  }
  int rc = SSH_ERROR;
  if (setup.kind == "shell") {
    rc = ssh_channel_request_shell(channel_);
  } else if (setup.kind == "exec") {
    rc = ssh_channel_request_exec(channel_, setup.command.c_str());
  } else if (setup.kind == "subsystem") {
    rc = ssh_channel_request_subsystem(channel_, setup.command.c_str());
  }
  if (rc != SSH_OK) {
    failure = {"error", "target refused " + setup.kind + " " + setup.command,
               "The target refused the " + setup.kind + " request."};
    return false;
  }
  return true;
}

}  // namespace vigil::ssh
