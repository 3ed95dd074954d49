// Issue 4: recordings search, playback for the player, the recording file with HTTP ranges, and
// the review workflow (reviews, comments anchored to offsets, the review queue).
//
// Playing and reviewing need view_recordings on the session's safe (an auditor: any membership)
// or the superuser role, and never one's own session: 403 otherwise (404 for unknown ids).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>

#include "recorder/encrypted_file_reader.hpp"
#include "recorder/playback_index.hpp"
#include "recorder/recording_cipher.hpp"
#include "server/services/ids.hpp"
#include "server/services/recording_seal.hpp"
#include "server/services/session_filters.hpp"
#include "web/api/session_access.hpp"

namespace vigil::web {
namespace {

constexpr std::int64_t kMaxWindowMs = 600'000;
constexpr std::int64_t kIdleGapMs = 3'000;
constexpr int kHitsPerSession = 5;
// The most one range response carries: a <video> asks for "bytes=0-" and reads on with further
// ranges, so a long recording is never read whole into memory per request (a request for a whole
// encrypted video is answered with a streamed body).
constexpr std::uint64_t kMaxRangeBytes = 8u << 20;
// A whole encrypted video is decrypted and sent in pieces of this size.
constexpr std::size_t kStreamPiece = 64u << 10;

const char* const kFilterNames[] = {"from",     "to",           "user",         "user_id",    "account_id",
                                    "target_id", "safe_id",     "protocol",     "min_risk",   "max_risk",
                                    "min_duration", "max_duration", "review_status", "status", "sort",
                                    "limit",    "q",            "match",        "before"};

recorder::PlaybackCache& playbackCache() {
  static recorder::PlaybackCache cache(16);
  return cache;
}

[[noreturn]] void invalid(const std::string& message) { throw ApiError(400, "validation_failed", message); }

/// Every filter of GET /sessions from the query string; 400 on the first invalid one.
store::SessionQuery sessionQueryFrom(const RequestContext& c) {
  store::SessionQuery q;
  for (const char* name : kFilterNames)
    if (auto v = c.queryParam(name))
      if (auto why = services::applySessionFilter(q, name, *v); !why.empty()) invalid(why);
  if (q.min_risk && q.max_risk && *q.min_risk > *q.max_risk) invalid("min_risk: must not exceed max_risk");
  if (auto cur = c.queryParam("cursor")) {
    std::string why;
    auto key = services::decodeCursor(q.sort, *cur, why);
    if (!key) invalid("cursor: " + why);
    q.after = key;
  }
  if (!c.user().hasRole("superuser")) q.visible_to = c.user().id;
  return q;
}

json nextCursor(const store::SessionQuery& q, const store::SessionPage& page) {
  return page.next ? json(services::encodeCursor(q.sort, *page.next)) : json(nullptr);
}

/// A session the caller may play and review.
store::SessionRecord loadForReview(RequestContext& c, const char* action) {
  const std::string& id = c.params.at(0);
  if (!services::isUuid(id)) throw ApiError(404, "not_found", "no such session");
  auto s = c.deps.store.sessionById(id);
  if (!s) throw ApiError(404, "not_found", "no such session");
  if (!canViewRecording(c, *s)) {
    c.audit(action, "session", s->id, "denied", {{"reason", "no_view_recordings_permission"}});
    throw ApiError(403, "forbidden", "you need the view_recordings permission on this session's safe");
  }
  if (s->user_id && *s->user_id == c.user().id) {
    c.audit(action, "session", s->id, "denied", {{"reason", "own_session"}});
    throw ApiError(403, "forbidden", "you may not play or review your own session");
  }
  return *s;
}

std::string recordingFile(const RequestContext& c, const store::SessionRecord& s) {
  if (s.recording_path.empty() || s.recording_path.find("..") != std::string::npos)
    throw ApiError(404, "not_found", "this session has no recording");
  const std::string file = (c.deps.cfg.recordingsDir() / s.recording_path).string();
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw ApiError(404, "not_found", "the recording is not available");
  return file;
}

/// `recording_play` is audited once per viewer per session per hour (on the index fetch, which
/// every player opening does), so scrubbing through chunks does not flood the audit log.
bool firstPlayThisHour(std::int64_t viewer, const std::string& session) {
  static std::mutex mu;
  static std::map<std::pair<std::int64_t, std::string>, std::chrono::steady_clock::time_point> seen;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu);
  if (seen.size() > 10000) seen.clear();
  auto [it, fresh] = seen.try_emplace({viewer, session}, now);
  if (fresh) return true;
  if (now - it->second < std::chrono::hours(1)) return false;
  it->second = now;
  return true;
}

std::int64_t requiredMs(const RequestContext& c, const char* name) {
  auto v = c.queryInt(name, 0, 100LL * 365 * 86400 * 1000);
  if (!v) invalid(std::string(name) + ": required (milliseconds from the session start)");
  return *v;
}

json damagedOf(const recorder::PlaybackIndex& idx, const store::SessionRecord& s) {
  if (!idx.corrupt.empty()) return idx.corrupt;
  if (idx.partial_tail && !s.ended_at.empty())
    return "truncated at ~" + std::to_string(idx.duration_ms) + " ms: the file ends inside a frame, the rest was lost";
  return nullptr;
}

// ---------------------------------------------------------------- listing and search

HttpResponse search(RequestContext& c) {
  auto text = c.queryParam("text");
  if (!text) invalid("text: required");
  store::SessionQuery q = sessionQueryFrom(c);
  if (auto why = services::applySessionFilter(q, "text", *text); !why.empty()) invalid(why);
  auto page = c.deps.store.querySessions(q);
  std::vector<std::string> ids;
  for (auto& s : page.items) ids.push_back(s.id);
  auto hits = c.deps.store.searchHits(ids, *text, kHitsPerSession);
  json items = json::array();
  for (auto& s : page.items) {
    json h = json::array();
    for (auto& hit : hits) {
      if (hit.session_id != s.id) continue;
      auto sn = services::makeSnippet(hit.text, *text);
      json ranges = json::array();
      for (auto& [a, b] : sn.highlights) ranges.push_back({a, b});
      h.push_back({{"event_id", hit.event_id},
                   {"kind", hit.kind},
                   {"offset_ms", hit.offset_ms},
                   {"at", hit.at},
                   {"snippet", sn.text},
                   {"highlights", ranges}});
    }
    items.push_back({{"session", sessionJson(s)}, {"hits", h}});
  }
  return jsonResponse(200, json{{"items", items}, {"next_cursor", nextCursor(q, page)}});
}

HttpResponse reviewQueue(RequestContext& c) {
  store::SessionQuery q;
  q.sort = "queue";
  if (auto v = c.queryParam("limit"))
    if (auto why = services::applySessionFilter(q, "limit", *v); !why.empty()) invalid(why);
  if (auto cur = c.queryParam("cursor")) {
    std::string why;
    auto key = services::decodeCursor(q.sort, *cur, why);
    if (!key) invalid("cursor: " + why);
    q.after = key;
  }
  q.reviewable_by = c.user().id;
  q.reviewer_is_superuser = c.user().hasRole("superuser");
  q.reviewer_is_auditor = c.user().hasRole("auditor");
  auto page = c.deps.store.querySessions(q);
  json items = json::array();
  for (auto& s : page.items) items.push_back(sessionJson(s));
  return jsonResponse(200, json{{"items", items}, {"next_cursor", nextCursor(q, page)}});
}

// ---------------------------------------------------------------- playback

HttpResponse playbackIndex(RequestContext& c) {
  auto s = loadForReview(c, "recording_play");
  const std::string file = recordingFile(c, s);
  auto idx = playbackCache().get(file);
  const bool active = s.ended_at.empty();
  std::int64_t duration = idx->duration_ms;
  // The live edge: the time since the start, even while the terminal is quiet.
  if (active) duration = std::max(duration, sessionJson(s)["duration_ms"].get<std::int64_t>());
  json gaps = json::array();
  for (auto& [a, b] : idx->idleGaps(kIdleGapMs)) gaps.push_back({a, b});
  json markers = json::array();
  for (auto& e : c.deps.store.sessionEventsOfKind(s.id, "risk", 2000)) {
    json d = json::parse(e.details_json, nullptr, false);
    markers.push_back({{"offset_ms", e.offset_ms},
                       {"kind", "risk"},
                       {"text", e.text},
                       {"severity", d.is_object() ? d.value("severity", "") : ""},
                       {"event_id", e.id}});
  }
  if (firstPlayThisHour(c.user().id, s.id))
    c.audit("recording_play", "session", s.id, "ok", {{"active", active}, {"duration_ms", duration}});
  return jsonResponse(200, json{{"session_id", s.id},
                                {"duration_ms", duration},
                                {"width", idx->width},
                                {"height", idx->height},
                                {"active", active},
                                {"idle_gaps", gaps},
                                {"markers", markers},
                                {"keyframes", idx->keyframes.size()},
                                {"damaged", idx->unreadable && active && idx->file_size == 0 ? json(nullptr)
                                                                                              : damagedOf(*idx, s)}});
}

HttpResponse playback(RequestContext& c) {
  auto s = loadForReview(c, "recording_play");
  const std::int64_t from = requiredMs(c, "from_ms");
  const std::int64_t to = requiredMs(c, "to_ms");
  if (to <= from) invalid("to_ms: must be greater than from_ms");
  if (to - from > kMaxWindowMs) invalid("to_ms: the window is at most 600000 ms (10 minutes)");
  const std::string file = recordingFile(c, s);
  auto idx = playbackCache().get(file);
  auto chunk = recorder::playbackChunk(*idx, from, to);
  json events = json::array();
  for (const auto* e : chunk.events) events.push_back({e->t_ms, std::string(1, e->type), e->data});
  return jsonResponse(200, json{{"from_ms", from},
                                {"to_ms", to},
                                {"width", chunk.width},
                                {"height", chunk.height},
                                {"snapshot", chunk.snapshot},
                                {"events", events},
                                {"end", !chunk.more && !s.ended_at.empty()},
                                {"damaged", damagedOf(*idx, s)}});
}

/// The recording's tamper evidence (the player's badge): authorized like playback, audited.
HttpResponse verifyRoute(RequestContext& c) {
  auto s = loadForReview(c, "recording_verify");
  auto sealing = services::RecordingSealing::current();
  if (!sealing) throw ApiError(503, "unavailable", "recording sealing is not set up on this node");
  auto r = services::verifyRecording(c.deps.store, c.deps.cfg.recordingsDir(), s, sealing->publicKey());
  c.audit("recording_verify", "session", s.id, "ok", {{"status", r.status}});
  return jsonResponse(200, r.toJson());
}

/// "bytes=a-b" | "bytes=a-" | "bytes=-n" against `size`: [first, last]; nullopt when the header is
/// not one satisfiable range (the caller answers 416 when it was a syntactically valid range).
std::optional<std::pair<std::uint64_t, std::uint64_t>> parseRange(const std::string& h, std::uint64_t size,
                                                                  bool& malformed) {
  malformed = true;
  if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return std::nullopt;
  const std::string spec = h.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  auto num = [](const std::string& s) -> std::optional<std::uint64_t> {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoull(s);
  };
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    auto n = num(b);
    if (!n) return std::nullopt;
    malformed = false;
    if (*n == 0 || size == 0) return std::nullopt;
    return std::make_pair(size - std::min(*n, size), size - 1);
  }
  auto first = num(a);
  auto last = b.empty() ? first : num(b);
  if (!first || !last || *last < *first) return std::nullopt;
  malformed = false;
  if (*first >= size) return std::nullopt;
  if (b.empty()) last = size - 1;
  return std::make_pair(*first, std::min(*last, size - 1));
}

