// /api/v1/access-requests (dual authorization, issue 8) and the safe's approval and retention
// settings (/api/v1/safes/{id}/compliance). Rules live in services::AccessRequests.
#include <algorithm>
#include <cstdint>
#include <map>

#include "server/services/access_requests.hpp"
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

const std::vector<std::string> kStatuses{"pending", "approved", "rejected", "expired", "cancelled"};

json requestJson(const store::AccessRequest& r, const store::User& viewer, bool can_decide) {
  json decisions = json::array();
  bool decided_by_me = false;
  for (auto& d : r.decisions) {
    decisions.push_back({{"approver_id", d.approver_id}, {"approver", d.approver}, {"decision", d.decision},
                         {"comment", d.comment}, {"at", d.at}});
    if (d.approver_id == viewer.id) decided_by_me = true;
  }
  return json{{"id", r.id},
              {"requester_id", r.requester_id},
              {"requester", r.requester},
              {"account_id", r.account_id},
              {"account_user", r.account_user},
              {"target_name", r.target_name},
              {"safe_id", r.safe_id},
              {"safe_name", r.safe_name},
              {"reason", r.reason},
              {"ticket_id", r.ticket_id},
              {"window_from", r.window_from},
              {"window_to", r.window_to},
              {"approvals_needed", r.approvals_needed},
              {"approvals", r.approvals},
              {"status", r.status},
              {"created_at", r.created_at},
              {"decided_at", r.decided_at.empty() ? json(nullptr) : json(r.decided_at)},
              {"decisions", decisions},
              {"can_decide", can_decide && !decided_by_me && r.status == "pending" && r.requester_id != viewer.id}};
}

[[noreturn]] void fail(const services::AccessRequestError& e) { throw ApiError(e.status, e.code, e.message); }

bool mayDecide(RequestContext& c, const store::AccessRequest& r) {
  auto a = c.deps.store.approversOf(r.safe_id);
  return std::find(a.begin(), a.end(), c.user().id) != a.end();
}

HttpResponse list(RequestContext& c) {
  services::AccessRequests svc(c.deps.store);
  svc.expireDue();  // a listing never shows a request as approved after its window
  store::AccessRequestFilter f;
  const std::string view = c.queryParam("view").value_or("mine");
  if (view == "mine") f.requester_id = c.user().id;
  else if (view == "awaiting") f.awaiting_approver = c.user().id;
  else if (view == "all") {
    if (!hasAnyRole(c.user(), {"superuser", "auditor"}))
      throw ApiError(403, "forbidden", "view=all needs the superuser or auditor role");
  } else {
    throw ApiError(400, "validation_failed", "view: must be mine, awaiting or all");
  }
  if (auto s = c.queryParam("status")) {
    if (std::find(kStatuses.begin(), kStatuses.end(), *s) == kStatuses.end())
      throw ApiError(400, "validation_failed", "status: must be pending, approved, rejected, expired or cancelled");
    f.status = *s;
  }
  if (auto l = c.queryInt("limit", 1, 500)) f.limit = static_cast<int>(*l);
  json items = json::array();
  for (auto& r : c.deps.store.listAccessRequests(f)) items.push_back(requestJson(r, c.user(), mayDecide(c, r)));
  return jsonResponse(200, json{{"items", items}});
}

