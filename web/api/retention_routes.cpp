// /api/v1/legal-holds and /api/v1/retention/run (issue 8). Holds are placed and released by
// superusers and auditors: preserving evidence is a compliance decision. All audited.
#include <cstdint>

#include "server/services/ids.hpp"
#include "server/services/retention.hpp"
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

json holdJson(const store::LegalHold& h) {
  return json{{"id", h.id},
              {"scope", h.scope},
              {"session_id", h.session_id.empty() ? json(nullptr) : json(h.session_id)},
              {"user_id", h.user_id ? json(*h.user_id) : json(nullptr)},
              {"safe_id", h.safe_id ? json(*h.safe_id) : json(nullptr)},
              {"reason", h.reason},
              {"created_by", h.created_by},
              {"created_at", h.created_at},
              {"active", h.released_at.empty()},
              {"released_by", h.released_by.empty() ? json(nullptr) : json(h.released_by)},
              {"released_at", h.released_at.empty() ? json(nullptr) : json(h.released_at)}};
}

void requireCompliance(RequestContext& c) {
  if (!hasAnyRole(c.user(), {"superuser", "auditor"}))
    throw ApiError(403, "forbidden", "legal holds and retention runs need the superuser or auditor role");
}

HttpResponse list(RequestContext& c) {
  requireCompliance(c);
  const bool all = c.queryParam("include_released").value_or("") == "true";
  json items = json::array();
  std::optional<std::string> session = c.queryParam("session_id");
  std::optional<std::int64_t> user = c.queryInt("user_id", 1, INT64_MAX), safe = c.queryInt("safe_id", 1, INT64_MAX);
  for (auto& h : c.deps.store.listLegalHolds(all)) {
    if (session && h.session_id != *session) continue;
    if (user && h.user_id != user) continue;
    if (safe && h.safe_id != safe) continue;
    items.push_back(holdJson(h));
  }
  return jsonResponse(200, json{{"items", items}});
}

HttpResponse create(RequestContext& c) {
  requireCompliance(c);
  allowOnlyFields(c.body, {"scope", "session_id", "user_id", "safe_id", "reason"});
  store::LegalHold h;
  h.scope = requireString(c.body, "scope", 16);
  h.reason = requireString(c.body, "reason", 2000, true);
  if (h.reason.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ApiError(400, "validation_failed", "reason: must not be empty");
  h.created_by = c.user().username;
  if (h.scope == "session") {
    h.session_id = requireString(c.body, "session_id", 64);
    if (!services::isUuid(h.session_id) || !c.deps.store.sessionById(h.session_id))
      throw ApiError(404, "not_found", "no such session");
  } else if (h.scope == "user") {
    h.user_id = optionalInt(c.body, "user_id", 1, INT64_MAX);
    if (!h.user_id) throw ApiError(400, "validation_failed", "user_id: required for a user hold");
    if (!c.deps.store.userById(*h.user_id)) throw ApiError(404, "not_found", "no such user");
  } else if (h.scope == "safe") {
    h.safe_id = optionalInt(c.body, "safe_id", 1, INT64_MAX);
    if (!h.safe_id) throw ApiError(400, "validation_failed", "safe_id: required for a safe hold");
    if (!c.deps.store.safeById(*h.safe_id)) throw ApiError(404, "not_found", "no such safe");
  } else {
    throw ApiError(400, "validation_failed", "scope: must be session, user or safe");
  }
  for (const char* f : {"session_id", "user_id", "safe_id"})
    if (c.body.contains(f) && std::string(f) != h.scope + "_id")
      throw ApiError(400, "validation_failed", std::string(f) + ": not allowed for a " + h.scope + " hold");
  auto created = c.deps.store.createLegalHold(h);
  c.audit("legal_hold_create", "legal_hold", std::to_string(created.id), "ok", holdJson(created));
  return jsonResponse(201, holdJson(created));
}

HttpResponse release(RequestContext& c) {
  requireCompliance(c);
  allowOnlyFields(c.body, {});
  auto h = c.deps.store.releaseLegalHold(c.idParam(0), c.user().username);
  if (!h) throw ApiError(404, "not_found", "no active legal hold with this id");
  c.audit("legal_hold_release", "legal_hold", std::to_string(h->id), "ok", holdJson(*h));
  return jsonResponse(200, holdJson(*h));
}

HttpResponse run(RequestContext& c) {
  requireRole(c, {"superuser"});
  allowOnlyFields(c.body, {"dry_run"});
  const bool dry = optionalBool(c.body, "dry_run").value_or(false);
  services::RetentionJob job(c.deps.cfg, c.deps.store);
  auto rep = job.runOnce(dry, c.user().username);
  c.audit("retention_run", "retention", "", "ok",
          {{"dry_run", dry}, {"deleted", rep.deleted}, {"due", rep.due}, {"failed", rep.failed}});
  return jsonResponse(200, json{{"dry_run", rep.dry_run}, {"due", rep.due}, {"deleted", rep.deleted},
                                {"events_deleted", rep.events_deleted}, {"files_deleted", rep.files_deleted},
                                {"moved_cold", rep.moved_cold}, {"failed", rep.failed},
                                {"session_ids", rep.session_ids}});
}

}  // namespace

void addRetentionRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/legal-holds", true, list});
  r.push_back({"POST", "/api/v1/legal-holds", true, create});
  r.push_back({"POST", "/api/v1/legal-holds/{id}/release", true, release});
  r.push_back({"POST", "/api/v1/retention/run", true, run});
}

}  // namespace vigil::web