/// The file's bytes [first, last] — an encrypted recording's plaintext, decrypted record by record.
std::string recordingBytes(const std::string& file, const recorder::EncryptedFileReader* enc, std::uint64_t first,
                           std::uint64_t last) {
  std::string body;
  if (enc) {
    if (auto ec = enc->read(first, static_cast<std::size_t>(last - first + 1), body))
      throw ApiError(500, "recording_unreadable", "the recording does not decrypt: " + ec.message());
    return body;
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ApiError(404, "not_found", "the recording is not available");
  body.assign(last - first + 1, '\0');
  std::size_t got = 0;
  while (got < body.size()) {
    const ssize_t n = ::pread(fd, body.data() + got, body.size() - got, static_cast<off_t>(first + got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  body.resize(got);
  return body;
}

HttpResponse recordingFileRoute(RequestContext& c) {
  auto s = loadForReview(c, "recording_download");
  const std::string file = recordingFile(c, s);
  // Graphical sessions (RDP) are recorded as fragmented MP4 video, terminals as asciicast.
  const bool video = file.size() > 4 && file.compare(file.size() - 4, 4, ".mp4") == 0;
  // An encrypted video is served as its plaintext to the authorized reviewer: sizes and ranges
  // are of the plaintext, so the player's <video> seeks it as any other. An encrypted terminal
  // recording is served as stored (the player reads it through the playback routes).
  std::unique_ptr<recorder::EncryptedFileReader> enc;
  std::uint64_t size = 0;
  if (video && recorder::isEncryptedRecording(file)) {
    std::error_code ec;
    enc = recorder::EncryptedFileReader::open(file, ec);
    if (!enc)
      throw ApiError(ec == std::errc::permission_denied ? 503 : 500, "recording_unreadable",
                     "the encrypted recording cannot be opened: " + ec.message());
    size = enc->size();
  } else {
    struct stat st {};
    ::stat(file.c_str(), &st);
    size = static_cast<std::uint64_t>(st.st_size);
  }
  const std::string format = video ? "mp4" : "cast.zst";
  HttpResponse r;
  r.content_type = video ? "video/mp4" : "application/zstd";
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Content-Disposition", std::string(video ? "inline" : "attachment") + "; filename=\"" + s.id +
                                                    "." + format + "\"");
  auto whole = [&] {
    c.audit("recording_download", "session", s.id, "ok", {{"bytes", size}, {"format", format}, {"encrypted", enc != nullptr}});
    if (!enc) {
      r.file_path = file;
    } else {
      // Decrypted as it goes out, a piece at a time: a long recording is never whole in memory.
      std::shared_ptr<recorder::EncryptedFileReader> reader = std::move(enc);
      r.stream = StreamedBody{size, [reader](std::uint64_t offset, std::string& out) {
                                return !reader->read(offset, kStreamPiece, out);
                              }};
    }
    return r;
  };
  auto range = c.req.header("range");
  if (!range) return whole();
  bool malformed = false;
  auto span = parseRange(std::string(*range), size, malformed);
  if (!span) {
    if (malformed) return whole();  // RFC 9110: an unusable Range header is ignored
    HttpResponse e = errorResponse(416, "range_not_satisfiable", "the range is outside the file (" +
                                                                     std::to_string(size) + " bytes)");
    e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    e.headers.emplace_back("Accept-Ranges", "bytes");
    return e;
  }
  const auto first = span->first;
  const auto last = std::min(span->second, first + kMaxRangeBytes - 1);
  if (first == 0)
    c.audit("recording_download", "session", s.id, "ok", {{"bytes", size}, {"format", format}, {"encrypted", enc != nullptr}});
  std::string body = recordingBytes(file, enc.get(), first, last);
  if (body.empty()) throw ApiError(404, "not_found", "the recording is not available");
  r.status = 206;
  r.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(first + body.size() - 1) +
                                              "/" + std::to_string(size));
  r.body = std::move(body);
  return r;
}

// ---------------------------------------------------------------- review workflow

HttpResponse putReview(RequestContext& c) {
  allowOnlyFields(c.body, {"status", "comment"});
  const std::string status = requireString(c.body, "status", 64);
  if (std::find(services::kReviewStatuses.begin(), services::kReviewStatuses.end(), status) ==
      services::kReviewStatuses.end())
    invalid("status: must be one of unreviewed, reviewed_ok, reviewed_suspicious, requires_investigation");
  const std::string comment = optionalString(c.body, "comment", 4000, true).value_or("");
  auto s = loadForReview(c, "session_review");
  if (!c.deps.store.addReview(s.id, status, comment, c.user().id, c.user().username))
    throw ApiError(404, "not_found", "no such session");
  c.audit("session_review", "session", s.id, "ok",
          {{"status", status}, {"previous", s.review_status}, {"comment", comment.substr(0, 200)}});
  auto updated = c.deps.store.sessionById(s.id);
  return jsonResponse(200, sessionJson(updated ? *updated : s));
}

HttpResponse listReviews(RequestContext& c) {
  auto s = loadForReview(c, "session_review");
  json items = json::array();
  for (auto& v : c.deps.store.listReviews(s.id))
    items.push_back({{"id", v.id}, {"status", v.status}, {"comment", v.comment}, {"reviewer", v.reviewer}, {"at", v.at}});
  return jsonResponse(200, json{{"items", items}});
}

json commentJson(const store::SessionComment& m) {
  return {{"id", m.id}, {"offset_ms", m.offset_ms}, {"text", m.text}, {"author", m.author}, {"at", m.at}};
}

HttpResponse addComment(RequestContext& c) {
  allowOnlyFields(c.body, {"offset_ms", "text"});
  auto offset = optionalInt(c.body, "offset_ms", 0, 100LL * 365 * 86400 * 1000);
  if (!offset) invalid("offset_ms: is required");
  const std::string text = requireString(c.body, "text", 4000, true);
  auto s = loadForReview(c, "session_comment");
  auto m = c.deps.store.addComment(s.id, *offset, text, c.user().id, c.user().username);
  c.audit("session_comment", "session", s.id, "ok", {{"comment_id", m.id}, {"offset_ms", m.offset_ms}});
  return jsonResponse(201, commentJson(m));
}

HttpResponse listComments(RequestContext& c) {
  auto s = loadForReview(c, "session_comment");
  json items = json::array();
  for (auto& m : c.deps.store.listComments(s.id)) items.push_back(commentJson(m));
  return jsonResponse(200, json{{"items", items}});
}

}  // namespace

HttpResponse listSessionsHandler(RequestContext& c) {
  store::SessionQuery q = sessionQueryFrom(c);
  auto page = c.deps.store.querySessions(q);
  json items = json::array();
  for (auto& s : page.items) items.push_back(sessionJson(s));
  json next_before = page.next && q.sort == "started_desc" ? json(page.items.back().id) : json(nullptr);
  return jsonResponse(200, json{{"items", items}, {"next_cursor", nextCursor(q, page)}, {"next_before", next_before}});
}

void addReviewRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/search", true, search});
  r.push_back({"GET", "/api/v1/review-queue", true, reviewQueue});
  r.push_back({"GET", "/api/v1/sessions/{id}/playback/index", true, playbackIndex});
  r.push_back({"GET", "/api/v1/sessions/{id}/playback", true, playback});
  r.push_back({"GET", "/api/v1/sessions/{id}/recording/file", true, recordingFileRoute});
  r.push_back({"GET", "/api/v1/sessions/{id}/verify", true, verifyRoute});
  r.push_back({"PUT", "/api/v1/sessions/{id}/review", true, putReview});
  r.push_back({"GET", "/api/v1/sessions/{id}/reviews", true, listReviews});
  r.push_back({"POST", "/api/v1/sessions/{id}/comments", true, addComment});
  r.push_back({"GET", "/api/v1/sessions/{id}/comments", true, listComments});
}

}  // namespace vigil::web
