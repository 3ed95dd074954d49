#include "protocols/ssh/listener_side.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "protocols/net/identity_login.hpp"
#include "protocols/ssh/proxy.hpp"
#include "protocols/ssh/ssh_common.hpp"
#include "protocols/ssh/target_side.hpp"

// libssh 0.10 marks the message-API accessors deprecated, yet keyboard-interactive has no
// other server API in this version.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace vigil::ssh {
namespace {

constexpr int kMaxAuthFailures = 6;
constexpr const char* kTotpPrompt = "Vigil one-time code: ";

struct MessageFree {
  void operator()(ssh_message m) const { ssh_message_free(m); }
};
using MessagePtr = std::unique_ptr<std::remove_pointer_t<ssh_message>, MessageFree>;

void sendBanner(ssh_session s, const std::string& text) {
  ssh_string b = ssh_string_from_char(text.c_str());
  if (b == nullptr) return;
  ssh_send_issue_banner(s, b);
  ssh_string_free(b);
}

/// Keeps serving the person's session (in the background of a closed channel) until their
/// client has disconnected, so it prints what we sent and exits with our status.
void lingerUntilGone(ssh_session s, int seconds) {
  ssh_set_blocking(s, 0);
  ssh_event ev = ssh_event_new();
  if (ev == nullptr) return;
  ssh_event_add_session(ev, s);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (ssh_is_connected(s) && std::chrono::steady_clock::now() < until) {
    if (ssh_event_dopoll(ev, 100) == SSH_ERROR) break;
  }
  ssh_event_remove_session(ev, s);
  ssh_event_free(ev);
}

/// The person's SSH channel as the pump sees it.
class SshPerson : public PersonSide {
 public:
  SshPerson(ssh_session s, ssh_channel ch, proto::Session& session, const proto::ChannelPolicy& policy)
      : s_(s), ch_(ch), session_(session), policy_(policy) {
    ssh_callbacks_init(&cb_);
    cb_.userdata = this;
    cb_.channel_close_function = [](ssh_session, ssh_channel, void* self) {
      static_cast<SshPerson*>(self)->closed_ = true;
    };
    cb_.channel_signal_function = [](ssh_session, ssh_channel, const char* sig, void* self) {
      auto* p = static_cast<SshPerson*>(self);
      try {
        if (sig != nullptr) p->events_.push_back({PersonEvent::Kind::Signal, 0, 0, sig});
      } catch (...) {
      }
    };
    ssh_set_channel_callbacks(ch_, &cb_);
  }
  ~SshPerson() override {
    ssh_remove_channel_callbacks(ch_, &cb_);
    ssh_set_message_callback(s_, nullptr, nullptr);
  }

  void attach(ssh_event event) override {
    ssh_set_blocking(s_, 0);
    // Everything the client asks for during the session that is not the channel's own data:
    // window changes are taken, new channels and forwardings are refused (and noted).
    ssh_set_message_callback(s_, &SshPerson::onMessage, this);
    ssh_event_add_session(event, s_);
  }
  void detach(ssh_event event) override { ssh_event_remove_session(event, s_); }

  std::size_t outputRoom() override { return gone() ? 0 : ssh_channel_window_size(ch_); }

  long writeOutput(std::string_view bytes, bool is_stderr) override {
    int rc = is_stderr ? ssh_channel_write_stderr(ch_, bytes.data(), static_cast<uint32_t>(bytes.size()))
                       : ssh_channel_write(ch_, bytes.data(), static_cast<uint32_t>(bytes.size()));
    return rc < 0 ? -1 : rc;
  }

