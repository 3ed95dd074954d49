// /api/v1/users: local user administration (superuser; vault_admin may list to add safe members).
#include "server/auth/password.hpp"
#include "server/services/user_rules.hpp"
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

using services::kRoles;

std::string takePassword(RequestContext& c, const char* field) {
  auto it = c.body.find(field);
  if (it == c.body.end() || !it->is_string()) throw ApiError(400, "validation_failed", std::string(field) + ": is required");
  std::string pw = it->get<std::string>();
  crypto::wipe(it->get_ref<std::string&>());
  if (auto why = auth::passwordPolicyViolation(pw); !why.empty()) {
    crypto::wipe(pw);
    throw ApiError(400, "validation_failed", std::string(field) + ": " + why);
  }
  return pw;
}

store::User loadUser(RequestContext& c) {
  auto u = c.deps.store.userById(c.idParam(0));
  if (!u) throw ApiError(404, "not_found", "no such user");
  return *u;
}

HttpResponse list(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  auto page = c.page();
  return pagedResponse(c.deps.store.listUsers(page), page, userJson);
}

HttpResponse create(RequestContext& c) {
  requireRole(c, {});
  allowOnlyFields(c.body, {"username", "display_name", "roles", "password"});
  store::User u;
  u.username = requireString(c.body, "username", 128);
  if (auto why = services::usernameViolation(u.username); !why.empty())
    throw ApiError(400, "validation_failed", "username: " + why);
  u.display_name = optionalString(c.body, "display_name", 256).value_or("");
  u.roles = stringSet(c.body, "roles", kRoles);
  std::string pw = takePassword(c, "password");
  u.password_hash = c.deps.auth.hashPassword(pw);
  crypto::wipe(pw);
  u.must_change_password = true;  // the creator knows it; the user must replace it
  auto created = c.deps.store.createUser(u);
  c.audit("user_create", "user", std::to_string(created.id), "ok", {{"username", created.username}, {"roles", created.roles}});
  return jsonResponse(201, userJson(created));
}

HttpResponse get(RequestContext& c) {
  requireRole(c, {});
  return jsonResponse(200, userJson(loadUser(c)));
}

HttpResponse update(RequestContext& c) {
  requireRole(c, {});
  allowOnlyFields(c.body, {"display_name", "roles", "locked", "password"});
  store::User u = loadUser(c);
  json changed = json::object();
  if (auto d = optionalString(c.body, "display_name", 256)) u.display_name = *d, changed["display_name"] = *d;
  if (c.body.contains("roles")) {
    u.roles = stringSet(c.body, "roles", kRoles);
    if (u.id == c.user().id && !u.hasRole("superuser"))
      throw ApiError(400, "validation_failed", "roles: you cannot remove your own superuser role");
    changed["roles"] = u.roles;
  }
  bool lock_changed = false;
  if (auto l = optionalBool(c.body, "locked")) {
    if (*l && u.id == c.user().id) throw ApiError(400, "validation_failed", "locked: you cannot lock yourself");
    // Unlocking also ends a temporary lockout after failed logins.
    lock_changed = *l != u.locked || (!*l && u.lockout_active);
    u.locked = *l;
    changed["locked"] = *l;
  }
  if (c.body.contains("password")) {
    if (u.source != "local") throw ApiError(400, "validation_failed", "password: directory users have no local password");
    std::string pw = takePassword(c, "password");
    u.password_hash = c.deps.auth.hashPassword(pw);
    crypto::wipe(pw);
    u.must_change_password = true;
    changed["password"] = "reset";
  }
  c.deps.store.updateUser(u);
  if (lock_changed && !u.locked) c.deps.store.clearLockout(u.id);
  // A lock or a password reset ends the user's portal sessions at once.
  if ((lock_changed && u.locked) || c.body.contains("password")) c.deps.store.deleteUserPortalSessions(u.id);
  c.audit(lock_changed ? (u.locked ? "user_lock" : "user_unlock") : "user_update", "user", std::to_string(u.id), "ok", changed);
  return jsonResponse(200, userJson(*c.deps.store.userById(u.id)));
}

HttpResponse mfaReset(RequestContext& c) {
  requireRole(c, {});
  store::User u = loadUser(c);
  c.deps.store.setTotp(u.id, std::nullopt, false);
  c.audit("mfa_reset", "user", std::to_string(u.id), "ok", {{"username", u.username}});
  return jsonResponse(200, userJson(*c.deps.store.userById(u.id)));
}

HttpResponse remove(RequestContext& c) {
  requireRole(c, {});
  store::User u = loadUser(c);
  if (u.id == c.user().id) throw ApiError(400, "validation_failed", "id: you cannot delete yourself");
  c.deps.store.deleteUser(u.id);
  c.audit("user_delete", "user", std::to_string(u.id), "ok", {{"username", u.username}});
  return noContent();
}

}  // namespace

void addUserRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/users", true, list});
  r.push_back({"POST", "/api/v1/users", true, create});
  r.push_back({"GET", "/api/v1/users/{id}", true, get});
  r.push_back({"PATCH", "/api/v1/users/{id}", true, update});
  r.push_back({"POST", "/api/v1/users/{id}/mfa-reset", true, mfaReset});
  r.push_back({"DELETE", "/api/v1/users/{id}", true, remove});
}

}  // namespace vigil::web
