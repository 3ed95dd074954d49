#include "server/services/access_requests.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/services/access_report.hpp"
#include "server/services/compliance_log.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;

constexpr const char* kApprovalRequired = kApprovalRequiredMessage;
// A request's window may not exceed this (an approval is for a task, not a standing grant).
constexpr long long kMaxWindowSeconds = 7LL * 24 * 3600;

/// Seconds since the epoch of an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (fractions and
/// numeric offsets accepted); nullopt when malformed.
std::optional<long long> parseTime(const std::string& s) {
  std::tm tm{};
  int y, mo, d, h, mi;
  double sec;
  char tail[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, tail) < 6) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = static_cast<int>(sec);
  long long t = timegm(&tm);
  std::string z(tail);
  if (z == "Z" || z == "z" || z.empty()) return t;
  int oh = 0, om = 0;
  if ((z[0] == '+' || z[0] == '-') && std::sscanf(z.c_str() + 1, "%2d:%2d", &oh, &om) == 2) {
    const long long off = (oh * 3600LL + om * 60LL) * (z[0] == '+' ? 1 : -1);
    return t - off;
  }
  return std::nullopt;
}

bool isApprover(store::Store& st, std::int64_t safe_id, std::int64_t user_id) {
  auto a = st.approversOf(safe_id);
  return std::find(a.begin(), a.end(), user_id) != a.end();
}

}  // namespace

ApprovalGate AccessRequests::gate(const store::User& user, const store::Account& account, const store::Safe& safe) {
  ApprovalGate g;
  auto p = store_.compliancePolicy(safe.id);
  // A moderated safe: the session starts held until a SOC watcher joins (LiveSession).
  g.moderated = p && p->moderated;
  if (!safe.policy.require_dual_authorization) return g;
  g.request_id = store_.usableAccessRequest(user.id, account.id);
  if (!g.request_id) {
    g.ok = false;
    g.reason = "approval_required";
    g.message = kApprovalRequired;
    return g;
  }
  if (auto r = store_.accessRequestById(*g.request_id)) {
    g.window_end = parseTime(r->window_to);
    g.window_to = r->window_to;
  }
  return g;
}

void AccessRequests::audit(const store::User* actor, const std::string& source_addr, const std::string& action,
                           const store::AccessRequest& r, const std::string& outcome, const std::string& extra_json) {
  json d{{"requester", r.requester}, {"account_id", r.account_id}, {"account_user", r.account_user},
         {"target", r.target_name}, {"safe_id", r.safe_id}, {"safe", r.safe_name}, {"status", r.status},
         {"window_from", r.window_from}, {"window_to", r.window_to}, {"ticket_id", r.ticket_id},
         {"approvals", r.approvals}, {"approvals_needed", r.approvals_needed}};
  d.update(json::parse(extra_json));
  store::AuditEntry e;
  if (actor) {
    e.actor_id = actor->id;
    e.actor = actor->username;
  } else {
    e.actor = "vigil";
  }
  e.source_addr = source_addr;
  e.action = action;
  e.object_type = "access_request";
  e.object_id = std::to_string(r.id);
  e.outcome = outcome;
  e.details_json = d.dump(-1, ' ', false, json::error_handler_t::replace);
  store_.audit(e);
}