  std::size_t readInput(char* buf, std::size_t max) override {
    int n = ssh_channel_read_nonblocking(ch_, buf, static_cast<uint32_t>(max), 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  bool inputEof() override { return ssh_channel_poll(ch_, 0) == SSH_EOF; }

  bool gone() override { return closed_ || !ssh_is_connected(s_); }
  bool disconnected() override { return !ssh_is_connected(s_); }
  bool outputPending() override { return (ssh_get_poll_flags(s_) & SSH_WRITE_PENDING) != 0; }

  std::vector<PersonEvent> takeEvents() override {
    std::vector<PersonEvent> out;
    out.swap(events_);
    return out;
  }

  void sendExitStatus(int status) override { ssh_channel_request_send_exit_status(ch_, status); }
  void sendExitSignal(const std::string& signal, bool core, const std::string& message) override {
    ssh_channel_request_send_exit_signal(ch_, signal.c_str(), core ? 1 : 0, message.c_str(), "");
  }
  void sendEof() override { ssh_channel_send_eof(ch_); }
  void close() override {
    if (!closed_by_us_) ssh_channel_close(ch_);
    closed_by_us_ = true;
  }
  void notice(std::string_view text) override {
    ssh_channel_write_stderr(ch_, text.data(), static_cast<uint32_t>(text.size()));
  }

 private:
  static int onMessage(ssh_session, ssh_message msg, void* self) {
    try {
      return static_cast<SshPerson*>(self)->handleMessage(msg);
    } catch (...) {
      return 1;  // the default reply refuses
    }
  }

  int handleMessage(ssh_message msg) {
    int type = ssh_message_type(msg);
    int sub = ssh_message_subtype(msg);
    if (type == SSH_REQUEST_CHANNEL && sub == SSH_CHANNEL_REQUEST_WINDOW_CHANGE &&
        ssh_message_channel_request_channel(msg) == ch_) {
      events_.push_back({PersonEvent::Kind::Resize, ssh_message_channel_request_pty_width(msg),
                         ssh_message_channel_request_pty_height(msg), {}});
      return 1;
    }
    if (type == SSH_REQUEST_CHANNEL_OPEN) {
      if (sub == SSH_CHANNEL_DIRECT_TCPIP) {
        std::string dest = std::string(ssh_message_channel_request_open_destination(msg) ?: "") + ":" +
                           std::to_string(ssh_message_channel_request_open_destination_port(msg));
        session_.note("port_forward_refused", policy_.allow_port_forwarding
                                                  ? "direct-tcpip " + dest + " (not implemented)"
                                                  : "direct-tcpip " + dest);
      } else {
        session_.note("channel_refused", "only one session channel per connection");
      }
      return 1;
    }
    if (type == SSH_REQUEST_GLOBAL && (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD)) {
      session_.note("port_forward_refused", std::string("tcpip-forward ") +
                                                (ssh_message_global_request_address(msg) ?: "") + ":" +
                                                std::to_string(ssh_message_global_request_port(msg)));
      return 1;
    }
    if (type == SSH_REQUEST_CHANNEL) {
      session_.note("channel_request_refused", sub == SSH_CHANNEL_REQUEST_X11 ? "x11-req" : "late request");
    }
    return 1;
  }

  ssh_session s_;
  ssh_channel ch_;
  proto::Session& session_;
  proto::ChannelPolicy policy_;
  ssh_channel_callbacks_struct cb_{};
  bool closed_ = false;
  bool closed_by_us_ = false;
  std::vector<PersonEvent> events_;
};

/// The authentication phase: message API, one ssh_message at a time.
class Authenticator {
 public:
  Authenticator(ssh_session s, PersonConnection& conn, const proto::ClientInfo& client)
      : s_(s), conn_(conn), gk_(*conn.gatekeeper), client_(client) {}

  /// Returns the started Session once the person is in; null when refused or gone.
  std::unique_ptr<proto::Session> run(proto::Grant& grant_out) {
    for (;;) {
      MessagePtr msg(ssh_message_get(s_));
      if (!msg) return nullptr;  // disconnected, or the login grace ran out
      if (ssh_message_type(msg.get()) != SSH_REQUEST_AUTH) {
        ssh_message_reply_default(msg.get());
        continue;
      }
      std::optional<proto::Grant> grant = step(msg.get());
      if (refused_) return nullptr;
      if (!grant) continue;
      if (grant->status == proto::Grant::Status::NeedTotp) continue;  // step() asked for the code
      if (grant->status == proto::Grant::Status::Denied) {
        refuse(grant->message.empty() ? "access denied" : grant->message);
        return nullptr;
      }
      std::string error;
      auto session = gk_.startSession(*grant, client_, error);
      if (!session) {
        log().warn("client={} session could not start: {}", client_.client_addr, error);
        refuse(error.empty() ? "the session could not be started" : error);
        return nullptr;
      }
      ssh_message_auth_reply_success(msg.get(), 0);
      log().info("session={} client={} authenticated as {} for {}@{}", session->id(), client_.client_addr,
                 grant->username, grant->account_user, grant->target.name);
      grant_out = std::move(*grant);
      return session;
    }
  }

 private:
  enum class Pending { None, Password, Key };

  void refuse(const std::string& message) {
    refused_ = true;
    log().info("client={} login refused: {}", client_.client_addr, message);
    sendBanner(s_, "Vigil refused: " + message + "\r\n");
    ssh_session_set_disconnect_message(s_, ("Vigil refused: " + message).c_str());
    ssh_disconnect(s_);
  }

  void fail(ssh_message msg) {
    if (++failures_ >= kMaxAuthFailures) {
      refuse("too many authentication failures");
      return;
    }
    ssh_message_reply_default(msg);
  }

  void askTotp(ssh_message msg) {
    const char* prompts[] = {kTotpPrompt};
    char echo[] = {0};
    stage_ = Stage::Totp;
    ssh_message_auth_interactive_request(msg, "Vigil", "Enter the code from your authenticator app.", 1, prompts,
                                         echo);
  }

  /// Handles one auth request. Returns a grant when the Gatekeeper gave one (Ok/Denied, or
  /// NeedTotp after the prompt has been sent); nullopt when the exchange goes on.
  std::optional<proto::Grant> step(ssh_message msg) {
    const char* user_c = ssh_message_auth_user(msg);
    std::string user = user_c ? user_c : "";
    if (!parsed_) {
      parsed_ = true;
      login_name_ = user;
      if (user.find('%') == std::string::npos) {
        token_ = true;
      } else if (!proto::parseIdentityLogin(user, id_)) {
        refuse("the login name must be a launch token or vigiluser%account%target");
        return std::nullopt;
      }
    } else if (user != login_name_ && !(ssh_message_subtype(msg) == SSH_AUTH_METHOD_INTERACTIVE &&
                                           ssh_message_auth_kbdint_is_response(msg))) {
      // (A keyboard-interactive response carries no name.)
      // RFC 4252 lets a client change the name between attempts; a Vigil login is one name.
      refuse("the login name changed during authentication");
      return std::nullopt;
    }

    int method = ssh_message_subtype(msg);
    if (token_) {
      if (method == SSH_AUTH_METHOD_PUBLICKEY) {
        ssh_message_reply_default(msg);  // let the client fall through to "none"/password
        return std::nullopt;
      }
      // none, password (any) or keyboard-interactive: the name itself is the credential.
      return gk_.redeemLaunchToken(login_name_, client_);
    }

    if (method == SSH_AUTH_METHOD_NONE) {
      ssh_message_reply_default(msg);
      return std::nullopt;
    }
    if (method == SSH_AUTH_METHOD_PASSWORD) {
      if (pending_ != Pending::None) {
        fail(msg);
        return std::nullopt;
      }
      crypto::SecureString pw = crypto::toSecure(ssh_message_auth_password(msg) ?: "");
      proto::Grant g = gk_.loginWithPassword(id_, pw, "", client_);  // before pw is moved
      return afterFirstFactor(msg, std::move(g), Pending::Password, std::move(pw));
    }
    if (method == SSH_AUTH_METHOD_PUBLICKEY) {
      if (pending_ != Pending::None) {
        fail(msg);
        return std::nullopt;
      }
      std::string fp = fingerprintOf(ssh_message_auth_pubkey(msg));
      auto state = ssh_message_auth_publickey_state(msg);
      if (state == SSH_PUBLICKEY_STATE_NONE) {
        if (!fp.empty() && gk_.userHasPublicKey(id_.vigil_user, fp)) {
          ssh_message_auth_reply_pk_ok_simple(msg);
        } else {
          fail(msg);
        }
        return std::nullopt;
      }
      if (state != SSH_PUBLICKEY_STATE_VALID) {
        fail(msg);
        return std::nullopt;
      }
      key_fp_ = fp;
      return afterFirstFactor(msg, gk_.loginWithPublicKey(id_, fp, "", client_), Pending::Key, {});
    }
    if (method == SSH_AUTH_METHOD_INTERACTIVE) {
      if (!ssh_message_auth_kbdint_is_response(msg)) {
        if (pending_ != Pending::None) {
          askTotp(msg);
        } else {
          const char* prompts[] = {"Password: "};
          char echo[] = {0};
          stage_ = Stage::Password;
          ssh_message_auth_interactive_request(msg, "Vigil", "", 1, prompts, echo);
        }
        return std::nullopt;
      }
      if (ssh_userauth_kbdint_getnanswers(s_) != 1) {
        fail(msg);
        return std::nullopt;
      }
      crypto::SecureString answer = crypto::toSecure(ssh_userauth_kbdint_getanswer(s_, 0) ?: "");
      if (stage_ == Stage::Password) {
        proto::Grant g = gk_.loginWithPassword(id_, answer, "", client_);  // before answer is moved
        return afterFirstFactor(msg, std::move(g), Pending::Password, std::move(answer));
      }
      if (stage_ == Stage::Totp) {
        proto::Grant g = pending_ == Pending::Key ? gk_.loginWithPublicKey(id_, key_fp_, answer, client_)
                                                  : gk_.loginWithPassword(id_, password_, answer, client_);
        if (g.status == proto::Grant::Status::NeedTotp) {
          g.status = proto::Grant::Status::Denied;  // a wrong code is simply a refusal
          if (g.message.empty()) g.message = "wrong one-time code";
        }
        return g;
      }
      fail(msg);
      return std::nullopt;
    }
    fail(msg);
    return std::nullopt;
  }

  /// After a password or key was accepted as the first factor: ask for the TOTP code when needed.
  std::optional<proto::Grant> afterFirstFactor(ssh_message msg, proto::Grant g, Pending what,
                                               crypto::SecureString secret) {
    if (g.status != proto::Grant::Status::NeedTotp) return g;
    pending_ = what;
    password_ = std::move(secret);
    if (ssh_message_subtype(msg) == SSH_AUTH_METHOD_INTERACTIVE) {
      askTotp(msg);  // the same keyboard-interactive exchange goes on with the code prompt
    } else {
      // Partial success: the client continues with keyboard-interactive, where the code is asked.
      ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_INTERACTIVE);
      ssh_message_auth_reply_success(msg, 1);
    }
    return g;
  }

  enum class Stage { None, Password, Totp };

  ssh_session s_;
  PersonConnection& conn_;
  proto::Gatekeeper& gk_;
  const proto::ClientInfo& client_;
  bool parsed_ = false;
  bool token_ = false;
  bool refused_ = false;
  std::string login_name_;  // may be a launch token: never logged
  proto::IdentityLogin id_;
  Pending pending_ = Pending::None;
  Stage stage_ = Stage::None;
  crypto::SecureString password_;
  std::string key_fp_;
  int failures_ = 0;
};

/// What the person asked for on their session channel before the data phase.
struct ChannelRequest {
  ssh_channel channel = nullptr;
  ChannelSetup setup;
  std::vector<std::pair<std::string, std::string>> env;
  MessagePtr pending;  // the shell/exec/subsystem request, answered once the target is up
};

/// Refuses a request the person made after the channel is open, with a message on stderr.
void refuseOnChannel(ssh_session s, ChannelRequest& req, const std::string& message, int status) {
  ssh_message_channel_request_reply_success(req.pending.get());
  req.pending.reset();
  std::string text = message + "\r\n";
  ssh_channel_write_stderr(req.channel, text.data(), static_cast<uint32_t>(text.size()));
  ssh_channel_request_send_exit_status(req.channel, status);
  ssh_channel_send_eof(req.channel);
  ssh_channel_close(req.channel);
  lingerUntilGone(s, 3);
}

bool readChannelRequest(ssh_session s, proto::Session& session, const proto::ChannelPolicy& policy,
                        ChannelRequest& req) {
  for (;;) {
    MessagePtr msg(ssh_message_get(s));
    if (!msg) return false;
    int type = ssh_message_type(msg.get());
    int sub = ssh_message_subtype(msg.get());
    if (type == SSH_REQUEST_CHANNEL_OPEN) {
      if (sub == SSH_CHANNEL_SESSION && req.channel == nullptr) {
        req.channel = ssh_message_channel_request_open_reply_accept(msg.get());
        if (req.channel == nullptr) return false;
        continue;
      }
      if (sub == SSH_CHANNEL_DIRECT_TCPIP) {
        session.note("port_forward_refused",
                     std::string("direct-tcpip ") + (ssh_message_channel_request_open_destination(msg.get()) ?: "") +
                         ":" + std::to_string(ssh_message_channel_request_open_destination_port(msg.get())) +
                         (policy.allow_port_forwarding ? " (allowed by policy, not implemented)" : ""));
      } else {
        session.note("channel_refused", "only one session channel per connection");
      }
      ssh_message_reply_default(msg.get());
      continue;
    }
    if (type == SSH_REQUEST_GLOBAL) {
      if (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
        session.note("port_forward_refused",
                     std::string("tcpip-forward ") + (ssh_message_global_request_address(msg.get()) ?: "") + ":" +
                         std::to_string(ssh_message_global_request_port(msg.get())) +
                         (policy.allow_port_forwarding ? " (allowed by policy, not implemented)" : ""));
      }
      ssh_message_reply_default(msg.get());
      continue;
    }
    if (type != SSH_REQUEST_CHANNEL || req.channel == nullptr ||
        ssh_message_channel_request_channel(msg.get()) != req.channel) {
      ssh_message_reply_default(msg.get());
      continue;
    }
    switch (sub) {
      case SSH_CHANNEL_REQUEST_PTY: {
        req.setup.pty = true;
        const char* term = ssh_message_channel_request_pty_term(msg.get());
        req.setup.term = term ? term : "xterm";
        req.setup.cols = std::clamp(ssh_message_channel_request_pty_width(msg.get()), 1, 10000);
        req.setup.rows = std::clamp(ssh_message_channel_request_pty_height(msg.get()), 1, 10000);
        ssh_message_channel_request_reply_success(msg.get());
        break;
      }
      case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
        req.setup.cols = std::clamp(ssh_message_channel_request_pty_width(msg.get()), 1, 10000);
        req.setup.rows = std::clamp(ssh_message_channel_request_pty_height(msg.get()), 1, 10000);
        break;
      case SSH_CHANNEL_REQUEST_ENV: {
        const char* n = ssh_message_channel_request_env_name(msg.get());
        const char* v = ssh_message_channel_request_env_value(msg.get());
        if (n && v && forwardableEnv(n) && req.env.size() < 32) {
          req.env.emplace_back(n, v);
          ssh_message_channel_request_reply_success(msg.get());
        } else {
          ssh_message_reply_default(msg.get());
        }
        break;
      }
      case SSH_CHANNEL_REQUEST_X11:
        session.note("x11_refused", policy.allow_x11_forwarding ? "allowed by policy, not implemented" : "");
        ssh_message_reply_default(msg.get());
        break;
      case SSH_CHANNEL_REQUEST_SHELL:
        req.setup.kind = "shell";
        req.pending = std::move(msg);
        return true;
      case SSH_CHANNEL_REQUEST_EXEC: {
        const char* cmd = ssh_message_channel_request_command(msg.get());
        req.setup.kind = "exec";
        req.setup.command = cmd ? cmd : "";
        req.pending = std::move(msg);
        return true;
      }
      case SSH_CHANNEL_REQUEST_SUBSYSTEM: {
        const char* name = ssh_message_channel_request_subsystem(msg.get());
        if (name == nullptr || std::string_view(name) != "sftp") {
          session.note("subsystem_refused", name ? name : "");
          ssh_message_reply_default(msg.get());
          break;
        }
        req.setup.kind = "subsystem";
        req.setup.command = name;
        req.pending = std::move(msg);
        return true;
      }
      default:
        // auth-agent-req@openssh.com arrives here (libssh 0.10 has no type for it).
        session.note("agent_forward_refused", policy.allow_agent_forwarding ? "allowed by policy, not implemented" : "");
        ssh_message_reply_default(msg.get());
        break;
    }
  }
}

}  // namespace

void servePerson(ssh_session s, PersonConnection& conn) {
  bool login_done = false;
  auto loginDone = [&] {
    if (!login_done && conn.on_login_done) conn.on_login_done();
    login_done = true;
  };
  proto::ClientInfo client{"ssh", conn.client_addr, "ssh"};

  ssh_set_auth_methods(s, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE);
  if (ssh_handle_key_exchange(s) != SSH_OK) {
    log().info("client={} key exchange failed: {}", conn.client_addr, ssh_get_error(s));
    loginDone();
    return;
  }
  if (!conn.banner.empty()) sendBanner(s, conn.banner);

  proto::Grant grant;
  std::unique_ptr<proto::Session> session;
  try {
    Authenticator auth(s, conn, client);
    session = auth.run(grant);
  } catch (const std::exception& e) {
    log().error("client={} authentication failed with an internal error: {}", conn.client_addr, e.what());
    sendBanner(s, "Vigil refused: internal error\r\n");
  }
  if (!session) {
    loginDone();
    return;
  }
  const std::string sid = session->id();

  ChannelRequest req;
  if (!readChannelRequest(s, *session, grant.policy, req)) {
    loginDone();
    session->end("client_closed", "no channel request", 0, 0);
    return;
  }
  loginDone();

  bool file_transfer = req.setup.kind == "subsystem" || (req.setup.kind == "exec" && isScpCommand(req.setup.command));
  if (file_transfer && !grant.policy.allow_file_transfer) {
    session->note("file_transfer_refused", req.setup.kind == "subsystem" ? "sftp" : req.setup.command);
    refuseOnChannel(s, req, "Vigil refused: file transfer (scp/sftp) is not allowed on " + grant.safe_name + ".", 1);
    session->end("error", "file transfer not allowed by policy", 0, 0);
    return;
  }

  if (req.setup.kind == "exec" && !file_transfer) {
    // `ssh host 'cmd'`: a block rule refuses the command before the target is even dialled.
    auto d = session->screenCommand(req.setup.command);
    if (!d.forward) {
      log().info("session={} exec command blocked by a risk rule", sid);
      refuseOnChannel(s, req, d.notice, 1);
      session->end("command_blocked", "the command matched a block rule", 0, 0);
      return;
    }
  }

  TargetSide target;
  TargetFailure failure;
  if (!target.connect(grant, *session, *conn.gatekeeper, conn.connect_timeout_seconds, failure) ||
      !target.openChannel(req.setup, req.env, grant, failure)) {
    log().info("session={} target side failed: {} ({})", sid, failure.reason, failure.detail);
    refuseOnChannel(s, req, failure.message + " [session " + sid + "]", 255);
    session->end(failure.reason, failure.detail, 0, 0);
    return;
  }
  ssh_message_channel_request_reply_success(req.pending.get());
  req.pending.reset();
  std::string command = req.setup.kind == "subsystem" ? "subsystem:" + req.setup.command : req.setup.command;
  session->channelOpened(req.setup.kind, command, req.setup.pty ? req.setup.term : "", req.setup.cols,
                         req.setup.rows);
  log().info("session={} {} open to {}@{}", sid, req.setup.kind, grant.account_user, grant.target.name);

  SshPerson person(s, req.channel, *session, grant.policy);
  Pump pump(person, target.session(), target.channel(), *session, grant.policy, req.setup);
  if (conn.on_control) pump.setControlObserver(conn.on_control);
  pump.run();
  // What the pump wrote may still sit in libssh's socket buffer (a client slower than its
  // target): serve the connection until the client, having seen exit status, EOF and close,
  // disconnects, so the tail of a download is not cut off by the disconnect.
  lingerUntilGone(s, 5);
}

}  // namespace vigil::ssh
