#pragma once
// The PostgreSQL store: the only code that talks to the database (libpqxx stays in .cpp files).
// Every method is thread-safe: it borrows a connection from the pool for its duration.
// Database failures throw std::runtime_error; uniqueness violations throw Conflict.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/store/compliance_types.hpp"
#include "server/store/types.hpp"

namespace vigil::store {

class Store {
 public:
  /// Opens `pool_size` connections to `url` (libpq URL or key=value string). Throws on failure.
  Store(const std::string& url, int pool_size);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Applies numbered migrations (NNNN_name.sql) from `sql_dir` not yet applied, each in its own
  /// transaction, under an advisory lock. Returns the names applied. `progress` gets each name.
  std::vector<std::string> migrate(const std::string& sql_dir,
                                   const std::function<void(const std::string&)>& progress = {});
  /// Highest applied migration version (0 on an empty database).
  int schemaVersion();

  // ---- users
  std::optional<User> userByName(const std::string& username);
  std::optional<User> userById(std::int64_t id);
  std::vector<User> listUsers(const Page& page);
  std::int64_t countUsers();
  User createUser(const User& u);
  /// Writes display_name, roles, password_hash, must_change_password, locked.
  void updateUser(const User& u);
  bool deleteUser(std::int64_t id);
  /// Records a failed login; when `threshold` is reached, locks for `lockout_minutes`. Returns the
  /// new failed count and whether this failure locked the user.
  std::pair<int, bool> recordLoginFailure(std::int64_t id, int threshold, int lockout_minutes);
  void recordLoginSuccess(std::int64_t id);
  /// Ends a temporary lockout and resets the failure count (an administrator's unlock).
  void clearLockout(std::int64_t id);
  /// Stores a pending (enrolled=false) or enrolled TOTP envelope; nullopt clears it.
  void setTotp(std::int64_t id, const std::optional<crypto::Envelope>& env, bool enrolled);
  /// Atomically moves totp_last_step forward; false if `step` is not newer (a replayed code).
  bool advanceTotpStep(std::int64_t id, std::int64_t step);
  /// Upserts an LDAP user (roles replaced from the directory). Returns the user.
  User upsertLdapUser(const std::string& username, const std::string& display_name,
                      const std::vector<std::string>& roles);

  // ---- portal sessions (token_hash = SHA-256 of the cookie)
  void createPortalSession(const Bytes& token_hash, std::int64_t user_id, const std::string& csrf,
                           const std::string& source_addr, int absolute_hours);
  /// A valid (not idle-expired, not absolute-expired) session and its user, in one round trip.
  /// last_seen moves forward at most every 15 s, without waiting for the WAL flush: it is the only
  /// write on the hot path of every authenticated request, and losing one on a crash is harmless.
  std::optional<std::pair<PortalSession, User>> touchPortalSession(const Bytes& token_hash, int idle_minutes);
  void deletePortalSession(const Bytes& token_hash);
  void deleteUserPortalSessions(std::int64_t user_id);

  // ---- safes and membership
  std::vector<Safe> listSafes(const Page& page, std::optional<std::int64_t> member_user_id);
  std::optional<Safe> safeById(std::int64_t id);
  Safe createSafe(const Safe& s);
  void updateSafe(const Safe& s);
  bool deleteSafe(std::int64_t id);  // throws InUse while it holds accounts
  std::vector<SafeMember> listMembers(std::int64_t safe_id);
  std::optional<SafeMember> membership(std::int64_t safe_id, std::int64_t user_id);
  std::vector<SafeMember> membershipsOf(std::int64_t user_id);
  SafeMember setMember(std::int64_t safe_id, std::int64_t user_id,
                       const std::vector<std::string>& permissions);
  bool removeMember(std::int64_t safe_id, std::int64_t user_id);

  // ---- targets
  std::vector<Target> listTargets(const Page& page);
  std::optional<Target> targetById(std::int64_t id);
  Target createTarget(const Target& t);
  void updateTarget(const Target& t);
  bool deleteTarget(std::int64_t id);  // throws InUse while accounts use it