std::optional<store::AccessRequest> AccessRequests::create(const store::User& user, const NewRequest& nr,
                                                           const std::string& source_addr, AccessRequestError& err) {
  auto account = store_.accountById(nr.account_id);
  auto m = account ? store_.membership(account->safe_id, user.id) : std::nullopt;
  if (!account || !m) {
    err = {404, "not_found", "no such account"};
    return std::nullopt;
  }
  if (std::find(m->permissions.begin(), m->permissions.end(), "connect") == m->permissions.end()) {
    err = {403, "forbidden", "you do not have connect permission on safe " + account->safe_name};
    return std::nullopt;
  }
  auto safe = store_.safeById(account->safe_id);
  if (!safe || !safe->policy.require_dual_authorization) {
    err = {400, "validation_failed", "safe " + account->safe_name + " does not require approval: connect directly"};
    return std::nullopt;
  }
  const long long now = std::time(nullptr);
  std::optional<long long> from = nr.window_from.empty() ? std::optional<long long>(now) : parseTime(nr.window_from);
  std::optional<long long> to = parseTime(nr.window_to);
  if (!from) {
    err = {400, "validation_failed", "window_from: must be an RFC 3339 time, e.g. 2026-01-31T14:00:00Z"};
    return std::nullopt;
  }
  if (!to) {
    err = {400, "validation_failed", "window_to: must be an RFC 3339 time, e.g. 2026-01-31T16:00:00Z"};
    return std::nullopt;
  }
  if (*to <= *from) {
    err = {400, "validation_failed", "window_to: must be after window_from"};
    return std::nullopt;
  }
  if (*to <= now) {
    err = {400, "validation_failed", "window_to: must be in the future"};
    return std::nullopt;
  }
  if (*to - *from > kMaxWindowSeconds) {
    err = {400, "validation_failed", "the window may be at most 7 days long"};
    return std::nullopt;
  }
  store::AccessRequest r;
  r.requester_id = user.id;
  r.requester = user.username;
  r.account_id = account->id;
  r.reason = nr.reason;
  r.ticket_id = nr.ticket_id;
  r.window_from = isoTime(*from);
  r.window_to = isoTime(*to);
  auto created = store_.createAccessRequest(r);
  audit(&user, source_addr, "access_request_create", created, "ok", json{{"reason", created.reason}}.dump());
  complianceLog()->info("access request {} by {} for {}@{} (safe {})", created.id, user.username, created.account_user,
                         created.target_name, created.safe_name);
  return created;
}

std::optional<store::AccessRequest> AccessRequests::decide(const store::User& user, std::int64_t id,
                                                           const std::string& decision, const std::string& comment,
                                                           const std::string& source_addr, AccessRequestError& err) {
  const std::string action = decision == "approve" ? "access_request_approve" : "access_request_reject";
  auto r = store_.accessRequestById(id);
  if (!r || !canSee(user, *r)) {
    err = {404, "not_found", "no such access request"};
    return std::nullopt;
  }
  auto deny = [&](int status, const std::string& code, const std::string& reason, const std::string& message) {
    err = {status, code, message};
    audit(&user, source_addr, action, *r, "denied", json{{"reason", reason}}.dump());
    return std::nullopt;
  };
  if (r->requester_id == user.id)
    return deny(403, "forbidden", "own_request", "you cannot approve or reject your own access request");
  if (!isApprover(store_, r->safe_id, user.id))
    return deny(403, "forbidden", "not_an_approver", "you are not an approver of safe " + r->safe_name);
  if (r->status != "pending")
    return deny(409, "conflict", "not_pending", "the request is " + r->status + ", not pending");
  std::optional<store::AccessRequest> updated;
  try {
    updated = store_.decideAccessRequest(id, user.id, user.username, decision, comment);
  } catch (const store::Conflict&) {
    return deny(409, "conflict", "already_decided", "you have already decided this request");
  }
  if (!updated) return deny(409, "conflict", "not_pending", "the request is no longer pending");
  audit(&user, source_addr, action, *updated, "ok", json{{"comment", comment}}.dump());
  complianceLog()->info("access request {} {} by {} (now {}, {}/{})", id, decision == "approve" ? "approved" : "rejected",
                         user.username, updated->status, updated->approvals, updated->approvals_needed);
  return updated;
}

std::optional<store::AccessRequest> AccessRequests::cancel(const store::User& user, std::int64_t id,
                                                           const std::string& source_addr, AccessRequestError& err) {
  auto r = store_.accessRequestById(id);
  if (!r || !canSee(user, *r)) {
    err = {404, "not_found", "no such access request"};
    return std::nullopt;
  }
  if (r->requester_id != user.id) {
    err = {403, "forbidden", "only the requester can cancel a request"};
    return std::nullopt;
  }
  if (!store_.cancelAccessRequest(id, user.id)) {
    err = {409, "conflict", "the request is " + r->status + " and can no longer be cancelled"};
    return std::nullopt;
  }
  auto updated = store_.accessRequestById(id);
  audit(&user, source_addr, "access_request_cancel", *updated, "ok");
  return updated;
}

bool AccessRequests::canSee(const store::User& user, const store::AccessRequest& r) {
  if (r.requester_id == user.id || user.hasRole("superuser") || user.hasRole("auditor")) return true;
  return isApprover(store_, r.safe_id, user.id);
}

int AccessRequests::expireDue() {
  auto expired = store_.expireAccessRequests();
  for (auto& r : expired) audit(nullptr, "", "access_request_expire", r, "ok");
  if (!expired.empty()) complianceLog()->info("{} access request(s) expired", expired.size());
  return static_cast<int>(expired.size());
}

}  // namespace vigil::services
