#pragma once
// The neutral contract between a protocol proxy (protocols/<name>) and the session core
// (server/). A proxy authenticates the person at its listener through a Gatekeeper, opens a
// Session (the session row is written, the recording opened and the credential released before
// the proxy dials the target), reports what happens as neutral events, and ends it with a
// reason. Proxies never touch SQL or recording files; the session core never touches sockets.
//
// Nothing here includes libssh, FreeRDP, Beast or pqxx.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::proto {

/// Where a connection comes from.
struct ClientInfo {
  std::string protocol;     // "ssh", "rdp", "tds", "postgres"
  std::string client_addr;  // "203.0.113.5:51234"
  std::string via;          // "web" (browser terminal), else the protocol's own client: as `protocol`
};

/// The account named in an identity login (e.g. SSH user "alice%root%web01").
struct IdentityLogin {
  std::string vigil_user;    // "alice"
  std::string account_user;  // "root"
  std::string target_name;   // "web01"
};

/// Per-safe rules the proxy enforces on channels.
struct ChannelPolicy {
  bool record = true;                 // the safe requires recording: fail closed if it breaks
  bool allow_file_transfer = true;    // scp / sftp
  bool allow_port_forwarding = false; // direct-tcpip, tcpip-forward
  bool allow_agent_forwarding = false;
  bool allow_x11_forwarding = false;
  bool trust_on_first_use = false;    // an unpinned target may be pinned on first connect
  /// Graphical sessions' clipboard (text only): "deny", "allow_log" (relayed, text in the timeline)
  /// or "allow" (relayed, the timeline row without the text).
  std::string clipboard = "deny";
};

/// The target the session goes to, as the proxy must dial it.
struct TargetEndpoint {
  std::int64_t target_id = 0;
  std::string name;
  std::string address;
  int port = 0;
  /// "SHA256:<base64, no padding>" as OpenSSH prints it; empty when not pinned.
  std::string host_key_fingerprint;
  /// TLS targets (RDP, TDS, PostgreSQL): the certificate's SHA-256 as the portal shows it
  /// ("AB:CD:…"); when set it is the pin, else host_key_fingerprint (older pins).
  std::string certificate_fingerprint;
};

/// The outcome of authenticating and authorizing a person for one account.
struct Grant {
  enum class Status {
    Ok,
    NeedTotp,  // identity login: the password/key was right; ask for the TOTP code and retry
    Denied,
  };
  Status status = Status::Denied;
  /// For Denied: a message safe to show the person ("launch token expired or already used").
  /// It never says whether a user name exists.
  std::string message;
  std::int64_t user_id = 0;
  std::string username;  // the Vigil user
  std::int64_t account_id = 0;
  std::string account_user;  // the login name on the target
  std::int64_t safe_id = 0;
  std::string safe_name;
  TargetEndpoint target;
  ChannelPolicy policy;
};

/// The vault credential for the target; the secret is zeroed when this is destroyed.
struct Credential {
  std::string username;
  std::string kind;  // "password" or "private_key" (OpenSSH/PEM text)
  crypto::SecureString secret;
};

/// A file operation seen on a file-transfer channel (SFTP or legacy scp).
struct FileOperation {
  std::string operation;  // "upload", "download", "remove", "rename", "mkdir", "rmdir", "setstat", ...
  std::string path;       // as the client named it
  std::string path2;      // rename target
  std::uint64_t bytes = 0;  // bytes transferred for upload/download
  bool ok = true;           // the server's status reply
};

/// Live control of a running session (suspend/resume/terminate from the registry). Implemented
/// by the proxy; methods may be called from any thread and must only post work to the session's
/// own thread (e.g. via an eventfd in its poll loop).
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  virtual void suspend(const std::string& message) = 0;
  virtual void resume() = 0;
  virtual void terminate(const std::string& reason) = 0;
};

/// What the proxy does with a chunk of the person's terminal input that submits a line (holds a
/// CR), decided by the session core before the chunk is forwarded (the risk engine's blocking).
struct InputDecision {
  bool forward = true;      // false: send `replacement` to the target instead of the chunk
  std::string replacement;  // e.g. "\x15" (Ctrl-U: the shell discards the typed line)
  std::string notice;       // written to the person's terminal (why), may be empty
};

