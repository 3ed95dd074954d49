// /api/v1/sessions: proxied sessions, their timeline and their recordings.
// Visibility: a superuser sees every session; others see their own sessions and those in safes
// where they hold view_recordings or monitor_live. Recordings need view_recordings (or superuser,
// or auditor with a membership in the safe) — a session's own user may not download theirs.
#include <cmath>
#include <ctime>

#include "recorder/asciicast_reader.hpp"
#include "server/services/ids.hpp"
#include "web/api/context.hpp"
#include "web/api/session_access.hpp"

namespace vigil::web {
namespace {

const std::vector<std::string> kEventKinds{"command", "file",       "lifecycle",    "note", "output",
                                           "risk",    "keystrokes", "window_title", "sql", "clipboard"};

json optId(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

std::vector<std::string> permsIn(const RequestContext& c, const std::optional<std::int64_t>& safe_id) {
  if (!safe_id) return {};
  auto m = c.deps.store.membership(*safe_id, c.user().id);
  return m ? m->permissions : std::vector<std::string>{};
}

/// Milliseconds between two RFC 3339 UTC second-precision strings ("" end: now).
std::int64_t durationMs(const std::string& start, const std::string& end) {
  auto parse = [](const std::string& t) -> std::time_t {
    std::tm tm{};
    if (t.empty() || !strptime(t.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return std::time(nullptr);
    return timegm(&tm);
  };
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(parse(end) - parse(start)) * 1000);
}

}  // namespace

json sessionJson(const store::SessionRecord& s) {
  return json{{"id", s.id},
              {"node", s.node},
              {"user_id", optId(s.user_id)},
              {"username", s.username},
              {"account_id", optId(s.account_id)},
              {"account_user", s.account_user},
              {"target_id", optId(s.target_id)},
              {"target_name", s.target_name},
              {"target_address", s.target_address},
              {"safe_id", optId(s.safe_id)},
              {"safe_name", s.safe_name},
              {"protocol", s.protocol},
              {"via", s.via},
              {"client_addr", s.client_addr},
              {"started_at", s.started_at},
              {"ended_at", s.ended_at.empty() ? json(nullptr) : json(s.ended_at)},
              {"active", s.ended_at.empty()},
              {"end_reason", s.end_reason},
              {"end_detail", s.end_detail},
              {"bytes_from_client", s.bytes_from_client},
              {"bytes_to_client", s.bytes_to_client},
              {"has_recording", !s.recording_path.empty()},
              {"recording_bytes", s.recording_bytes},
              {"command_count", s.command_count},
              {"risk_score", s.risk_score},
              {"review_status", s.review_status},
              {"duration_ms", s.duration_ms ? *s.duration_ms : durationMs(s.started_at, s.ended_at)},
              {"access_request_id", optId(s.access_request_id)},
              {"purged_at", s.purged_at.empty() ? json(nullptr) : json(s.purged_at)},
              {"recording_tier", s.recording_tier}};
}

bool canSeeSession(const RequestContext& c, const store::SessionRecord& s) {
  if (c.user().hasRole("superuser")) return true;
  if (s.user_id && *s.user_id == c.user().id) return true;
  auto p = permsIn(c, s.safe_id);
  return hasPermission(p, "view_recordings") || hasPermission(p, "monitor_live");
}

bool canViewRecording(const RequestContext& c, const store::SessionRecord& s) {
  if (c.user().hasRole("superuser")) return true;
  auto m = s.safe_id ? c.deps.store.membership(*s.safe_id, c.user().id) : std::nullopt;
  if (!m) return false;
  return hasPermission(m->permissions, "view_recordings") || c.user().hasRole("auditor");
}

namespace {

bool canSee(const RequestContext& c, const store::SessionRecord& s) { return canSeeSession(c, s); }

store::SessionRecord load(RequestContext& c, bool for_recording = false) {
  const std::string& id = c.params.at(0);
  if (!services::isUuid(id)) throw ApiError(404, "not_found", "no such session");
  auto s = c.deps.store.sessionById(id);
  if (!s || !(canSee(c, *s) || (for_recording && canViewRecording(c, *s))))
    throw ApiError(404, "not_found", "no such session");
  return *s;
}

HttpResponse get(RequestContext& c) { return jsonResponse(200, sessionJson(load(c))); }

HttpResponse events(RequestContext& c) {
  auto s = load(c);
  // kind=a,b (any of them); q=text (contained, case-insensitive).
  std::vector<std::string> kinds;
  if (auto kind = c.queryParam("kind")) {
    std::size_t start = 0;
    for (;;) {
      auto comma = kind->find(',', start);
      std::string k = kind->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (std::find(kEventKinds.begin(), kEventKinds.end(), k) == kEventKinds.end())
        throw ApiError(400, "validation_failed",
                       "kind: must be a comma-separated list of command, file, lifecycle, note, output, risk,"
                       " keystrokes, window_title, sql, clipboard");
      kinds.push_back(k);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::optional<std::string> q = c.queryParam("q");
  if (q && (q->empty() || q->size() > 200 || q->find('\0') != std::string::npos))
    throw ApiError(400, "validation_failed", "q: 1 to 200 characters");
  auto page = c.page();
  return pagedResponse(c.deps.store.listSessionEventsFiltered(s.id, kinds, q, page), page, [](const store::SessionEvent& e) {
    json d = json::parse(e.details_json, nullptr, false);
    return json{{"id", e.id},
                {"at", e.at},
                {"offset_ms", e.offset_ms},
                {"kind", e.kind},
                {"text", e.text},
                {"details", d.is_discarded() ? json::object() : d}};
  });
}

HttpResponse recording(RequestContext& c) {
  auto s = load(c, true);
  if (!canViewRecording(c, s)) {
    c.audit("recording_download", "session", s.id, "denied", {{"reason", "no_view_recordings_permission"}});
    throw ApiError(403, "forbidden", "you need the view_recordings permission on safe " + s.safe_name);
  }
  if (s.recording_path.empty() || s.recording_path.find("..") != std::string::npos)
    throw ApiError(404, "not_found", "this session has no recording");
  const std::string file = (c.deps.cfg.recordingsDir() / s.recording_path).string();
  // asciicast v2 text, decompressed; a live or crashed session gives what is on disk so far.
  std::string out;
  bool truncated = false;
  auto ec = recorder::readAsciicast(
      file, [&](const nlohmann::json& header) { out += header.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; },
      [&](recorder::AsciicastEvent&& e) {
        const double t = std::round(e.time * 1e6) / 1e6;
        out += json::array({t, std::string(1, e.type), e.data}).dump(-1, ' ', false, json::error_handler_t::replace);
        out += '\n';
      },
      &truncated);
  if (ec && out.empty()) throw ApiError(404, "not_found", "the recording is not available");
  c.audit("recording_download", "session", s.id, "ok",
          {{"bytes", out.size()}, {"active", s.ended_at.empty()}, {"truncated", truncated}});
  HttpResponse r;
  r.content_type = "application/x-asciicast";
  r.body = std::move(out);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + s.id + ".cast\"");
  return r;
}

}  // namespace

void addSessionRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/sessions", true, listSessionsHandler});
  r.push_back({"GET", "/api/v1/sessions/{id}", true, get});
  r.push_back({"GET", "/api/v1/sessions/{id}/events", true, events});
  r.push_back({"GET", "/api/v1/sessions/{id}/recording", true, recording});
  addReviewRoutes(r);
}

}  // namespace vigil::web
