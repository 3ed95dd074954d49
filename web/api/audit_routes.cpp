// /api/v1/audit: the audit log, for auditors.
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

HttpResponse list(RequestContext& c) {
  requireRole(c, {"auditor"});
  auto page = c.page();
  store::Store::AuditFilter f;
  f.actor = c.queryParam("actor");
  f.action = c.queryParam("action");
  return pagedResponse(c.deps.store.listAudit(page, f), page, [](const store::AuditEntry& e) {
    json details = json::parse(e.details_json, nullptr, false);
    return json{{"id", e.id},
                {"at", e.at},
                {"actor_id", e.actor_id ? json(*e.actor_id) : json(nullptr)},
                {"actor", e.actor},
                {"source_addr", e.source_addr},
                {"action", e.action},
                {"object_type", e.object_type},
                {"object_id", e.object_id},
                {"outcome", e.outcome},
                {"details", details.is_discarded() ? json::object() : details}};
  });
}

}  // namespace

void addAuditRoutes(std::vector<Route>& r) { r.push_back({"GET", "/api/v1/audit", true, list}); }

}  // namespace vigil::web
