#include "server/services/gatekeeper.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "protocols/net/target_pin.hpp"
#include "server/crypto/random.hpp"
#include "server/services/access_requests.hpp"
#include "server/services/ids.hpp"
#include "server/services/session_log.hpp"
#include "server/services/session_recorder.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;

// One message for every credential failure, so a login never tells whether a user exists.
constexpr const char* kBadLogin = "invalid user name or password";
constexpr const char* kInternal = "internal error; try again later";

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// "YYYY/MM/DD" of today, UTC.
std::string datePath() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y/%m/%d", &tm);
  return buf;
}

/// True if a file can be created in `dir` (created and removed at once): recording fails closed
/// before the target is dialled, not in the middle of the session.
bool canCreateFileIn(const std::filesystem::path& dir, const std::string& id) {
  if (!makePrivateDirs(dir)) return false;
  const std::string probe = (dir / ("." + id + ".probe")).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

}  // namespace

struct SessionGatekeeper::Check {
  bool ok = false;
  std::string reason;
  std::string message;
  std::optional<store::Safe> safe;
  std::optional<std::int64_t> access_request_id;  // the approval used, on safes that require one
  bool moderated = false;                         // the safe requires a SOC watcher
  std::optional<long long> window_end;            // the approval's window end: the session ends then
  std::string window_to;
};

SessionGatekeeper::SessionGatekeeper(const Config& cfg, store::Store& store, Vault& vault, AuthService& auth)
    : cfg_(cfg), store_(store), vault_(vault), auth_(auth), events_(std::make_shared<SessionEventWriter>(store)) {}

SessionGatekeeper::~SessionGatekeeper() { events_->stop(); }

SessionGatekeeper::Check SessionGatekeeper::check(const store::User& user, const store::Account& account,
                                                  const std::string& protocol) {
  Check c;
  if (user.locked || user.lockout_active) {
    c.reason = "user_locked";
    c.message = "your Vigil user is locked";
    return c;
  }
  if (user.must_change_password) {
    c.reason = "password_change_required";
    c.message = "change your one-time password in the portal first";
    return c;
  }
  // No role bypasses this, not even superuser: connecting is a safe membership.
  auto m = store_.membership(account.safe_id, user.id);
  if (!m || !contains(m->permissions, "connect")) {
    // A non-member gets the words of a missing account, as the REST API answers 404: a refusal
    // must not tell them which accounts exist or what their safes are called.
    c.reason = "no_connect_permission";
    c.message = m ? "you do not have connect permission on safe " + account.safe_name
                  : "no account " + account.username + " on target " + account.target_name + " that you may use";
    return c;
  }
  c.safe = store_.safeById(account.safe_id);
  if (!c.safe) {
    c.reason = "no_such_account";
    c.message = "the account no longer exists";
    return c;
  }
  if (!contains(c.safe->policy.allowed_protocols, protocol)) {
    c.reason = "protocol_not_allowed";
    c.message = "safe " + c.safe->name + " does not allow " + protocol + " sessions";
    return c;
  }
  if (account.protocol != protocol) {
    c.reason = "protocol_mismatch";
    c.message = "account " + account.username + " on target " + account.target_name + " is not an " + protocol +
                " account (it is " + account.protocol + ")";
    return c;
  }
  // Dual authorization: an approved request of this user for this account, in its window.
  auto approval = AccessRequests(store_).gate(user, account, *c.safe);
  if (!approval.ok) {
    c.reason = approval.reason;
    c.message = approval.message;
    return c;
  }
  c.access_request_id = approval.request_id;
  c.moderated = approval.moderated;
  c.window_end = approval.window_end;
  c.window_to = approval.window_to;
  c.ok = true;
  return c;
}