  // ---- accounts (secrets are envelopes; the store never sees plaintext)
  struct AccountFilter {
    std::optional<std::int64_t> safe_id;
    std::optional<std::int64_t> member_user_id;  // only safes where this user has any permission
    std::optional<std::string> required_permission;  // with member_user_id
    bool only_allowed_protocols = false;
  };
  std::vector<Account> listAccounts(const Page& page, const AccountFilter& f);
  std::optional<Account> accountById(std::int64_t id);
  /// Inserts the account; `seal` is called with the new id to produce the envelope (the id is
  /// the associated data), all in one transaction.
  Account createAccount(const Account& a,
                        const std::function<crypto::Envelope(std::int64_t id)>& seal);
  void updateAccount(const Account& a);
  void setAccountSecret(std::int64_t id, const std::string& kind, const crypto::Envelope& env);
  std::optional<crypto::Envelope> accountSecret(std::int64_t id);
  bool deleteAccount(std::int64_t id);

  /// The account named in an identity login: target name + login name on the target.
  std::optional<Account> accountByTargetAndUser(const std::string& target_name, const std::string& username);
  /// Trust on first use: sets the target's host key fingerprint only if none is pinned yet.
  /// False if a fingerprint was already there (even the same one) or the target is gone.
  bool pinHostKey(std::int64_t target_id, const std::string& fingerprint);
  /// Trust on first use for a TLS target: sets the certificate fingerprint ("AB:CD:…") if the
  /// target has no pin of either kind yet.
  bool pinCertificate(std::int64_t target_id, const std::string& hex_fingerprint);

  // ---- launch tokens (token_hash = SHA-256 of the token)
  /// Stores a token valid for `ttl_seconds`; returns its expiry (RFC 3339).
  std::string createLaunchToken(const Bytes& token_hash, std::int64_t user_id, std::int64_t account_id,
                                int ttl_seconds);
  /// Marks the token used, atomically (one winner among concurrent redeems). When it cannot be
  /// used, says why: unknown, already used or expired.
  LaunchTokenUse consumeLaunchToken(const Bytes& token_hash, const std::string& used_from);

  // ---- users' SSH public keys
  SshKey addSshKey(const SshKey& k);  // Conflict if the user already has this key
  std::vector<SshKey> listSshKeys(std::int64_t user_id);
  bool deleteSshKey(std::int64_t user_id, std::int64_t key_id);
  /// The key with `fingerprint` registered by the user named `username`.
  std::optional<SshKey> sshKeyOf(const std::string& username, const std::string& fingerprint);

  // ---- proxied sessions and their timeline
  void insertSession(const SessionRecord& s);
  /// Writes events, then ends (in that order, one transaction): a session's end never reaches
  /// the database before the events queued ahead of it. An end applies only to an open row.
  void writeSessionBatch(const std::vector<SessionEvent>& events, const std::vector<SessionEnd>& ends);
  void insertSessionEvents(const std::vector<SessionEvent>& events) { writeSessionBatch(events, {}); }
  bool endSession(const SessionEnd& e);
  /// Ends every open session of `node` with reason 'interrupted' (after a crash or a kill).
  int closeInterruptedSessions(const std::string& node);
  struct SessionFilter {
    std::optional<std::int64_t> user_id;
    std::optional<std::int64_t> account_id;
    std::optional<std::int64_t> target_id;
    std::optional<std::int64_t> safe_id;
    std::optional<std::string> status;      // "active" | "ended"
    std::optional<std::int64_t> visible_to;  // own sessions + safes with view_recordings/monitor_live
    std::optional<std::string> before;      // keyset: ids (UUIDv7) smaller than this
    std::optional<std::string> text;        // an event's text contains this (case-insensitive)
    std::optional<std::string> words;       // an event's text matches these words (full text)
    int limit = 100;
  };
  /// Newest first.
  std::vector<SessionRecord> listSessions(const SessionFilter& f);
  std::optional<SessionRecord> sessionById(const std::string& id);
  /// Events in id order after `page.after`, optionally of one kind.
  std::vector<SessionEvent> listSessionEvents(const std::string& session_id, const std::optional<std::string>& kind,
                                              const Page& page);

