#include "web/api/context.hpp"

#include <algorithm>
#include <charconv>

namespace vigil::web {

std::int64_t RequestContext::idParam(std::size_t i) const {
  const std::string& s = params.at(i);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) throw ApiError(404, "not_found", "no such object");
  return v;
}

static std::string urlDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

std::optional<std::string> RequestContext::queryParam(const std::string& name) const {
  std::string_view q = req.query();
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    auto eq = part.find('=');
    if (urlDecode(part.substr(0, eq)) == name)
      return eq == std::string_view::npos ? std::string() : urlDecode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

static std::int64_t parseQueryInt(const std::optional<std::string>& v, const char* name, std::int64_t lo,
                                  std::int64_t hi, std::int64_t dflt) {
  if (!v) return dflt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi)
    throw ApiError(400, "validation_failed",
                   std::string(name) + ": must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  return n;
}

std::optional<std::int64_t> RequestContext::queryInt(const std::string& name, std::int64_t lo, std::int64_t hi) const {
  auto v = queryParam(name);
  if (!v) return std::nullopt;
  return parseQueryInt(v, name.c_str(), lo, hi, 0);
}

store::Page RequestContext::page() const {
  store::Page p;
  p.limit = static_cast<int>(parseQueryInt(queryParam("limit"), "limit", 1, 500, 100));
  p.after = parseQueryInt(queryParam("after"), "after", 0, INT64_MAX, 0);
  return p;
}

void RequestContext::audit(const std::string& action, const std::string& object_type, const std::string& object_id,
                           const std::string& outcome, const json& details) const {
  store::AuditEntry e;
  if (auth) {
    e.actor_id = auth->user.id;
    e.actor = auth->user.username;
  }
  e.source_addr = req.remote_addr;
  e.action = action;
  e.object_type = object_type;
  e.object_id = object_id;
  e.outcome = outcome;
  e.details_json = details.dump();
  deps.store.audit(e);
}

HttpResponse jsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse noContent() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

HttpResponse errorResponse(int status, const std::string& code, const std::string& message) {
  return jsonResponse(status, json{{"error", {{"code", code}, {"message", message}}}});
}

json pageJson(json items, std::optional<std::int64_t> next_after) {
  return json{{"items", std::move(items)}, {"next_after", next_after ? json(*next_after) : json(nullptr)}};
}

namespace {
[[noreturn]] void invalid(const std::string& field, const std::string& why) {
  throw ApiError(400, "validation_failed", field + ": " + why);
}

void checkText(const std::string& field, const std::string& s, std::size_t max_len, bool allow_newlines) {
  if (s.size() > max_len) invalid(field, "at most " + std::to_string(max_len) + " bytes");
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    const bool c0 = ch == 0x7f || (ch < 0x20 && !(allow_newlines && (ch == '\n' || ch == '\r' || ch == '\t')));
    // U+0080..U+009F (C1, e.g. the terminal escape introducer U+009B) are 0xC2 0x80..0x9F in UTF-8.
    const bool c1 = ch == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F &&
                    static_cast<unsigned char>(s[i + 1]) >= 0x80;
    if (c0 || c1) invalid(field, "control characters are not allowed");
  }
}
}  // namespace

std::optional<std::string> optionalString(const json& body, const std::string& field, std::size_t max_len,
                                          bool allow_newlines) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) invalid(field, "must be a string");
  std::string s = it->get<std::string>();
  checkText(field, s, max_len, allow_newlines);
  return s;
}

std::string requireString(const json& body, const std::string& field, std::size_t max_len, bool allow_newlines) {
  auto s = optionalString(body, field, max_len, allow_newlines);
  if (!s) invalid(field, "is required");
  auto b = s->find_first_not_of(" \t");
  if (b == std::string::npos) invalid(field, "must not be empty");
  return *s;
}

std::optional<bool> optionalBool(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) invalid(field, "must be true or false");
  return it->get<bool>();
}