proto::Grant SessionGatekeeper::grantFor(const store::User& user, const store::Account& account,
                                         const store::Safe& safe) {
  proto::Grant g;
  g.status = proto::Grant::Status::Ok;
  g.user_id = user.id;
  g.username = user.username;
  g.account_id = account.id;
  g.account_user = account.username;
  g.safe_id = safe.id;
  g.safe_name = safe.name;
  g.target.target_id = account.target_id;
  g.target.name = account.target_name;
  g.target.address = account.address;
  g.target.port = account.port;
  if (auto t = store_.targetById(account.target_id)) {
    g.target.host_key_fingerprint = t->host_key_fingerprint;
    if (t->protocol != "ssh") g.target.certificate_fingerprint = t->certificate_fingerprint;
  }
  g.policy.record = safe.policy.record_sessions;
  g.policy.allow_file_transfer = safe.policy.allow_file_transfer;
  g.policy.allow_port_forwarding = safe.policy.allow_port_forwarding;
  g.policy.allow_agent_forwarding = safe.policy.allow_agent_forwarding;
  g.policy.allow_x11_forwarding = safe.policy.allow_x11_forwarding;
  g.policy.trust_on_first_use = safe.policy.trust_on_first_use;
  g.policy.clipboard = safe.policy.clipboard;
  return g;
}

proto::Grant SessionGatekeeper::refuseMissingTotp(const proto::Grant& need_totp, std::string message,
                                                  const proto::ClientInfo& client) {
  return refuse("totp_missing", message, client, need_totp.username,
                need_totp.user_id ? std::optional<std::int64_t>(need_totp.user_id) : std::nullopt, std::nullopt);
}

proto::Grant SessionGatekeeper::refuse(const std::string& reason, const std::string& message,
                                       const proto::ClientInfo& client, const std::string& actor,
                                       std::optional<std::int64_t> actor_id, std::optional<std::int64_t> account_id) {
  proto::Grant g;
  g.status = proto::Grant::Status::Denied;
  g.message = message;
  json d{{"reason", reason}, {"client_addr", client.client_addr}, {"protocol", client.protocol}, {"via", client.via}};
  if (account_id) d["account_id"] = *account_id;
  store::AuditEntry e;
  e.actor_id = actor_id;
  e.actor = actor;
  e.source_addr = client.client_addr;
  e.action = "session_refused";
  e.object_type = account_id ? "account" : "";
  e.object_id = account_id ? std::to_string(*account_id) : "";
  e.outcome = "denied";
  e.details_json = d.dump(-1, ' ', false, json::error_handler_t::replace);
  try {
    store_.audit(e);
  } catch (const std::exception& ex) {
    sessionLog()->error("could not audit a refused session ({}): {}", reason, ex.what());
  }
  sessionLog()->info("refused a {} session from {} for '{}': {}", client.protocol, client.client_addr, actor, reason);
  return g;
}

proto::Grant SessionGatekeeper::authorizeLoaded(const store::User& user, std::int64_t account_id,
                                                const proto::ClientInfo& client) {
  auto account = store_.accountById(account_id);
  if (!account) return refuse("no_such_account", "the account no longer exists", client, user.username, user.id, account_id);
  auto c = check(user, *account, client.protocol);
  if (!c.ok) return refuse(c.reason, c.message, client, user.username, user.id, account_id);
  return grantFor(user, *account, *c.safe);
}

std::optional<IssuedLaunchToken> SessionGatekeeper::issueLaunchToken(const store::User& user, std::int64_t account_id,
                                                                     const std::string& source_addr,
                                                                     std::string& error) {
  auto audit = [&](const std::string& outcome, const json& details) {
    store::AuditEntry e;
    e.actor_id = user.id;
    e.actor = user.username;
    e.source_addr = source_addr;
    e.action = "launch_token_issue";
    e.object_type = "account";
    e.object_id = std::to_string(account_id);
    e.outcome = outcome;
    e.details_json = details.dump(-1, ' ', false, json::error_handler_t::replace);
    store_.audit(e);
  };
  auto account = store_.accountById(account_id);
  if (!account) {
    error = "no such account";
    audit("denied", {{"reason", "no_such_account"}});
    return std::nullopt;
  }
  // Launch tokens are for the account's own protocol.
  auto c = check(user, *account, account->protocol);
  if (!c.ok) {
    error = c.message;
    audit("denied", {{"reason", c.reason}});
    return std::nullopt;
  }
  IssuedLaunchToken t;
  t.token = newLaunchToken();
  t.expires_at = store_.createLaunchToken(crypto::sha256(t.token), user.id, account_id,
                                          cfg_.sessions.launch_token_ttl_seconds);
  t.account = *account;
  if (c.safe) t.policy = c.safe->policy;
  audit("ok", {{"protocol", account->protocol}, {"expires_at", t.expires_at}, {"target", account->target_name},
               {"account_user", account->username}});
  return t;
}

