// /api/v1/safes and their members. Vault administrators manage all safes; a member with the
// `manage` permission manages that safe's policy and members.
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

const std::vector<std::string> kProtocols{"ssh", "rdp", "tds", "postgres"};
const std::vector<std::string> kPermissions{"connect", "view_recordings", "monitor_live", "manage"};

store::Safe loadSafe(RequestContext& c, std::vector<std::string>& perms) {
  const auto id = c.idParam(0);
  perms = safePermissions(c, id);
  auto s = c.deps.store.safeById(id);
  // A non-member learns nothing, not even that the safe exists.
  if (!s || perms.empty()) throw ApiError(404, "not_found", "no such safe");
  return *s;
}

void applyPolicy(const json& body, store::SafePolicy& p) {
  auto it = body.find("policy");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw ApiError(400, "validation_failed", "policy: must be an object");
  allowOnlyFields(*it, {"record_sessions", "live_monitoring", "require_dual_authorization", "retention_days",
                        "allowed_protocols", "allow_file_transfer", "allow_port_forwarding", "allow_agent_forwarding",
                        "allow_x11_forwarding", "trust_on_first_use", "encrypt_recordings", "video_codec",
                        "video_max_fps", "video_quality", "clipboard"});
  if (auto v = optionalBool(*it, "record_sessions")) p.record_sessions = *v;
  if (auto v = optionalBool(*it, "live_monitoring")) p.live_monitoring = *v;
  if (auto v = optionalBool(*it, "require_dual_authorization")) p.require_dual_authorization = *v;
  if (auto v = optionalInt(*it, "retention_days", 1, 36500)) p.retention_days = static_cast<int>(*v);
  if (it->contains("allowed_protocols")) p.allowed_protocols = stringSet(*it, "allowed_protocols", kProtocols);
  if (auto v = optionalBool(*it, "allow_file_transfer")) p.allow_file_transfer = *v;
  if (auto v = optionalBool(*it, "allow_port_forwarding")) p.allow_port_forwarding = *v;
  if (auto v = optionalBool(*it, "allow_agent_forwarding")) p.allow_agent_forwarding = *v;
  if (auto v = optionalBool(*it, "allow_x11_forwarding")) p.allow_x11_forwarding = *v;
  if (auto v = optionalBool(*it, "trust_on_first_use")) p.trust_on_first_use = *v;
  if (auto v = optionalBool(*it, "encrypt_recordings")) p.encrypt_recordings = *v;
  if (auto v = optionalString(*it, "video_codec", 16)) {
    if (*v != "h264" && *v != "av1") throw ApiError(400, "validation_failed", "policy.video_codec: must be h264 or av1");
    p.video_codec = *v;
  }
  if (auto v = optionalInt(*it, "video_max_fps", 1, 30)) p.video_max_fps = static_cast<int>(*v);
  if (auto v = optionalString(*it, "video_quality", 16)) {
    if (*v != "low" && *v != "standard" && *v != "high")
      throw ApiError(400, "validation_failed", "policy.video_quality: must be one of low, standard, high");
    p.video_quality = *v;
  }
  if (auto v = optionalString(*it, "clipboard", 16)) {
    if (*v != "deny" && *v != "allow_log" && *v != "allow")
      throw ApiError(400, "validation_failed", "policy.clipboard: must be one of deny, allow_log, allow");
    p.clipboard = *v;
  }
}

HttpResponse list(RequestContext& c) {
  auto page = c.page();
  const bool all = hasAnyRole(c.user(), {"vault_admin"});
  auto safes = c.deps.store.listSafes(page, all ? std::nullopt : std::optional<std::int64_t>(c.user().id));
  return pagedResponse(safes, page, [&](const store::Safe& s) { return safeJson(s, safePermissions(c, s.id)); });
}

HttpResponse create(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  allowOnlyFields(c.body, {"name", "description", "policy"});
  store::Safe s;
  s.name = requireString(c.body, "name", 128);
  s.description = optionalString(c.body, "description", 2000, true).value_or("");
  applyPolicy(c.body, s.policy);
  auto created = c.deps.store.createSafe(s);
  c.audit("safe_create", "safe", std::to_string(created.id), "ok", {{"name", created.name}, {"policy", policyJson(created.policy)}});
  return jsonResponse(201, safeJson(created, safePermissions(c, created.id)));
}

