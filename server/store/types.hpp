#pragma once
// Plain records the store returns. No database types leak out of server/store.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/crypto/envelope.hpp"

namespace vigil::store {

using crypto::Bytes;

/// A unique constraint was violated (duplicate name...). `what()` names the constraint's subject.
struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A foreign key blocks a delete (a safe that still holds accounts...).
struct InUse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct User {
  std::int64_t id = 0;
  std::string username;
  std::string display_name;
  std::vector<std::string> roles;
  std::string source = "local";
  std::string password_hash;  // Argon2id encoded; empty for LDAP users
  bool must_change_password = false;
  bool totp_enrolled = false;
  std::optional<crypto::Envelope> totp;  // enrolled or pending secret
  std::optional<std::int64_t> totp_last_step;
  int failed_logins = 0;
  bool locked = false;          // locked by an administrator until unlocked
  bool lockout_active = false;  // temporary lockout after failed logins, still in force
  std::string created_at;
  bool hasRole(const std::string& r) const;
};

struct PortalSession {
  std::int64_t user_id = 0;
  std::string csrf_token;
};

struct SafePolicy {
  bool record_sessions = true;
  bool live_monitoring = true;
  bool require_dual_authorization = false;
  int retention_days = 90;
  std::vector<std::string> allowed_protocols{"ssh", "rdp", "tds", "postgres"};
  // Channel rules the proxies enforce.
  bool allow_file_transfer = true;
  bool allow_port_forwarding = false;
  bool allow_agent_forwarding = false;
  bool allow_x11_forwarding = false;
  bool trust_on_first_use = false;  // an unpinned target's host key is pinned at first connect
  bool encrypt_recordings = false;  // AES-256-GCM at rest (recorder/recording_cipher)
  // Screen video of graphical (RDP) sessions: codec ("h264", "av1"), frame-rate cap and quality
  // ("low", "standard", "high").
  std::string video_codec = "av1";
  int video_max_fps = 5;
  std::string video_quality = "standard";
  // Graphical (RDP) sessions' clipboard: "deny", "allow_log" (text relayed and logged) or "allow"
  // (text relayed; the timeline says who copied how much, not what). Text formats only.
  std::string clipboard = "deny";
};

struct Safe {
  std::int64_t id = 0;
  std::string name;
  std::string description;
  SafePolicy policy;
  std::string created_at;
};

struct SafeMember {
  std::int64_t safe_id = 0;
  std::int64_t user_id = 0;
  std::string username;
  std::vector<std::string> permissions;
};

struct Target {
  std::int64_t id = 0;
  std::string name;
  std::string protocol;
  std::string address;
  int port = 0;
  std::string host_key_fingerprint;
  std::string certificate_fingerprint;
  std::string description;
  std::string created_at;
};

struct Account {
  std::int64_t id = 0;
  std::int64_t safe_id = 0;
  std::string safe_name;
  std::int64_t target_id = 0;
  std::string target_name;
  std::string protocol;
  std::string address;
  int port = 0;
  std::string username;
  std::string secret_kind;
  std::string description;
  std::string created_at;
  std::string updated_at;
};

struct AuditEntry {
  std::int64_t id = 0;
  std::string at;
  std::optional<std::int64_t> actor_id;
  std::string actor;
  std::string source_addr;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::string outcome;  // ok, failed, denied
  std::string details_json = "{}";
};

/// A one-time launch token (stored as its SHA-256 only).
struct LaunchTokenUse {
  enum class Status { Ok, Unknown, Used, Expired };
  Status status = Status::Unknown;
  std::int64_t user_id = 0;
  std::int64_t account_id = 0;
};

struct SshKey {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string algorithm;
  std::string fingerprint;  // SHA256:<base64 no padding>
  std::string public_key;   // "<algorithm> <base64>"
  std::string comment;
  std::string created_at;
};

struct SessionRecord {
  std::string id;  // UUIDv7 text
  std::string node;
  std::optional<std::int64_t> user_id;
  std::string username;
  std::optional<std::int64_t> account_id;
  std::string account_user;
  std::optional<std::int64_t> target_id;
  std::string target_name;
  std::string target_address;
  std::optional<std::int64_t> safe_id;
  std::string safe_name;
  std::string protocol;
  std::string via;  // ssh | web
  std::string client_addr;
  std::string started_at;
  std::string ended_at;  // '' while open
  std::string end_reason;
  std::string end_detail;
  std::int64_t bytes_from_client = 0;
  std::int64_t bytes_to_client = 0;
  std::string recording_path;  // relative to recordings.dir; '' if not recorded
  std::int64_t recording_bytes = 0;
  int command_count = 0;
  int risk_score = 0;
  std::string review_status = "unreviewed";
  std::optional<std::int64_t> duration_ms;  // set by querySessions (active sessions: up to now)
  std::optional<std::int64_t> access_request_id;  // the approval that authorized it (issue 8)
  std::string purged_at;                          // retention deleted its recording ('' if not)
  std::string recording_tier = "hot";             // hot | cold
};

/// What a session's end writes to its row.
struct SessionEnd {
  std::string id;
  std::string reason;
  std::string detail;
  std::int64_t bytes_from_client = 0;
  std::int64_t bytes_to_client = 0;
  std::int64_t recording_bytes = 0;
  int command_count = 0;
  bool has_recording = true;  // false: no recording was written after all (recording_path cleared)
};

struct SessionEvent {
  std::int64_t id = 0;
  std::string session_id;
  std::string at;  // RFC 3339 (read); insert uses now() unless set
  std::int64_t offset_ms = 0;
  std::string kind;  // command, file, lifecycle, note
  std::string text;
  std::string details_json = "{}";
};

/// GET /sessions, /search, /review-queue and `vigil recordings ls`: every filter is optional.
struct SessionQuery {
  std::optional<std::int64_t> user_id, account_id, target_id, safe_id;
  std::optional<std::string> username;       // exact
  std::optional<std::string> protocol;
  std::optional<std::string> review_status;
  std::optional<std::string> status;         // active | ended
  std::optional<std::string> from;           // RFC 3339, started_at >= from
  std::optional<std::string> to;             // RFC 3339, started_at <= to
  std::optional<std::string> to_before;      // RFC 3339, started_at < to_before (a date `to`)
  std::optional<std::int64_t> min_risk, max_risk;
  std::optional<std::int64_t> min_duration_ms, max_duration_ms;
  std::optional<std::int64_t> visible_to;    // own sessions + safes with view_recordings/monitor_live
  std::optional<std::string> before;         // legacy keyset: ids smaller than this
  std::optional<std::string> text;           // an event's text contains this (ILIKE, trigram)
  std::optional<std::string> words;          // an event's text matches these words (full text)
  std::optional<std::string> search;         // contains OR words (GET /search)
  /// Review queue: unreviewed ended sessions this user may review (not their own).
  std::optional<std::int64_t> reviewable_by;
  bool reviewer_is_superuser = false;
  bool reviewer_is_auditor = false;
  /// started_desc | started_asc | risk_desc | duration_desc | queue (risk desc, oldest first)
  std::string sort = "started_desc";
  struct Key {
    std::int64_t a = 0;  // first sort key (started µs, risk, duration ms)
    std::int64_t b = 0;  // second sort key (started µs) where the sort has one
    std::string id;      // session id, the tie breaker
  };
  std::optional<Key> after;  // keyset: rows strictly after this one in `sort` order
  int limit = 50;
};

struct SessionPage {
  std::vector<SessionRecord> items;
  std::optional<SessionQuery::Key> next;  // set when the page is full
};

/// An event that matched a text search.
struct SearchHit {
  std::int64_t event_id = 0;
  std::string session_id;
  std::string kind;
  std::int64_t offset_ms = 0;
  std::string at;
  std::string text;
};

struct SessionReview {
  std::int64_t id = 0;
  std::string session_id;
  std::string status;
  std::string comment;
  std::string reviewer;
  std::string at;
};

struct SessionComment {
  std::int64_t id = 0;
  std::string session_id;
  std::int64_t offset_ms = 0;
  std::string text;
  std::string author;
  std::string at;
};

struct Page {
  int limit = 100;
  std::int64_t after = 0;
};

}  // namespace vigil::store