proto::Grant SessionGatekeeper::redeemLaunchToken(std::string_view token, const proto::ClientInfo& client) {
  try {
    if (!looksLikeLaunchToken(token))
      return refuse("token_unknown", "unknown or invalid launch token", client, "", std::nullopt, std::nullopt);
    auto use = store_.consumeLaunchToken(crypto::sha256(token), client.client_addr);
    using S = store::LaunchTokenUse::Status;
    if (use.status == S::Unknown)
      return refuse("token_unknown", "unknown or invalid launch token", client, "", std::nullopt, std::nullopt);
    auto user = store_.userById(use.user_id);
    const std::string name = user ? user->username : "";
    if (use.status == S::Used)
      return refuse("token_used", "launch token already used", client, name, use.user_id, use.account_id);
    if (use.status == S::Expired)
      return refuse("token_expired", "launch token expired", client, name, use.user_id, use.account_id);
    if (!user) return refuse("token_unknown", "unknown or invalid launch token", client, "", std::nullopt, std::nullopt);
    return authorizeLoaded(*user, use.account_id, client);
  } catch (const std::exception& e) {
    sessionLog()->error("redeeming a launch token failed: {}", e.what());
    proto::Grant g;
    g.message = kInternal;
    return g;
  }
}

proto::Grant SessionGatekeeper::identityLogin(const proto::IdentityLogin& login,
                                              const std::optional<std::string_view>& password,
                                              std::string_view fingerprint, std::string_view totp,
                                              const proto::ClientInfo& client) {
  auto user = store_.userByName(login.vigil_user);
  bool ok = false;
  if (password) ok = auth_.checkPassword(user, *password);
  else ok = user && store_.sshKeyOf(user->username, std::string(fingerprint)).has_value();
  const char* bad_reason = password ? "bad_password" : "unknown_key";
  if (!user) return refuse("unknown_user", kBadLogin, client, login.vigil_user, std::nullopt, std::nullopt);
  if (user->locked || user->lockout_active) {
    // Failures while locked do not count; only the right credential learns about the lock.
    if (!ok) return refuse(bad_reason, kBadLogin, client, user->username, user->id, std::nullopt);
    return refuse("user_locked", "your Vigil user is locked", client, user->username, user->id, std::nullopt);
  }
  if (!ok) {
    auth_.countFailedLogin(*user, client.client_addr);
    return refuse(bad_reason, kBadLogin, client, user->username, user->id, std::nullopt);
  }
  if (user->totp_enrolled) {
    if (totp.empty()) {
      proto::Grant g;
      g.status = proto::Grant::Status::NeedTotp;
      g.message = "TOTP code required";
      g.username = user->username;
      g.user_id = user->id;
      return g;
    }
    if (!auth_.checkLoginTotp(*user, std::string(totp), client.client_addr))
      return refuse("bad_totp", "invalid TOTP code", client, user->username, user->id, std::nullopt);
  }
  store_.recordLoginSuccess(user->id);
  auto account = store_.accountByTargetAndUser(login.target_name, login.account_user);
  if (!account)
    return refuse("no_such_account", "no account " + login.account_user + " on target " + login.target_name, client,
                  user->username, user->id, std::nullopt);
  return authorizeLoaded(*user, account->id, client);
}

proto::Grant SessionGatekeeper::loginWithPassword(const proto::IdentityLogin& login, std::string_view password,
                                                  std::string_view totp, const proto::ClientInfo& client) {
  try {
    return identityLogin(login, password, {}, totp, client);
  } catch (const std::exception& e) {
    sessionLog()->error("password login failed with an error: {}", e.what());
    proto::Grant g;
    g.message = kInternal;
    return g;
  }
}

bool SessionGatekeeper::userHasPublicKey(std::string_view vigil_user, std::string_view fingerprint) {
  try {
    return store_.sshKeyOf(std::string(vigil_user), std::string(fingerprint)).has_value();
  } catch (const std::exception& e) {
    sessionLog()->error("public key lookup failed: {}", e.what());
    return false;
  }
}

bool SessionGatekeeper::userHasTotp(std::string_view vigil_user) {
  try {
    auto user = store_.userByName(std::string(vigil_user));
    return user && user->totp_enrolled;
  } catch (const std::exception& e) {
    sessionLog()->error("TOTP lookup failed: {}", e.what());
    return false;
  }
}