HttpResponse create(RequestContext& c) {
  allowOnlyFields(c.body, {"account_id", "reason", "ticket_id", "window_from", "window_to"});
  services::AccessRequests::NewRequest nr;
  auto account = optionalInt(c.body, "account_id", 1, INT64_MAX);
  if (!account) throw ApiError(400, "validation_failed", "account_id: required");
  nr.account_id = *account;
  nr.reason = requireString(c.body, "reason", 2000, true);
  if (nr.reason.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ApiError(400, "validation_failed", "reason: must not be empty");
  nr.ticket_id = optionalString(c.body, "ticket_id", 128).value_or("");
  nr.window_from = optionalString(c.body, "window_from", 64).value_or("");
  nr.window_to = requireString(c.body, "window_to", 64);
  services::AccessRequests svc(c.deps.store);
  services::AccessRequestError err;
  auto r = svc.create(c.user(), nr, c.req.remote_addr, err);
  if (!r) fail(err);
  return jsonResponse(201, requestJson(*r, c.user(), false));
}

HttpResponse get(RequestContext& c) {
  services::AccessRequests svc(c.deps.store);
  auto r = c.deps.store.accessRequestById(c.idParam(0));
  if (!r || !svc.canSee(c.user(), *r)) throw ApiError(404, "not_found", "no such access request");
  return jsonResponse(200, requestJson(*r, c.user(), mayDecide(c, *r)));
}

HttpResponse decide(RequestContext& c, const std::string& decision) {
  allowOnlyFields(c.body, {"comment"});
  const std::string comment = optionalString(c.body, "comment", 2000, true).value_or("");
  services::AccessRequests svc(c.deps.store);
  svc.expireDue();
  services::AccessRequestError err;
  auto r = svc.decide(c.user(), c.idParam(0), decision, comment, c.req.remote_addr, err);
  if (!r) fail(err);
  return jsonResponse(200, requestJson(*r, c.user(), true));
}

HttpResponse approve(RequestContext& c) { return decide(c, "approve"); }
HttpResponse reject(RequestContext& c) { return decide(c, "reject"); }

HttpResponse cancel(RequestContext& c) {
  allowOnlyFields(c.body, {});
  services::AccessRequests svc(c.deps.store);
  services::AccessRequestError err;
  auto r = svc.cancel(c.user(), c.idParam(0), c.req.remote_addr, err);
  if (!r) fail(err);
  return jsonResponse(200, requestJson(*r, c.user(), false));
}

// ---- the safe's compliance settings

json complianceJson(const store::CompliancePolicy& p) {
  static const std::map<std::string, int> kClassDays{{"pci", 365}, {"sox", 2555}, {"hipaa", 2190}};
  auto it = kClassDays.find(p.retention_class);
  const int days = it == kClassDays.end() ? p.retention_days : it->second;
  json hot = p.hot_days ? json(*p.hot_days) : (p.retention_class == "pci" ? json(90) : json(nullptr));
  return json{{"requires_approval", p.requires_approval},
              {"approvals_needed", p.approvals_needed},
              {"approver_user_ids", p.approver_user_ids},
              {"approver_permission", p.approver_permission},
              {"moderated", p.moderated},
              {"retention_class", p.retention_class},
              {"retention_days", p.retention_days},
              {"effective_retention_days", days},
              {"hot_days", hot}};
}

std::int64_t loadSafeFor(RequestContext& c, bool manage) {
  const auto id = c.idParam(0);
  auto perms = safePermissions(c, id);
  const bool auditor = hasAnyRole(c.user(), {"superuser", "auditor"});
  if (!c.deps.store.safeById(id) || (perms.empty() && !auditor)) throw ApiError(404, "not_found", "no such safe");
  if (manage && !hasPermission(perms, "manage"))
    throw ApiError(403, "forbidden", "you need the manage permission on this safe");
  return id;
}

HttpResponse getCompliance(RequestContext& c) {
  auto id = loadSafeFor(c, false);
  return jsonResponse(200, complianceJson(*c.deps.store.compliancePolicy(id)));
}

HttpResponse putCompliance(RequestContext& c) {
  auto id = loadSafeFor(c, true);
  allowOnlyFields(c.body, {"requires_approval", "approvals_needed", "approver_user_ids", "approver_permission",
                           "moderated", "retention_class", "retention_days", "hot_days"});
  auto p = *c.deps.store.compliancePolicy(id);
  if (auto v = optionalBool(c.body, "requires_approval")) p.requires_approval = *v;
  if (auto v = optionalInt(c.body, "approvals_needed", 1, 10)) p.approvals_needed = static_cast<int>(*v);
  if (c.body.contains("approver_user_ids")) {
    const auto& ids = c.body["approver_user_ids"];
    if (!ids.is_array() || ids.size() > 100)
      throw ApiError(400, "validation_failed", "approver_user_ids: must be an array of user ids (at most 100)");
    p.approver_user_ids.clear();
    for (auto& v : ids) {
      if (!v.is_number_integer() || !c.deps.store.userById(v.get<std::int64_t>()))
        throw ApiError(400, "validation_failed", "approver_user_ids: " + v.dump() + " is not a user id");
      p.approver_user_ids.push_back(v.get<std::int64_t>());
    }
  }
  if (auto v = optionalString(c.body, "approver_permission", 32)) {
    if (*v != "" && *v != "manage" && *v != "monitor_live" && *v != "view_recordings")
      throw ApiError(400, "validation_failed", "approver_permission: must be '', manage, monitor_live or view_recordings");
    p.approver_permission = *v;
  }
  if (auto v = optionalBool(c.body, "moderated")) p.moderated = *v;
  if (auto v = optionalString(c.body, "retention_class", 16)) {
    if (*v != "pci" && *v != "sox" && *v != "hipaa" && *v != "custom")
      throw ApiError(400, "validation_failed", "retention_class: must be pci, sox, hipaa or custom");
    p.retention_class = *v;
  }
  if (auto v = optionalInt(c.body, "retention_days", 1, 36500)) p.retention_days = static_cast<int>(*v);
  if (c.body.contains("hot_days")) {
    if (c.body["hot_days"].is_null()) p.hot_days.reset();
    else p.hot_days = static_cast<int>(*optionalInt(c.body, "hot_days", 1, 36500));
  }
  if (p.requires_approval && p.approver_permission.empty() && p.approver_user_ids.empty())
    throw ApiError(400, "validation_failed", "a safe that requires approval needs approvers (users or a permission)");
  c.deps.store.setCompliancePolicy(id, p);
  auto saved = *c.deps.store.compliancePolicy(id);
  c.audit("safe_compliance_update", "safe", std::to_string(id), "ok", complianceJson(saved));
  return jsonResponse(200, complianceJson(saved));
}

}  // namespace

void addAccessRequestRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/access-requests", true, list});
  r.push_back({"POST", "/api/v1/access-requests", true, create});
  r.push_back({"GET", "/api/v1/access-requests/{id}", true, get});
  r.push_back({"POST", "/api/v1/access-requests/{id}/approve", true, approve});
  r.push_back({"POST", "/api/v1/access-requests/{id}/reject", true, reject});
  r.push_back({"POST", "/api/v1/access-requests/{id}/cancel", true, cancel});
  r.push_back({"GET", "/api/v1/safes/{id}/compliance", true, getCompliance});
  r.push_back({"PUT", "/api/v1/safes/{id}/compliance", true, putCompliance});
}

}  // namespace vigil::web