  // ---- risk (server/store/alerts.cpp)
  /// Inserts an alert; returns its id.
  std::int64_t insertAlert(const Alert& a);
  struct AlertFilter {
    std::optional<std::string> status;      // "open" | "acknowledged"
    std::optional<std::string> session_id;
    std::optional<std::int64_t> since_id;   // ids greater than this (live polling)
    int limit = 100;
  };
  /// Newest first (oldest first with since_id, for polling in order).
  std::vector<Alert> listAlerts(const AlertFilter& f);
  /// Marks an alert acknowledged; nullopt if there is none with this id.
  std::optional<Alert> acknowledgeAlert(std::int64_t id, const std::string& by);
  void addSessionRiskScore(const std::string& session_id, int delta);
  /// Locks (or unlocks) a user account; false if there is no such user.
  bool setUserLocked(std::int64_t user_id, bool locked);
  // ---- recordings search and review (issue 4; server/store/session_search.cpp, reviews.cpp)
  /// One keyset page of sessions in `q.sort` order.
  SessionPage querySessions(const SessionQuery& q);
  /// Up to `per_session` events of each session whose text contains `text` (case-insensitive)
  /// or matches its words (full text), in offset order.
  std::vector<SearchHit> searchHits(const std::vector<std::string>& session_ids, const std::string& text,
                                    int per_session);
  /// Events in id order after `page.after`, of any of `kinds` (all when empty), whose text
  /// contains `text` (case-insensitive) when given.
  std::vector<SessionEvent> listSessionEventsFiltered(const std::string& session_id,
                                                      const std::vector<std::string>& kinds,
                                                      const std::optional<std::string>& text, const Page& page);
  /// Events of one kind in offset order (at most `limit`).
  std::vector<SessionEvent> sessionEventsOfKind(const std::string& session_id, const std::string& kind, int limit);
  /// Records a review and sets the session's review_status, in one transaction. False: no session.
  bool addReview(const std::string& session_id, const std::string& status, const std::string& comment,
                 std::int64_t reviewer_id, const std::string& reviewer);
  std::vector<SessionReview> listReviews(const std::string& session_id);  // newest first
  SessionComment addComment(const std::string& session_id, std::int64_t offset_ms, const std::string& text,
                            std::int64_t author_id, const std::string& author);
  std::vector<SessionComment> listComments(const std::string& session_id);  // by offset

  // ---- vault keys
  std::vector<std::pair<std::string, Bytes>> vaultKeyChecks();  // active (not retired) keys
  void addVaultKey(const std::string& key_id, const Bytes& check);
  void retireVaultKeysExcept(const std::string& key_id);
  /// Every envelope wrapped with a key other than `current_id`: account secrets and TOTP secrets.
  struct WrappedSecret {
    std::string table;  // "accounts", "users" or "recording_keys"
    std::int64_t id;
    crypto::Envelope env;
    std::string session_id;  // recording_keys: the recording's session (its envelope owner)
  };
  std::vector<WrappedSecret> secretsNotUnder(const std::string& current_id, int limit);
  /// Replaces only the wrapped key and key id, if the row still has `old_key_id`.
  bool rewrapSecret(const WrappedSecret& old_row, const crypto::Envelope& rewrapped);
  std::int64_t countSecretsNotUnder(const std::string& current_id);
  /// The wrapped data key of an encrypted recording (sql/0011_recording_keys.sql).
  void insertRecordingKey(const std::string& session_id, const crypto::Envelope& env);
  std::optional<crypto::Envelope> recordingKey(const std::string& session_id);

  // ---- audit
  void audit(const AuditEntry& e);
  struct AuditFilter {
    std::optional<std::string> actor;
    std::optional<std::string> action;
  };
  std::vector<AuditEntry> listAudit(const Page& page, const AuditFilter& f);