proto::Grant SessionGatekeeper::loginWithPublicKey(const proto::IdentityLogin& login, std::string_view fingerprint,
                                                   std::string_view totp, const proto::ClientInfo& client) {
  try {
    return identityLogin(login, std::nullopt, fingerprint, totp, client);
  } catch (const std::exception& e) {
    sessionLog()->error("public key login failed with an error: {}", e.what());
    proto::Grant g;
    g.message = kInternal;
    return g;
  }
}

proto::Grant SessionGatekeeper::authorizeUser(std::int64_t user_id, std::int64_t account_id,
                                              const proto::ClientInfo& client) {
  try {
    auto user = store_.userById(user_id);
    if (!user) return refuse("unknown_user", "unknown user", client, "", std::nullopt, account_id);
    return authorizeLoaded(*user, account_id, client);
  } catch (const std::exception& e) {
    sessionLog()->error("authorizing a portal session failed: {}", e.what());
    proto::Grant g;
    g.message = kInternal;
    return g;
  }
}

std::unique_ptr<proto::Session> SessionGatekeeper::startSession(const proto::Grant& grant,
                                                                const proto::ClientInfo& client, std::string& error) {
  std::string id;
  bool row = false;
  auto fail = [&](const std::string& reason, const std::string& message) -> std::unique_ptr<proto::Session> {
    error = message + (id.empty() ? "" : " (session " + id + ")");
    try {
      if (row) store_.endSession({id, reason, message, 0, 0, 0, 0, false});
      auto g = refuse(reason, message, client, grant.username, grant.user_id, grant.account_id);
      (void)g;
    } catch (const std::exception& e) {
      sessionLog()->error("session={} could not record the failed start: {}", id, e.what());
    }
    return nullptr;
  };
  try {
    if (grant.status != proto::Grant::Status::Ok) {
      error = grant.message.empty() ? "not authorized" : grant.message;
      return nullptr;
    }
    // Re-check: permissions may have changed since the grant (a TOTP prompt, a slow client).
    auto user = store_.userById(grant.user_id);
    auto account = store_.accountById(grant.account_id);
    if (!user || !account) return fail("no_such_account", "the account no longer exists");
    auto c = check(*user, *account, client.protocol);
    if (!c.ok) return fail(c.reason, c.message);
    proto::Grant g = grantFor(*user, *account, *c.safe);

    id = newUuidV7();
    const bool record = c.safe->policy.record_sessions;
    // Graphical sessions are recorded as video (fragmented MP4), terminals as asciicast.
    const std::string ext = client.protocol == "rdp" ? ".mp4" : ".cast.zst";
    const std::string rel = record ? datePath() + "/" + id + ext : "";
    store::SessionRecord s;
    s.id = id;
    s.node = cfg_.node.name;
    s.user_id = user->id;
    s.username = user->username;
    s.account_id = account->id;
    s.account_user = account->username;
    s.target_id = account->target_id;
    s.target_name = account->target_name;
    s.target_address = account->address + ":" + std::to_string(account->port);
    s.safe_id = c.safe->id;
    s.safe_name = c.safe->name;
    s.protocol = client.protocol;
    s.via = client.via == "web" ? "web" : client.protocol;  // the native client of the protocol
    s.client_addr = client.client_addr;
    s.recording_path = rel;
    // The row exists before the proxy dials the target: a crash from here on leaves a trace.
    store_.insertSession(s);
    row = true;
    if (c.access_request_id) store_.setSessionAccessRequest(id, *c.access_request_id);

    const std::filesystem::path file = rel.empty() ? std::filesystem::path() : cfg_.recordingsDir() / rel;
    if (record && !canCreateFileIn(file.parent_path(), id)) {
      sessionLog()->error("session={} cannot create a recording in {}", id, file.parent_path().string());
      return fail("recording_failed", "the session cannot be recorded, and safe " + c.safe->name + " requires recording");
    }
    auto secret = vault_.accountSecret(account->id);
    if (!secret) return fail("vault_failed", "the vault could not provide the credential");

    SessionRecorder::Params p;
    p.id = id;
    p.node = cfg_.node.name;
    p.grant = g;
    p.client = client;
    p.record = record;
    p.recording_file = file.string();
    p.flush_interval = std::chrono::milliseconds(cfg_.recordings.flush_interval_ms);
    p.credential.username = account->username;
    p.credential.kind = account->secret_kind;
    p.credential.secret = std::move(*secret);
    p.risk = risk_;
    p.encrypt = c.safe->policy.encrypt_recordings;
    p.video_codec = c.safe->policy.video_codec;
    p.video_max_fps = c.safe->policy.video_max_fps;
    p.video_quality = c.safe->policy.video_quality;
    p.moderated = c.moderated;
    if (c.window_end) {
      p.ends_at = std::chrono::system_clock::time_point(std::chrono::seconds(*c.window_end));
      p.ends_reason = "the approved access window ended at " + c.window_to + " (access request " +
                      std::to_string(*c.access_request_id) + ")";
    }
    p.moderation_wait_seconds = cfg_.sessions.moderation_wait_seconds;
    auto session = std::make_unique<SessionRecorder>(store_, events_, std::move(p));

    store::AuditEntry e;
    e.actor_id = user->id;
    e.actor = user->username;
    e.source_addr = client.client_addr;
    e.action = "session_start";
    e.object_type = "session";
    e.object_id = id;
    e.outcome = "ok";
    e.details_json = json{{"account_id", account->id}, {"account_user", account->username},
                          {"target", account->target_name}, {"safe_id", c.safe->id}, {"safe", c.safe->name},
                          {"protocol", client.protocol}, {"via", s.via}, {"recorded", record},
                          {"moderated", c.moderated},
                          {"access_request_id", c.access_request_id ? json(*c.access_request_id) : json(nullptr)}}
                         .dump(-1, ' ', false, json::error_handler_t::replace);
    store_.audit(e);
    sessionLog()->info("session={} started: {} -> {}@{} ({}, via {})", id, user->username, account->username,
                       account->target_name, client.protocol, s.via);
    return session;
  } catch (const std::exception& ex) {
    sessionLog()->error("session={} start failed: {}", id, ex.what());
    return fail("error", kInternal);
  }
}