/// One SQL statement (or RPC call) a database client sent, with its outcome, reported by a
/// database proxy (protocols/postgres, protocols/tds) once the target answered it.
struct SqlStatement {
  std::string text;        // UTF-8; for an RPC: "EXEC sp_executesql N'...'" or the procedure name and arguments
  std::string kind;        // "query" (simple query), "extended" (Parse/Bind/Execute), "batch" (TDS SQLBatch), "rpc", "copy"
  std::string parameters;  // JSON array of bound parameter values as text ('' when none); never a credential
  std::int64_t duration_ms = 0;  // from the request to the target's final answer
  std::int64_t rows = -1;        // rows affected or returned (CommandComplete / DONE count); -1 unknown
  std::string command_tag;       // e.g. "INSERT 0 3", "SELECT 5" (PostgreSQL); '' for TDS
  std::string error;             // the target's error message ('' on success)
  bool blocked = false;          // the session core refused it (screenSql); the target never saw it
};

/// Text that crossed a graphical session's clipboard (the safe allowed it; text formats only).
struct ClipboardTransfer {
  bool to_target = true;    // the person's clipboard pasted on the target; false: target -> person
  std::string text;         // UTF-8, at most kClipboardLogBytes of it; empty when the safe does not log text
  std::uint64_t chars = 0;  // characters in the whole transfer
  bool truncated = false;   // `text` is the start of a longer transfer
  bool logged = false;      // the safe logs clipboard text ("allow_log")
  static constexpr std::size_t kClipboardLogBytes = 16 * 1024;
};

/// What a database proxy does with a statement before forwarding it (the risk engine's blocking).
struct SqlDecision {
  bool forward = true;
  std::string message;  // for a refused statement: the error text the client receives
};

/// One proxied session as the session core sees it. All methods are called from the session's
/// own thread (the proxy's event loop); byte arguments are borrowed for the call. Implementations
/// never block on the network or the database on this path (they queue).
class Session {
 public:
  virtual ~Session() = default;
  /// Time-ordered id (UUIDv7), also the recording's name. Shown to the person on refusals.
  virtual const std::string& id() const = 0;
  /// The vault credential, fetched once at start. The caller moves it out and wipes it after use.
  virtual Credential takeCredential() = 0;
  /// The proxy's live-control object (may be null until the target is up). Not owned.
  virtual void setControl(SessionControl* control) = 0;

  /// An interactive terminal or a command channel opened: `command` is empty for a shell, the
  /// command line for `ssh host cmd`, "subsystem:sftp" for a subsystem.
  virtual void channelOpened(std::string_view kind, std::string_view command, std::string_view term,
                             int cols, int rows) = 0;
  /// Target -> person bytes of the terminal (stdout and stderr as the person saw them).
  virtual void output(std::string_view bytes) = 0;
  /// Person -> target bytes of the terminal.
  virtual void input(std::string_view bytes) = 0;
  /// Asked before forwarding terminal input that holds a CR (a line is submitted), before
  /// input(): the session core may replace the chunk (a blocked command never reaches the
  /// target). The proxy then passes what it forwarded to input(). Default: forward as is.
  virtual InputDecision screenInput(std::string_view bytes) {
    (void)bytes;
    return {};
  }
  /// Asked before a command channel (`ssh host 'cmd'`) is started on the target, with the command
  /// line: the session core may refuse it (a block rule); `notice` says why. Default: forward.
  virtual InputDecision screenCommand(std::string_view command) {
    (void)command;
    return {};
  }
  virtual void resize(int cols, int rows) = 0;
  /// Asked by a database proxy before forwarding a statement (the whole text, as the target would
  /// run it). Default: forward.
  virtual SqlDecision screenSql(std::string_view sql) {
    (void)sql;
    return {};
  }
  /// A statement finished (or was refused): a timeline row, the transcript, risk rules on SQL.
  virtual void sqlStatement(const SqlStatement& statement) { (void)statement; }
  /// Graphical sessions (RDP): the target's screen as the proxy keeps it (BGRX, 4 bytes per
  /// pixel, `stride` bytes per row), called when it changed. Borrowed for the call: the session
  /// core copies what it keeps and never waits for an encoder here. Default: ignored.
  virtual void frame(const std::uint8_t* bgrx, int width, int height, int stride) {
    (void)bgrx, (void)width, (void)height, (void)stride;
  }
  /// Graphical sessions: true when the session core wants the current screen now even if it has
  /// not changed (a SOC watcher just joined). Asked by the proxy's loop. Default: never.
  virtual bool wantsFrame() { return false; }
  /// Graphical sessions: text the person typed (a line, or a run of keys up to a pause), special
  /// keys written as "[Ctrl+C]", "[Enter]". A `keystrokes` timeline row (searchable). Default: ignored.
  virtual void keystrokes(std::string_view text) { (void)text; }
  /// Graphical sessions: the title of the window in front changed (RemoteApp orders, later OCR).
  /// A `window_title` timeline row. Default: ignored.
  virtual void windowTitle(std::string_view title) { (void)title; }
  /// Graphical sessions: text crossed the clipboard. A `clipboard` timeline row (searchable when
  /// the text is logged; text pasted to the target also meets the keystroke risk rules).
  virtual void clipboard(const ClipboardTransfer& transfer) { (void)transfer; }
  virtual void fileOperation(const FileOperation& op) = 0;
  /// Anything else worth a timeline entry: "port_forward_refused", "exit_status", "signal", ...
  virtual void note(std::string_view kind, std::string_view text) = 0;
  /// False once recording has failed; with policy.record the proxy must end the session
  /// ("recording_failed") and tell the person.
  virtual bool recordingHealthy() const = 0;