  // ---- live SOC (server/store/live.cpp)
  /// The database URL the pool connects with (a LISTEN connection opens its own).
  const std::string& url() const;
  /// pg_notify(channel, payload): delivered to every connection that LISTENs, on commit.
  void notify(const std::string& channel, const std::string& payload);
  /// The highest session_events id of the session (0 if none).
  std::int64_t lastSessionEventId(const std::string& session_id);
  /// A lifecycle event with details.action = `action` was written after event `after_id`.
  bool lifecycleActionAfter(const std::string& session_id, std::int64_t after_id, const std::string& action);
  struct AlertBrief {
    std::int64_t id = 0;
    std::string at;
    std::string session_id;
    std::int64_t offset_ms = 0;
    std::string username;
    std::string rule_id;
    std::string severity;
    int score = 0;
    std::string message;
    std::string matched;
  };
  /// Alerts with id > after_id, oldest first (at most `limit`).
  std::vector<AlertBrief> alertsSince(std::int64_t after_id, int limit);
  std::int64_t lastAlertId();

  // ---- compliance (issue 8; server/store/access_requests.cpp, retention.cpp)
  /// The safe's approval and retention settings; nullopt: no such safe.
  std::optional<CompliancePolicy> compliancePolicy(std::int64_t safe_id);
  void setCompliancePolicy(std::int64_t safe_id, const CompliancePolicy& p);
  /// Users who may decide requests on the safe (listed users + members with the permission).
  std::vector<std::int64_t> approversOf(std::int64_t safe_id);
  AccessRequest createAccessRequest(const AccessRequest& r);
  std::optional<AccessRequest> accessRequestById(std::int64_t id);
  std::vector<AccessRequest> listAccessRequests(const AccessRequestFilter& f);
  /// Records one person's decision on a pending request and moves it to approved (N distinct
  /// approvals) or rejected (any rejection), in one transaction. Conflict: already decided by
  /// this person; nullopt: the request is not pending (or unknown).
  std::optional<AccessRequest> decideAccessRequest(std::int64_t id, std::int64_t approver_id,
                                                   const std::string& approver, const std::string& decision,
                                                   const std::string& comment);
  /// pending/approved -> cancelled, only by the requester. False if not cancellable.
  bool cancelAccessRequest(std::int64_t id, std::int64_t requester_id);
  /// Moves pending/approved requests whose window has ended to expired; returns them.
  std::vector<AccessRequest> expireAccessRequests();
  /// The approved request of this user for this account whose window contains now, if any.
  std::optional<std::int64_t> usableAccessRequest(std::int64_t user_id, std::int64_t account_id);
  void setSessionAccessRequest(const std::string& session_id, std::int64_t request_id);

  LegalHold createLegalHold(const LegalHold& h);
  std::vector<LegalHold> listLegalHolds(bool include_released);
  std::optional<LegalHold> releaseLegalHold(std::int64_t id, const std::string& by);
  /// Ended, not yet purged sessions past their safe's retention with no active hold (oldest first).
  std::vector<RetentionCandidate> retentionCandidates(int limit);
  std::int64_t countRetentionCandidates();
  /// In one transaction: re-checks the session is still due and not held, calls `remove_files`
  /// (false rolls back), deletes its timeline, clears its recording path, sets purged_at and
  /// writes `audit`. Returns the number of timeline rows deleted; nullopt if it was not purged.
  std::optional<std::int64_t> purgeSession(const std::string& session_id, const AuditEntry& audit,
                                           const std::function<bool()>& remove_files);
  /// Recordings of ended sessions older than their safe's hot_days, still hot.
  std::vector<ColdCandidate> coldCandidates(int limit);
  void setRecordingTier(const std::string& session_id, const std::string& tier);
  /// The access report (server/store/reports.cpp), oldest first.
  std::vector<AccessReportRow> accessReport(const AccessReportQuery& q);
  // ---- recording seals and the audit chain (server/store/seals.cpp)
  void saveRecordingSeal(const RecordingSeal& s);
  std::optional<RecordingSeal> recordingSeal(const std::string& session_id);
  /// Walks the audit_log hash chain; returns the breaks found (at most `limit`), sets `rows`.
  std::vector<AuditChainProblem> verifyAuditChain(std::int64_t& rows, int limit = 50);

  struct Pool;  // defined in pool.hpp (server/store only)

 private:
  std::unique_ptr<Pool> pool_;
};

}  // namespace vigil::store

namespace vigil::store {
/// Creates database `name` if missing, connecting to the `postgres` database with the same
/// credentials as `conninfo` (a key=value string whose dbname is replaced).
void ensureDatabase(const std::string& conninfo, const std::string& name);
}  // namespace vigil::store
