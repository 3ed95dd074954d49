#include "server/services/auth_service.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "server/auth/ldap_auth.hpp"
#include "server/auth/password.hpp"
#include "server/auth/totp.hpp"
#include "server/crypto/random.hpp"

namespace vigil::services {
namespace {

std::uint64_t nowUnix() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Audit reason codes for directory failures (machine-readable, like the other reasons).
std::string ldapReason(auth::LdapError e) {
  switch (e) {
    case auth::LdapError::InvalidCredentials: return "ldap_invalid_credentials";
    case auth::LdapError::NoSuchUser: return "ldap_no_such_user";
    case auth::LdapError::NoRoles: return "ldap_no_roles";
    case auth::LdapError::Unavailable: return "ldap_unavailable";
    case auth::LdapError::BadConfig: return "ldap_bad_config";
  }
  return "ldap_error";
}

std::string totpOwner(std::int64_t user_id) { return "user:" + std::to_string(user_id) + ":totp"; }

crypto::Bytes tokenHash(const std::string& token) { return crypto::sha256(token); }

}  // namespace

AuthService::AuthService(const Config& cfg, store::Store& store, Vault& vault)
    : cfg_(cfg), store_(store), vault_(vault), decoy_hash_(hashPassword(crypto::randomToken(16))) {}

std::string AuthService::hashPassword(std::string_view password) const {
  return auth::hashPassword(password, {cfg_.auth.argon2_t_cost, cfg_.auth.argon2_m_cost_kib, cfg_.auth.argon2_parallelism});
}

bool AuthService::verifyPassword(std::string_view password, const store::User& user) const {
  return !user.password_hash.empty() && auth::verifyPassword(password, user.password_hash);
}

void AuthService::auditLogin(const std::optional<store::User>& u, const std::string& username, const std::string& addr,
                             const std::string& outcome, const std::string& reason) {
  store::AuditEntry e;
  if (u) e.actor_id = u->id;
  e.actor = username;
  e.source_addr = addr;
  e.action = "login";
  e.object_type = "user";
  e.object_id = u ? std::to_string(u->id) : "";
  e.outcome = outcome;
  e.details_json = nlohmann::json{{"reason", reason}, {"source", u ? u->source : "unknown"}}.dump();
  store_.audit(e);
}

bool AuthService::checkTotp(const store::User& user, const std::string& code, bool pending) {
  if (!user.totp) return false;
  auto secret = vault_.unseal(*user.totp, totpOwner(user.id));
  if (!secret) return false;
  auto key = auth::base32Decode(std::string_view(secret->data(), secret->size()));
  if (!key) return false;
  auto step = auth::verifyTotp(*key, code, nowUnix(),
                               pending ? std::nullopt : std::optional<std::uint64_t>(user.totp_last_step.value_or(0)));
  if (!step) return false;
  // The database decides replay atomically: two logins racing with one code cannot both pass.
  return store_.advanceTotpStep(user.id, static_cast<std::int64_t>(*step));
}

LoginResult AuthService::login(LoginRequest req) {
  LoginResult res;
  struct Wipe {
    std::string& s;
    ~Wipe() { crypto::wipe(s); }
  } wipe{req.password};

  auto user = store_.userByName(req.username);
  const bool use_ldap = cfg_.ldap.enabled && (!user || user->source == "ldap");

  if (user && (user->locked || user->lockout_active)) {
    res.status = LoginStatus::Locked;
    auditLogin(user, req.username, req.source_addr, "denied", user->lockout_active ? "locked_out" : "locked");
    return res;
  }

  if (use_ldap) {
    auto r = auth::ldapAuthenticate(cfg_.ldap, req.username, req.password);
    if (!r.user) {
      if (r.error == auth::LdapError::Unavailable || r.error == auth::LdapError::BadConfig) {
        res.status = LoginStatus::Unavailable;
        auditLogin(user, req.username, req.source_addr, "failed", ldapReason(*r.error));
        return res;
      }
      if (user && r.error == auth::LdapError::InvalidCredentials) {
        auto [count, locked_now] = store_.recordLoginFailure(user->id, cfg_.auth.lockout_threshold, cfg_.auth.lockout_minutes);
        (void)count;
        if (locked_now) auditLogin(user, req.username, req.source_addr, "denied", "lockout_started");
      }
      auditLogin(user, req.username, req.source_addr, "failed", ldapReason(*r.error));
      return res;
    }
    user = store_.upsertLdapUser(r.user->username, r.user->display_name, r.user->roles);
  } else {
    if (!user || user->source != "local") {
      auth::verifyPassword(req.password, decoy_hash_);
      auditLogin(std::nullopt, req.username, req.source_addr, "failed", "unknown_user");
      return res;
    }
    if (!verifyPassword(req.password, *user)) {
      auto [count, locked_now] = store_.recordLoginFailure(user->id, cfg_.auth.lockout_threshold, cfg_.auth.lockout_minutes);
      (void)count;
      auditLogin(user, req.username, req.source_addr, "failed", "bad_password");
      if (locked_now) auditLogin(user, req.username, req.source_addr, "denied", "lockout_started");
      return res;
    }
  }

  if (user->totp_enrolled) {
    if (req.totp.empty()) {
      res.status = LoginStatus::MfaRequired;
      auditLogin(user, req.username, req.source_addr, "failed", "mfa_required");
      return res;
    }
    if (!checkTotp(*user, req.totp, false)) {
      auto [count, locked_now] = store_.recordLoginFailure(user->id, cfg_.auth.lockout_threshold, cfg_.auth.lockout_minutes);
      (void)count;
      res.status = LoginStatus::MfaRequired;
      auditLogin(user, req.username, req.source_addr, "failed", "bad_totp");
      if (locked_now) auditLogin(user, req.username, req.source_addr, "denied", "lockout_started");
      return res;
    }
  }

  store_.recordLoginSuccess(user->id);
  res.session_token = crypto::randomToken(32);
  res.csrf_token = crypto::randomToken(32);
  store_.createPortalSession(tokenHash(res.session_token), user->id, res.csrf_token, req.source_addr,
                             cfg_.auth.session_absolute_hours);
  res.status = LoginStatus::Ok;
  res.user = store_.userById(user->id);
  auditLogin(res.user, req.username, req.source_addr, "ok", user->totp_enrolled ? "password+totp" : "password");
  return res;
}

bool AuthService::checkPassword(const std::optional<store::User>& user, std::string_view password) {
  if (!user) {
    auth::verifyPassword(password, decoy_hash_);
    return false;
  }
  if (user->source == "ldap") {
    if (!cfg_.ldap.enabled) return false;
    std::string pw(password);
    auto r = auth::ldapAuthenticate(cfg_.ldap, user->username, pw);
    crypto::wipe(pw);
    return r.user.has_value();
  }
  if (user->password_hash.empty()) {
    auth::verifyPassword(password, decoy_hash_);
    return false;
  }
  return verifyPassword(password, *user);
}

void AuthService::countFailedLogin(const store::User& user, const std::string& source_addr) {
  auto [count, locked_now] = store_.recordLoginFailure(user.id, cfg_.auth.lockout_threshold, cfg_.auth.lockout_minutes);
  (void)count;
  if (locked_now) auditLogin(user, user.username, source_addr, "denied", "lockout_started");
}

bool AuthService::checkLoginTotp(const store::User& user, const std::string& code, const std::string& source_addr) {
  if (checkTotp(user, code, false)) return true;
  countFailedLogin(user, source_addr);
  return false;
}

std::optional<AuthContext> AuthService::authenticate(const std::string& session_token) {
  if (session_token.empty() || session_token.size() > 128) return std::nullopt;
  auto s = store_.touchPortalSession(tokenHash(session_token), cfg_.auth.session_idle_minutes);
  if (!s || s->second.locked) return std::nullopt;
  return AuthContext{std::move(s->second), s->first.csrf_token};
}

void AuthService::logout(const std::string& session_token, const store::User& user, const std::string& source_addr) {
  store_.deletePortalSession(tokenHash(session_token));
  store::AuditEntry e;
  e.actor_id = user.id;
  e.actor = user.username;
  e.source_addr = source_addr;
  e.action = "logout";
  e.object_type = "user";
  e.object_id = std::to_string(user.id);
  e.outcome = "ok";
  store_.audit(e);
}

std::optional<MfaEnrollment> AuthService::beginMfaEnrollment(const store::User& user, const std::string& source_addr) {
  if (user.totp_enrolled) return std::nullopt;
  MfaEnrollment m;
  m.secret_base32 = auth::newTotpSecret();
  std::string_view secret(m.secret_base32.data(), m.secret_base32.size());
  store_.setTotp(user.id, vault_.seal(secret, totpOwner(user.id)), false);
  m.otpauth_uri = auth::otpauthUri(cfg_.auth.totp_issuer, user.username, secret);
  store::AuditEntry e{0, "", user.id, user.username, source_addr, "mfa_enroll", "user", std::to_string(user.id), "ok",
                      R"({"stage":"started"})"};
  store_.audit(e);
  return m;
}

bool AuthService::confirmMfaEnrollment(const store::User& user, const std::string& code, const std::string& source_addr) {
  auto fresh = store_.userById(user.id);
  if (!fresh || fresh->totp_enrolled || !fresh->totp) return false;
  const bool ok = checkTotp(*fresh, code, true);
  if (ok) store_.setTotp(user.id, fresh->totp, true);
  store::AuditEntry e{0, "", user.id, user.username, source_addr, "mfa_enroll", "user", std::to_string(user.id),
                      ok ? "ok" : "failed", ok ? R"({"stage":"confirmed"})" : R"({"stage":"wrong_code"})"};
  store_.audit(e);
  return ok;
}

}  // namespace vigil::services
