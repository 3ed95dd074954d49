// /api/v1/targets: servers and databases Vigil connects to, with their pinned host identity.
#include <regex>

#include "web/api/context.hpp"

namespace vigil::web {
namespace {

const std::vector<std::string> kProtocols{"ssh", "rdp", "tds", "postgres"};

int defaultPort(const std::string& protocol) {
  if (protocol == "ssh") return 22;
  if (protocol == "rdp") return 3389;
  if (protocol == "tds") return 1433;
  return 5432;
}

void validateAddress(const std::string& a) {
  // Host names (RFC 1123), IPv4 and IPv6 literals; nothing a shell or URL could misread.
  static const std::regex ok(R"(^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$)");
  if (!std::regex_match(a, ok)) throw ApiError(400, "validation_failed", "address: must be a host name or an IP address");
}

void validateFingerprints(const store::Target& t) {
  static const std::regex ssh(R"(^SHA256:[A-Za-z0-9+/]{43}=?$)");
  static const std::regex cert(R"(^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$)");
  if (!t.host_key_fingerprint.empty() && !std::regex_match(t.host_key_fingerprint, ssh))
    throw ApiError(400, "validation_failed", "host_key_fingerprint: expected SHA256:<43 base64 characters> (ssh-keygen -lf)");
  if (!t.certificate_fingerprint.empty() && !std::regex_match(t.certificate_fingerprint, cert))
    throw ApiError(400, "validation_failed", "certificate_fingerprint: expected 32 hex bytes separated by colons (SHA-256)");
}

void applyFields(const json& b, store::Target& t, bool creating) {
  allowOnlyFields(b, {"name", "protocol", "address", "port", "host_key_fingerprint", "certificate_fingerprint", "description"});
  if (creating) {
    t.name = requireString(b, "name", 128);
    t.protocol = requireString(b, "protocol", 16);
    t.address = requireString(b, "address", 255);
  } else {
    if (auto v = optionalString(b, "name", 128)) t.name = *v;
    if (auto v = optionalString(b, "protocol", 16)) t.protocol = *v;
    if (auto v = optionalString(b, "address", 255)) t.address = *v;
  }
  if (std::find(kProtocols.begin(), kProtocols.end(), t.protocol) == kProtocols.end())
    throw ApiError(400, "validation_failed", "protocol: must be one of ssh, rdp, tds, postgres");
  if (t.name.find_first_not_of(" \t") == std::string::npos) throw ApiError(400, "validation_failed", "name: must not be empty");
  validateAddress(t.address);
  if (auto p = optionalInt(b, "port", 1, 65535)) t.port = static_cast<int>(*p);
  else if (creating) t.port = defaultPort(t.protocol);
  if (auto v = optionalString(b, "host_key_fingerprint", 128)) t.host_key_fingerprint = *v;
  if (auto v = optionalString(b, "certificate_fingerprint", 128)) t.certificate_fingerprint = *v;
  if (auto v = optionalString(b, "description", 2000, true)) t.description = *v;
  validateFingerprints(t);
}

store::Target load(RequestContext& c) {
  auto t = c.deps.store.targetById(c.idParam(0));
  if (!t) throw ApiError(404, "not_found", "no such target");
  return *t;
}

json auditView(const store::Target& t) {
  return {{"name", t.name}, {"protocol", t.protocol}, {"address", t.address}, {"port", t.port},
          {"host_key_fingerprint", t.host_key_fingerprint}, {"certificate_fingerprint", t.certificate_fingerprint}};
}

HttpResponse list(RequestContext& c) {
  auto page = c.page();
  return pagedResponse(c.deps.store.listTargets(page), page, targetJson);
}

HttpResponse create(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  store::Target t;
  applyFields(c.body, t, true);
  auto created = c.deps.store.createTarget(t);
  c.audit("target_create", "target", std::to_string(created.id), "ok", auditView(created));
  return jsonResponse(201, targetJson(created));
}

HttpResponse get(RequestContext& c) { return jsonResponse(200, targetJson(load(c))); }

HttpResponse update(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  store::Target t = load(c);
  applyFields(c.body, t, false);
  c.deps.store.updateTarget(t);
  c.audit("target_update", "target", std::to_string(t.id), "ok", auditView(t));
  return jsonResponse(200, targetJson(*c.deps.store.targetById(t.id)));
}

HttpResponse remove(RequestContext& c) {
  requireRole(c, {"vault_admin"});
  store::Target t = load(c);
  c.deps.store.deleteTarget(t.id);
  c.audit("target_delete", "target", std::to_string(t.id), "ok", {{"name", t.name}});
  return noContent();
}

}  // namespace

void addTargetRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/targets", true, list});
  r.push_back({"POST", "/api/v1/targets", true, create});
  r.push_back({"GET", "/api/v1/targets/{id}", true, get});
  r.push_back({"PATCH", "/api/v1/targets/{id}", true, update});
  r.push_back({"DELETE", "/api/v1/targets/{id}", true, remove});
}

}  // namespace vigil::web