  /// Ends the session once. `reason`: client_closed, target_closed, target_unreachable,
  /// host_key_mismatch, host_key_unpinned, target_auth_failed, recording_failed, terminated,
  /// error. `detail` is free text for the audit log (never secrets).
  virtual void end(std::string_view reason, std::string_view detail, std::uint64_t bytes_from_client,
                   std::uint64_t bytes_to_client) = 0;
};

/// Authentication, authorization and session start. Implemented by the session core; thread-safe;
/// methods block on the database (call them from the session thread, never from an event loop
/// shared with other sessions). Every refusal is audited by the implementation with its reason.
class Gatekeeper {
 public:
  virtual ~Gatekeeper() = default;
  /// Redeems a one-time launch token (single use, short-lived, bound to a user and an account).
  virtual Grant redeemLaunchToken(std::string_view token, const ClientInfo& client) = 0;
  /// Identity login with the person's Vigil password; `totp` empty on the first try.
  virtual Grant loginWithPassword(const IdentityLogin& login, std::string_view password,
                                  std::string_view totp, const ClientInfo& client) = 0;
  /// True if `vigil_user` exists and has TOTP enrolled (no audit: RDP, whose one password field
  /// then carries the code after the password, asks it to know whether to split them).
  virtual bool userHasTotp(std::string_view vigil_user) = 0;
  /// An identity login whose password was right (NeedTotp) on a protocol that cannot ask for the
  /// code afterwards (RDP, PostgreSQL): refused with `message` and audited (`totp_missing`).
  virtual Grant refuseMissingTotp(const Grant& need_totp, std::string message, const ClientInfo& client) = 0;
  /// True if `fingerprint` ("SHA256:...") is a public key registered by `vigil_user` (no audit:
  /// this is the signature-less probe that precedes a public-key login).
  virtual bool userHasPublicKey(std::string_view vigil_user, std::string_view fingerprint) = 0;
  /// Identity login with a verified public-key signature; `totp` empty on the first try.
  virtual Grant loginWithPublicKey(const IdentityLogin& login, std::string_view fingerprint,
                                   std::string_view totp, const ClientInfo& client) = 0;
  /// A portal user (already authenticated by the web layer) opening one of their accounts.
  virtual Grant authorizeUser(std::int64_t user_id, std::int64_t account_id, const ClientInfo& client) = 0;

  /// Starts the session for an Ok grant: re-checks permission, writes the session row, opens the
  /// recording (fails closed when the policy requires recording), and loads the credential.
  /// Null with `error` set (a message for the person) when it cannot start.
  virtual std::unique_ptr<Session> startSession(const Grant& grant, const ClientInfo& client,
                                                std::string& error) = 0;
  /// Trust on first use: pins `fingerprint` to the target if it has none yet (audited). False if
  /// another fingerprint was pinned meanwhile.
  virtual bool pinHostKey(std::int64_t target_id, std::string_view fingerprint,
                          std::string_view session_id) = 0;
};

/// A terminal to a target, driven by something other than a native client (the browser
/// terminal). Implemented by a protocol proxy, used by the web layer through the session core.
class TerminalBridge {
 public:
  struct Callbacks {
    /// Target output for the person, in order; called from the bridge's thread.
    std::function<void(std::string_view bytes)> output;
    /// The session ended (once); `message` is for the person. Called from the bridge's thread.
    std::function<void(const std::string& message)> closed;
  };
  virtual ~TerminalBridge() = default;
  /// Keystrokes from the person. Any thread; copied.
  virtual void write(std::string_view bytes) = 0;
  /// Any thread.
  virtual void resize(int cols, int rows) = 0;
  /// Ends the session (the person closed the page). Any thread; idempotent.
  virtual void close() = 0;
  /// The session id once started (empty before).
  virtual std::string sessionId() const = 0;
};

/// Opens a browser terminal for an Ok grant: runs the same proxy core as native clients (session
/// row, recording, credential injection, host-key check) on its own thread. Returns immediately;
/// failures arrive through `closed`.
using TerminalOpener = std::function<std::shared_ptr<TerminalBridge>(
    const Grant& grant, const ClientInfo& client, int cols, int rows, TerminalBridge::Callbacks cb)>;

}  // namespace vigil::proto
