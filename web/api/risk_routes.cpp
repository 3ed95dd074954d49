// /api/v1/risk/rules (the active risk rules, reload) and /api/v1/alerts (risk alerts, acknowledge).
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

services::RiskService& riskService(RequestContext& c) {
  if (!c.deps.risk) throw ApiError(503, "unavailable", "the risk engine is not running on this node");
  return *c.deps.risk;
}

json ruleJson(const risk::Rule& r) {
  json j{{"id", r.id},
         {"description", r.description},
         {"match", risk::matchTypeName(r.match)},
         {"severity", r.severity},
         {"score", r.score},
         {"actions", r.actionNames()}};
  if (r.match == risk::MatchType::Duration) j["seconds"] = r.seconds;
  else j["patterns"] = r.patterns;
  return j;
}

json rulesJson(services::RiskService& svc) {
  json rules = json::array();
  auto rs = svc.rules();
  if (rs)
    for (const auto& r : rs->rules()) rules.push_back(ruleJson(r));
  const std::string err = svc.lastError();
  return json{{"file", svc.rulesFile()},
              {"version", rs ? rs->version() : ""},
              {"loaded_at", svc.loadedAt()},
              {"last_error", err.empty() ? json(nullptr) : json(err)},
              {"rules", rules}};
}

HttpResponse getRules(RequestContext& c) {
  requireRole(c, {"soc", "auditor", "admin"});
  return jsonResponse(200, rulesJson(riskService(c)));
}

HttpResponse reloadRules(RequestContext& c) {
  requireRole(c, {"soc", "admin"});
  auto& svc = riskService(c);
  auto r = svc.reload();
  if (!r.ok) {
    c.audit("risk_rules_reload", "risk_rules", svc.rulesFile(), "failed",
            {{"rule", r.error.rule}, {"reason", r.error.reason}});
    json body{{"error",
               {{"code", "rules_rejected"},
                {"message", "the rules file was rejected; the previous rules stay active: " + r.error.message()},
                {"rule", r.error.rule.empty() ? json(nullptr) : json(r.error.rule)},
                {"reason", r.error.reason}}}};
    return jsonResponse(422, body);
  }
  c.audit("risk_rules_reload", "risk_rules", svc.rulesFile(), "ok",
          {{"version", r.version}, {"rules", r.rules}, {"changed", r.changed}});
  json out = rulesJson(svc);
  out["changed"] = r.changed;
  return jsonResponse(200, out);
}

json alertJson(const store::Alert& a) {
  return json{{"id", a.id},
              {"at", a.at},
              {"session_id", a.session_id.empty() ? json(nullptr) : json(a.session_id)},
              {"offset_ms", a.offset_ms},
              {"user_id", a.user_id ? json(*a.user_id) : json(nullptr)},
              {"username", a.username},
              {"rule_id", a.rule_id},
              {"severity", a.severity},
              {"score", a.score},
              {"actions", a.actions},
              {"message", a.message},
              {"matched", a.matched},
              {"status", a.status},
              {"acknowledged_by", a.acknowledged_by},
              {"acknowledged_at", a.acknowledged_at.empty() ? json(nullptr) : json(a.acknowledged_at)}};
}

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

HttpResponse listAlerts(RequestContext& c) {
  requireRole(c, {"soc", "auditor"});
  store::Store::AlertFilter f;
  if (auto st = c.queryParam("status")) {
    if (*st != "open" && *st != "acknowledged")
      throw ApiError(400, "validation_failed", "status must be open or acknowledged");
    f.status = *st;
  }
  if (auto sid = c.queryParam("session_id")) {
    if (!isUuid(*sid)) throw ApiError(400, "validation_failed", "session_id must be a session id (UUID)");
    f.session_id = *sid;
  }
  f.since_id = c.queryInt("since_id", 0, INT64_MAX);
  f.limit = static_cast<int>(c.queryInt("limit", 1, 1000).value_or(100));
  json items = json::array();
  for (const auto& a : c.deps.store.listAlerts(f)) items.push_back(alertJson(a));
  return jsonResponse(200, json{{"items", items}});
}

HttpResponse acknowledge(RequestContext& c) {
  requireRole(c, {"soc"});
  const std::int64_t id = c.idParam(0);
  auto a = c.deps.store.acknowledgeAlert(id, c.user().username);
  if (!a) throw ApiError(404, "not_found", "no alert with this id");
  c.audit("alert_acknowledge", "alert", std::to_string(id), "ok",
          {{"rule_id", a->rule_id}, {"session_id", a->session_id}});
  return jsonResponse(200, alertJson(*a));
}

}  // namespace

void addRiskRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/risk/rules", true, getRules});
  r.push_back({"POST", "/api/v1/risk/rules/reload", true, reloadRules});
  r.push_back({"GET", "/api/v1/alerts", true, listAlerts});
  r.push_back({"POST", "/api/v1/alerts/{id}/acknowledge", true, acknowledge});
}

}  // namespace vigil::web
