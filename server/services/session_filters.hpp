#pragma once
// What GET /sessions, GET /search, the review queue and `vigil recordings ls` share: validation
// of the filter values, the opaque keyset cursor, and search snippets with highlight ranges.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/store/types.hpp"

namespace vigil::services {

inline const std::vector<std::string> kSessionSorts{"started_desc", "started_asc", "risk_desc", "duration_desc"};
inline const std::vector<std::string> kSessionProtocols{"ssh", "rdp", "postgres", "tds"};
inline const std::vector<std::string> kReviewStatuses{"unreviewed", "reviewed_ok", "reviewed_suspicious",
                                                      "requires_investigation"};

/// A time bound: an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM],
/// UTC when no zone is given). `rfc3339` is what PostgreSQL gets; a date `to` becomes the next
/// day's midnight with `exclusive` set, so the whole day is included.
struct TimeBound {
  std::string rfc3339;
  bool exclusive = false;
};
/// nullopt and `error` set when `v` is not a valid date or date-time.
std::optional<TimeBound> parseTimeBound(const std::string& v, bool is_to, std::string& error);

/// The cursor of the page after `key` in `sort` order: opaque (hex) text.
std::string encodeCursor(const std::string& sort, const store::SessionQuery::Key& key);
/// nullopt and `error` set when `cursor` is malformed or was made for another sort.
std::optional<store::SessionQuery::Key> decodeCursor(const std::string& sort, const std::string& cursor,
                                                     std::string& error);

/// Applies one filter by name (the API's query parameter names) to `q`; returns an error message
/// ("min_risk: must be an integer ...") or "" when valid. Unknown names are ignored.
std::string applySessionFilter(store::SessionQuery& q, const std::string& name, const std::string& value);

/// A piece of an event's text around its first match of `query`, and where the matches are in
/// it, as [start, end) code point offsets. Case-insensitive; when the whole query does not occur
/// (a full-text hit), each of its words is highlighted.
struct Snippet {
  std::string text;
  std::vector<std::pair<int, int>> highlights;
};
Snippet makeSnippet(const std::string& text, const std::string& query, int context = 60);

}  // namespace vigil::services