std::optional<std::int64_t> optionalInt(const json& body, const std::string& field, std::int64_t lo, std::int64_t hi) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) invalid(field, "must be an integer");
  auto v = it->get<std::int64_t>();
  if (v < lo || v > hi) invalid(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

std::vector<std::string> stringSet(const json& body, const std::string& field, const std::vector<std::string>& allowed) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_array()) invalid(field, "must be a list");
  std::vector<std::string> out;
  for (auto& v : *it) {
    if (!v.is_string()) invalid(field, "must be a list of strings");
    auto s = v.get<std::string>();
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::string list;
      for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      invalid(field, "unknown value (allowed: " + list + ")");
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

void allowOnlyFields(const json& body, std::initializer_list<const char*> fields) {
  for (auto& [k, v] : body.items()) {
    bool known = false;
    for (auto* f : fields) known = known || k == f;
    if (!known) invalid(k, "unknown field");
  }
}

bool hasAnyRole(const store::User& u, std::initializer_list<const char*> roles) {
  if (u.hasRole("superuser")) return true;
  for (auto* r : roles)
    if (u.hasRole(r)) return true;
  return false;
}

void requireRole(const RequestContext& c, std::initializer_list<const char*> roles) {
  if (!hasAnyRole(c.user(), roles)) throw ApiError(403, "forbidden", "your role does not allow this");
}

std::vector<std::string> safePermissions(const RequestContext& c, std::int64_t safe_id) {
  if (hasAnyRole(c.user(), {"vault_admin"})) return {"connect", "view_recordings", "monitor_live", "manage"};
  auto m = c.deps.store.membership(safe_id, c.user().id);
  return m ? m->permissions : std::vector<std::string>{};
}

bool hasPermission(const std::vector<std::string>& perms, const std::string& p) {
  return std::find(perms.begin(), perms.end(), p) != perms.end();
}

json userJson(const store::User& u) {
  return json{{"id", u.id},
              {"username", u.username},
              {"display_name", u.display_name},
              {"roles", u.roles},
              {"source", u.source},
              {"mfa_enrolled", u.totp_enrolled},
              {"locked", u.locked},
              {"lockout_active", u.lockout_active},
              {"must_change_password", u.must_change_password},
              {"created_at", u.created_at}};
}

json policyJson(const store::SafePolicy& p) {
  json j{{"record_sessions", p.record_sessions},
              {"live_monitoring", p.live_monitoring},
              {"require_dual_authorization", p.require_dual_authorization},
              {"retention_days", p.retention_days},
              {"allowed_protocols", p.allowed_protocols},
              {"allow_file_transfer", p.allow_file_transfer},
              {"allow_port_forwarding", p.allow_port_forwarding},
              {"allow_agent_forwarding", p.allow_agent_forwarding},
              {"allow_x11_forwarding", p.allow_x11_forwarding},
              {"trust_on_first_use", p.trust_on_first_use}};
  j["encrypt_recordings"] = p.encrypt_recordings;
  j["video_codec"] = p.video_codec;
  j["video_max_fps"] = p.video_max_fps;
  j["video_quality"] = p.video_quality;
  j["clipboard"] = p.clipboard;
  return j;
}

json safeJson(const store::Safe& s, const std::vector<std::string>& my_permissions) {
  return json{{"id", s.id},
              {"name", s.name},
              {"description", s.description},
              {"policy", policyJson(s.policy)},
              {"created_at", s.created_at},
              {"my_permissions", my_permissions}};
}

json targetJson(const store::Target& t) {
  return json{{"id", t.id},
              {"name", t.name},
              {"protocol", t.protocol},
              {"address", t.address},
              {"port", t.port},
              {"host_key_fingerprint", t.host_key_fingerprint},
              {"certificate_fingerprint", t.certificate_fingerprint},
              {"description", t.description},
              {"created_at", t.created_at}};
}

json accountJson(const store::Account& a) {
  return json{{"id", a.id},
              {"safe_id", a.safe_id},
              {"safe_name", a.safe_name},
              {"target_id", a.target_id},
              {"target_name", a.target_name},
              {"protocol", a.protocol},
              {"address", a.address},
              {"port", a.port},
              {"username", a.username},
              {"secret_kind", a.secret_kind},
              {"secret_set", true},
              {"description", a.description},
              {"created_at", a.created_at},
              {"updated_at", a.updated_at}};
}

json memberJson(const store::SafeMember& m) {
  return json{{"safe_id", m.safe_id}, {"user_id", m.user_id}, {"username", m.username}, {"permissions", m.permissions}};
}

}  // namespace vigil::web
