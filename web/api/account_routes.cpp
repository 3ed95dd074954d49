// /api/v1/accounts and /api/v1/my/accounts: privileged accounts in safes. Secrets are write-only:
// they go into the vault here and never come back out through the API.
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

/// Reads and validates the secret, wiping the copy held by the parsed JSON body.
crypto::SecureString takeSecret(RequestContext& c, const std::string& kind) {
  auto it = c.body.find("secret");
  if (it == c.body.end() || !it->is_string()) throw ApiError(400, "validation_failed", "secret: is required");
  std::string& raw = it->get_ref<std::string&>();
  crypto::SecureString s(raw.begin(), raw.end());
  crypto::wipe(raw);
  if (s.empty()) throw ApiError(400, "validation_failed", "secret: must not be empty");
  if (s.find('\0') != crypto::SecureString::npos) throw ApiError(400, "validation_failed", "secret: must not contain NUL");
  if (kind == "password" && s.size() > 1024) throw ApiError(400, "validation_failed", "secret: at most 1024 bytes");
  if (kind == "private_key") {
    if (s.size() > 16384) throw ApiError(400, "validation_failed", "secret: at most 16384 bytes");
    if (s.find("-----BEGIN ") == crypto::SecureString::npos || s.find("PRIVATE KEY-----") == crypto::SecureString::npos)
      throw ApiError(400, "validation_failed", "secret: expected a PEM or OpenSSH private key");
  }
  return s;
}

std::string secretKind(const json& b) {
  auto k = requireString(b, "secret_kind", 16);
  if (k != "password" && k != "private_key")
    throw ApiError(400, "validation_failed", "secret_kind: must be password or private_key");
  return k;
}

void requireManage(RequestContext& c, std::int64_t safe_id) {
  if (!hasPermission(safePermissions(c, safe_id), "manage"))
    throw ApiError(403, "forbidden", "you need the manage permission on this safe");
}

store::Account load(RequestContext& c) {
  auto a = c.deps.store.accountById(c.idParam(0));
  if (!a || safePermissions(c, a->safe_id).empty()) throw ApiError(404, "not_found", "no such account");
  return *a;
}

json auditView(const store::Account& a) {
  return {{"safe_id", a.safe_id}, {"target_id", a.target_id}, {"username", a.username}, {"secret_kind", a.secret_kind}};
}

HttpResponse list(RequestContext& c) {
  auto page = c.page();
  store::Store::AccountFilter f;
  f.safe_id = c.queryInt("safe_id", 1, INT64_MAX);
  if (!hasAnyRole(c.user(), {"vault_admin"})) f.member_user_id = c.user().id;
  return pagedResponse(c.deps.store.listAccounts(page, f), page, accountJson);
}

HttpResponse mine(RequestContext& c) {
  auto page = c.page();
  store::Store::AccountFilter f;
  f.member_user_id = c.user().id;
  f.required_permission = "connect";
  f.only_allowed_protocols = true;
  return pagedResponse(c.deps.store.listAccounts(page, f), page, accountJson);
}

HttpResponse create(RequestContext& c) {
  allowOnlyFields(c.body, {"safe_id", "target_id", "username", "secret_kind", "secret", "description"});
  store::Account a;
  a.safe_id = optionalInt(c.body, "safe_id", 1, INT64_MAX).value_or(0);
  a.target_id = optionalInt(c.body, "target_id", 1, INT64_MAX).value_or(0);
  if (!a.safe_id) throw ApiError(400, "validation_failed", "safe_id: is required");
  if (!a.target_id) throw ApiError(400, "validation_failed", "target_id: is required");
  if (!c.deps.store.safeById(a.safe_id) || safePermissions(c, a.safe_id).empty())
    throw ApiError(400, "validation_failed", "safe_id: no such safe");
  requireManage(c, a.safe_id);
  if (!c.deps.store.targetById(a.target_id)) throw ApiError(400, "validation_failed", "target_id: no such target");
  a.username = requireString(c.body, "username", 256);
  a.description = optionalString(c.body, "description", 2000, true).value_or("");
  a.secret_kind = secretKind(c.body);
  auto secret = takeSecret(c, a.secret_kind);
  auto& vault = c.deps.vault;
  auto created = c.deps.store.createAccount(a, [&](std::int64_t id) {
    return vault.seal(std::string_view(secret.data(), secret.size()), "account:" + std::to_string(id));
  });
  c.audit("account_create", "account", std::to_string(created.id), "ok", auditView(created));
  return jsonResponse(201, accountJson(created));
}

HttpResponse get(RequestContext& c) { return jsonResponse(200, accountJson(load(c))); }

HttpResponse update(RequestContext& c) {
  store::Account a = load(c);
  requireManage(c, a.safe_id);
  allowOnlyFields(c.body, {"username", "description", "target_id"});
  if (auto u = optionalString(c.body, "username", 256)) {
    if (u->find_first_not_of(" \t") == std::string::npos) throw ApiError(400, "validation_failed", "username: must not be empty");
    a.username = *u;
  }
  if (auto d = optionalString(c.body, "description", 2000, true)) a.description = *d;
  if (auto t = optionalInt(c.body, "target_id", 1, INT64_MAX)) {
    if (!c.deps.store.targetById(*t)) throw ApiError(400, "validation_failed", "target_id: no such target");
    a.target_id = *t;
  }
  c.deps.store.updateAccount(a);
  auto fresh = *c.deps.store.accountById(a.id);
  c.audit("account_update", "account", std::to_string(a.id), "ok", auditView(fresh));
  return jsonResponse(200, accountJson(fresh));
}

HttpResponse setSecret(RequestContext& c) {
  store::Account a = load(c);
  requireManage(c, a.safe_id);
  allowOnlyFields(c.body, {"secret_kind", "secret"});
  const std::string kind = secretKind(c.body);
  auto secret = takeSecret(c, kind);
  c.deps.store.setAccountSecret(
      a.id, kind, c.deps.vault.seal(std::string_view(secret.data(), secret.size()), "account:" + std::to_string(a.id)));
  c.audit("account_secret_set", "account", std::to_string(a.id), "ok", {{"secret_kind", kind}});
  return noContent();
}

HttpResponse remove(RequestContext& c) {
  store::Account a = load(c);
  requireManage(c, a.safe_id);
  c.deps.store.deleteAccount(a.id);
  c.audit("account_delete", "account", std::to_string(a.id), "ok", auditView(a));
  return noContent();
}

}  // namespace

void addAccountRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/accounts", true, list});
  r.push_back({"POST", "/api/v1/accounts", true, create});
  r.push_back({"GET", "/api/v1/accounts/{id}", true, get});
  r.push_back({"PATCH", "/api/v1/accounts/{id}", true, update});
  r.push_back({"PUT", "/api/v1/accounts/{id}/secret", true, setSecret});
  r.push_back({"DELETE", "/api/v1/accounts/{id}", true, remove});
  r.push_back({"GET", "/api/v1/my/accounts", true, mine});
}

}  // namespace vigil::web
