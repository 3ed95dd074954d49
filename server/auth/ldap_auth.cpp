#include "server/auth/ldap_auth.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <algorithm>
#include <memory>

#include "server/auth/ldap_filter.hpp"

namespace vigil::auth {

const char* toString(LdapError e) {
  switch (e) {
    case LdapError::InvalidCredentials: return "invalid credentials";
    case LdapError::NoSuchUser: return "no such user";
    case LdapError::NoRoles: return "no roles";
    case LdapError::Unavailable: return "directory unavailable";
    case LdapError::BadConfig: return "bad LDAP configuration";
  }
  return "unknown";
}

namespace {

struct Unbind {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct MsgFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
struct ValuesFree {
  void operator()(berval** v) const { ldap_value_free_len(v); }
};
using Ldap = std::unique_ptr<LDAP, Unbind>;
using Message = std::unique_ptr<LDAPMessage, MsgFree>;
using Values = std::unique_ptr<berval*, ValuesFree>;

LdapResult fail(LdapError e, std::string detail) {
  LdapResult r;
  r.error = e;
  r.detail = std::move(detail);
  return r;
}

bool isConnectivityError(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
         rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

// "step: message (server diagnostic)". The server's diagnostic never echoes the bind password.
std::string describe(LDAP* ld, const char* step, int rc) {
  std::string s = std::string(step) + ": " + ldap_err2string(rc);
  char* diag = nullptr;
  if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS && diag) {
    if (*diag) s += std::string(" (") + diag + ")";
    ldap_memfree(diag);
  }
  return s;
}

// Beyond the network, what a directory refuses (filter syntax, TLS required, access rights)
// comes from how we are configured to talk to it: an operator has to act, not the user.
LdapResult ldapFailure(LDAP* ld, const char* step, int rc) {
  return fail(isConnectivityError(rc) ? LdapError::Unavailable : LdapError::BadConfig,
              describe(ld, step, rc));
}

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// A connected (not yet bound) handle, or the failure. Options are per handle: setting them
// globally (ld == nullptr) would race between threads.
LdapResult connect(const LdapConfig& cfg, Ldap& out) {
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, cfg.url.c_str());
  Ldap ld(raw);
  if (rc != LDAP_SUCCESS || !ld) return fail(LdapError::BadConfig, describe(nullptr, "ldap_initialize", rc));

  int version = LDAP_VERSION3;
  timeval tv = toTimeval(cfg.timeout);
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);  // connect()
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);          // each synchronous operation
  // Server-side bound, so a slow search is abandoned there too, not only by us.
  int timelimit = static_cast<int>(std::max<long long>(1, (cfg.timeout.count() + 999) / 1000));
  ldap_set_option(ld.get(), LDAP_OPT_TIMELIMIT, &timelimit);
  // Chasing referrals would re-send our binds to servers named by the directory.
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);

  if (!cfg.ca_file.empty()) {
    int demand = LDAP_OPT_X_TLS_DEMAND, is_server = 0;
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, cfg.ca_file.c_str()) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
        // Per-handle TLS settings only take effect in a new context.
        ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server) != LDAP_OPT_SUCCESS)
      return fail(LdapError::BadConfig, "cannot use CA file " + cfg.ca_file);
  }
  if (cfg.start_tls) {
    // Never fall back to plaintext: the next thing sent is a password.
    rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS) return ldapFailure(ld.get(), "StartTLS", rc);
  }
  out = std::move(ld);
  return {};
}

int simpleBind(LDAP* ld, const std::string& dn, const std::string& password) {
  berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

int search(LDAP* ld, const LdapConfig& cfg, const std::string& base, const std::string& filter,
           const std::string& attr, int sizelimit, Message& out) {
  char* attrs[] = {const_cast<char*>(attr.c_str()), nullptr};
  timeval tv = toTimeval(cfg.timeout);
  LDAPMessage* res = nullptr;
  int rc = ldap_search_ext_s(ld, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0,
                             nullptr, nullptr, &tv, sizelimit, &res);
  out.reset(res);  // may be allocated on failure too
  return rc;
}

std::vector<std::string> values(LDAP* ld, LDAPMessage* entry, const std::string& attr) {
  std::vector<std::string> out;
  Values vals(ldap_get_values_len(ld, entry, attr.c_str()));
  if (vals)
    for (berval** v = vals.get(); *v; ++v) out.emplace_back((*v)->bv_val, (*v)->bv_len);
  return out;
}

void appendUnique(std::vector<std::string>& to, const std::string& s) {
  if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}

}  // namespace