HttpResponse get(RequestContext& c) {
  std::vector<std::string> perms;
  return jsonResponse(200, safeJson(loadSafe(c, perms), perms));
}

HttpResponse update(RequestContext& c) {
  std::vector<std::string> perms;
  store::Safe s = loadSafe(c, perms);
  if (!hasPermission(perms, "manage")) throw ApiError(403, "forbidden", "you need the manage permission on this safe");
  allowOnlyFields(c.body, {"name", "description", "policy"});
  if (auto n = optionalString(c.body, "name", 128)) {
    if (n->find_first_not_of(" \t") == std::string::npos) throw ApiError(400, "validation_failed", "name: must not be empty");
    s.name = *n;
  }
  if (auto d = optionalString(c.body, "description", 2000, true)) s.description = *d;
  applyPolicy(c.body, s.policy);
  c.deps.store.updateSafe(s);
  c.audit("safe_update", "safe", std::to_string(s.id), "ok", {{"name", s.name}, {"policy", policyJson(s.policy)}});
  return jsonResponse(200, safeJson(*c.deps.store.safeById(s.id), perms));
}

HttpResponse remove(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  std::vector<std::string> perms;
  store::Safe s = loadSafe(c, perms);
  c.deps.store.deleteSafe(s.id);
  c.audit("safe_delete", "safe", std::to_string(s.id), "ok", {{"name", s.name}});
  return noContent();
}

HttpResponse members(RequestContext& c) {
  std::vector<std::string> perms;
  store::Safe s = loadSafe(c, perms);
  if (!hasPermission(perms, "manage")) throw ApiError(403, "forbidden", "you need the manage permission on this safe");
  json items = json::array();
  for (auto& m : c.deps.store.listMembers(s.id)) items.push_back(memberJson(m));
  return jsonResponse(200, json{{"items", items}});
}

HttpResponse setMember(RequestContext& c) {
  std::vector<std::string> perms;
  store::Safe s = loadSafe(c, perms);
  if (!hasPermission(perms, "manage")) throw ApiError(403, "forbidden", "you need the manage permission on this safe");
  allowOnlyFields(c.body, {"permissions"});
  auto user_id = c.idParam(1);
  if (!c.deps.store.userById(user_id)) throw ApiError(404, "not_found", "no such user");
  auto p = stringSet(c.body, "permissions", kPermissions);
  if (p.empty()) throw ApiError(400, "validation_failed", "permissions: give at least one, or remove the member");
  auto m = c.deps.store.setMember(s.id, user_id, p);
  c.audit("member_set", "safe", std::to_string(s.id), "ok", {{"user_id", user_id}, {"username", m.username}, {"permissions", p}});
  return jsonResponse(200, memberJson(m));
}

HttpResponse removeMember(RequestContext& c) {
  std::vector<std::string> perms;
  store::Safe s = loadSafe(c, perms);
  if (!hasPermission(perms, "manage")) throw ApiError(403, "forbidden", "you need the manage permission on this safe");
  auto user_id = c.idParam(1);
  if (!c.deps.store.removeMember(s.id, user_id)) throw ApiError(404, "not_found", "that user is not a member");
  c.audit("member_remove", "safe", std::to_string(s.id), "ok", {{"user_id", user_id}});
  return noContent();
}

}  // namespace

void addSafeRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/safes", true, list});
  r.push_back({"POST", "/api/v1/safes", true, create});
  r.push_back({"GET", "/api/v1/safes/{id}", true, get});
  r.push_back({"PATCH", "/api/v1/safes/{id}", true, update});
  r.push_back({"DELETE", "/api/v1/safes/{id}", true, remove});
  r.push_back({"GET", "/api/v1/safes/{id}/members", true, members});
  r.push_back({"PUT", "/api/v1/safes/{id}/members/{id}", true, setMember});
  r.push_back({"DELETE", "/api/v1/safes/{id}/members/{id}", true, removeMember});
}

}  // namespace vigil::web