namespace vigil::store {

/// A risk alert (table alerts): a rule matched in a session.
struct Alert {
  std::int64_t id = 0;
  std::string at;
  std::string session_id;
  std::int64_t offset_ms = 0;
  std::optional<std::int64_t> user_id;
  std::string username;
  std::string rule_id;
  std::string severity;
  int score = 0;
  std::vector<std::string> actions;
  std::string message;
  std::string matched;
  std::string status = "open";
  std::string acknowledged_by;
  std::string acknowledged_at;
};

// The seal of a finished recording (sql/0007, server/services/recording_seal).
struct RecordingSeal {
  std::string session_id;
  std::string manifest;   // the exact JSON text signed
  std::string signature;  // base64 Ed25519
  std::string public_key; // base64 raw key that signed
  std::string chunk_index;  // recorder::formatChunkEntry lines
  std::int64_t chunk_count = 0;
  std::string final_hash;
  std::int64_t file_size = 0;
  bool encrypted = false;
  std::string sealed_at;
};

// One break in the audit log's hash chain (`vigil verify --audit`).
struct AuditChainProblem {
  std::string kind;  // "edited", "deleted", "unchained"
  std::int64_t id = 0;         // the row edited, or the row after the gap
  std::int64_t chain_seq = 0;
  std::string detail;
};

}  // namespace vigil::store