LdapResult ldapAuthenticate(const LdapConfig& cfg, const std::string& username,
                            const std::string& password) {
  if (!cfg.enabled) return fail(LdapError::BadConfig, "LDAP login is disabled");
  if (cfg.url.empty() || cfg.user_base_dn.empty() || cfg.group_base_dn.empty())
    return fail(LdapError::BadConfig, "url, user_base_dn and group_base_dn are required");
  if (cfg.timeout.count() <= 0) return fail(LdapError::BadConfig, "timeout must be positive");
  if (username.empty()) return fail(LdapError::NoSuchUser, "empty username");
  // A simple bind with a DN and no password is an "unauthenticated bind" that servers accept.
  if (password.empty()) return fail(LdapError::InvalidCredentials, "empty password refused");

  Ldap svc;
  if (auto r = connect(cfg, svc); r.error) return r;
  if (int rc = simpleBind(svc.get(), cfg.bind_dn, cfg.bind_password); rc != LDAP_SUCCESS) {
    // Wrong service credentials are the operator's problem, never the user's.
    if (rc == LDAP_INVALID_CREDENTIALS) return fail(LdapError::BadConfig, describe(svc.get(), "service bind", rc));
    return ldapFailure(svc.get(), "service bind", rc);
  }

  LdapUser user;
  user.username = username;
  {
    Message res;
    // sizelimit 2: enough to tell "exactly one" from "ambiguous" without reading them all.
    int rc = search(svc.get(), cfg, cfg.user_base_dn,
                    expandFilter(cfg.user_filter, {{"username", username}}), cfg.display_name_attr,
                    2, res);
    if (rc == LDAP_NO_SUCH_OBJECT) return fail(LdapError::BadConfig, describe(svc.get(), "user search", rc));
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) return ldapFailure(svc.get(), "user search", rc);
    int n = ldap_count_entries(svc.get(), res.get());
    if (n == 0) return fail(LdapError::NoSuchUser, "no entry matches the user filter");
    if (n > 1 || rc == LDAP_SIZELIMIT_EXCEEDED)
      return fail(LdapError::NoSuchUser, "user filter matches more than one entry");
    LDAPMessage* entry = ldap_first_entry(svc.get(), res.get());
    char* dn = ldap_get_dn(svc.get(), entry);
    if (!dn) return fail(LdapError::Unavailable, "entry without DN");
    user.dn = dn;
    ldap_memfree(dn);
    auto names = values(svc.get(), entry, cfg.display_name_attr);
    user.display_name = names.empty() ? username : names.front();
  }

  {
    // A fresh connection: the service connection keeps its identity for the group search.
    Ldap as_user;
    if (auto r = connect(cfg, as_user); r.error) return r;
    int rc = simpleBind(as_user.get(), user.dn, password);
    // INAPPROPRIATE_AUTH: the entry has no password to check against.
    if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH)
      return fail(LdapError::InvalidCredentials, "bind as " + user.dn + " refused");
    if (rc != LDAP_SUCCESS) return ldapFailure(as_user.get(), "user bind", rc);
  }

  {
    Message res;
    int rc = search(svc.get(), cfg, cfg.group_base_dn,
                    expandFilter(cfg.group_filter, {{"dn", user.dn}, {"username", username}}),
                    cfg.group_name_attr, 0, res);
    if (rc == LDAP_NO_SUCH_OBJECT) return fail(LdapError::BadConfig, describe(svc.get(), "group search", rc));
    if (rc != LDAP_SUCCESS) return ldapFailure(svc.get(), "group search", rc);
    for (LDAPMessage* e = ldap_first_entry(svc.get(), res.get()); e; e = ldap_next_entry(svc.get(), e))
      for (const auto& g : values(svc.get(), e, cfg.group_name_attr)) appendUnique(user.groups, g);
  }

  for (const auto& g : user.groups)
    if (auto it = cfg.group_roles.find(g); it != cfg.group_roles.end())
      for (const auto& role : it->second) appendUnique(user.roles, role);
  if (user.roles.empty())
    return fail(LdapError::NoRoles, user.dn + " is in no group mapped to a Vigil role");

  LdapResult ok;
  ok.user = std::move(user);
  return ok;
}

}  // namespace vigil::auth