bool SessionGatekeeper::pinHostKey(std::int64_t target_id, std::string_view fingerprint, std::string_view session_id) {
  try {
    // TLS targets keep their pin where the portal shows it: the certificate fingerprint, in hex.
    auto target = store_.targetById(target_id);
    const bool tls_target = target && target->protocol != "ssh";
    const std::string hex = tls_target ? proto::hexFingerprint(fingerprint) : "";
    const bool pinned = tls_target ? !hex.empty() && store_.pinCertificate(target_id, hex)
                                   : store_.pinHostKey(target_id, std::string(fingerprint));
    store::AuditEntry e;
    if (isUuid(session_id)) {
      if (auto s = store_.sessionById(std::string(session_id))) {
        e.actor_id = s->user_id;
        e.actor = s->username;
        e.source_addr = s->client_addr;
      }
    }
    e.action = "host_key_pinned";
    e.object_type = "target";
    e.object_id = std::to_string(target_id);
    e.outcome = pinned ? "ok" : "denied";
    json d{{"target", target ? target->name : ""}, {"fingerprint", fingerprint}, {"session", session_id}};
    if (!pinned) d["reason"] = "already_pinned";
    e.details_json = d.dump(-1, ' ', false, json::error_handler_t::replace);
    store_.audit(e);
    sessionLog()->info("session={} host key of target {} {}", session_id, target_id, pinned ? "pinned" : "not pinned (already set)");
    return pinned;
  } catch (const std::exception& ex) {
    sessionLog()->error("session={} pinning a host key failed: {}", session_id, ex.what());
    return false;
  }
}

int SessionGatekeeper::closeInterruptedSessions() {
  const int n = store_.closeInterruptedSessions(cfg_.node.name);
  if (n > 0) {
    store::AuditEntry e;
    e.actor = "vigil";
    e.action = "sessions_interrupted";
    e.object_type = "node";
    e.object_id = cfg_.node.name;
    e.outcome = "ok";
    e.details_json = json{{"count", n}, {"node", cfg_.node.name}}.dump();
    store_.audit(e);
    sessionLog()->warn("{} session(s) left open by the previous run were marked interrupted", n);
  }
  return n;
}

}  // namespace vigil::services
