// Recordings search: GET /sessions filters and sorts with keyset pagination, GET /search hits,
// the review queue. One statement serves every filter combination (absent filters are NULLs);
// the sort picks the ORDER BY and the keyset condition, so a page starts strictly after the
// last row of the previous one whatever was inserted meanwhile.
#include <stdexcept>

#include "server/store/pool.hpp"
#include "server/store/session_rows.hpp"

namespace vigil::store {
namespace {

const std::string kDuration =
    "(extract(epoch from (coalesce(s.ended_at, now()) - s.started_at)) * 1000)::bigint";
const std::string kStartedUs = "(extract(epoch from s.started_at) * 1000000)::bigint";
const std::string kKeyTime = "('epoch'::timestamptz + $27::bigint * interval '1 microsecond')";

std::string likePattern(const std::string& text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  return p + "%";
}

struct Order {
  std::string keyset;  // uses $26 (a), $27 (b), $28 (id)
  std::string order_by;
};

Order orderFor(const std::string& sort) {
  if (sort == "started_desc")
    return {"(s.started_at, s.id) < ('epoch'::timestamptz + $26::bigint * interval '1 microsecond', $28::uuid)",
            "s.started_at DESC, s.id DESC"};
  if (sort == "started_asc")
    return {"(s.started_at, s.id) > ('epoch'::timestamptz + $26::bigint * interval '1 microsecond', $28::uuid)",
            "s.started_at ASC, s.id ASC"};
  if (sort == "risk_desc")
    return {"(s.risk_score, s.started_at, s.id) < ($26::int, " + kKeyTime + ", $28::uuid)",
            "s.risk_score DESC, s.started_at DESC, s.id DESC"};
  if (sort == "duration_desc")
    return {"(" + kDuration + ", s.id) < ($26::bigint, $28::uuid)", kDuration + " DESC, s.id DESC"};
  if (sort == "queue")
    return {"(s.risk_score < $26::int OR (s.risk_score = $26::int AND (s.started_at, s.id) > (" + kKeyTime +
                ", $28::uuid)))",
            "s.risk_score DESC, s.started_at ASC, s.id ASC"};
  throw std::invalid_argument("unknown sort " + sort);
}

/// An event's text contains the pattern $like (ILIKE, trigram index) or matches the words of $words
/// (full text, the 'simple' configuration: no stemming, so file names and flags match as typed).
std::string eventMatch(int like, int words) {
  return "(e.text ILIKE $" + std::to_string(like) + " OR to_tsvector('simple', e.text) @@ plainto_tsquery('simple', $" +
         std::to_string(words) + "))";
}

}  // namespace

namespace {

/// How a statement applies the text conditions ($9 contains, $10 words, $21/$22 search).
enum class TextMode {
  Window,     // EXISTS per session, over at most kWindow sessions in sort order (bounded work)
  Candidates, // sessions whose events match, found first through the GIN indexes
  NoText,     // text ignored (the window's last row)
  Listing,    // no text at all: the page's ids first, then their rows (late row lookup)
};

// Sessions probed for text in sort order before switching to the indexes: common words fill a
// page within a few dozen sessions; rare ones are found faster from the GIN indexes.
constexpr int kWindow = 400;

/// The filters, sort and keyset of `q` as one statement; the text conditions as `mode` says.
std::string sessionsSql(const Order& order, TextMode mode, const SessionQuery& q) {
  std::string filters =
      "($1::uuid IS NULL OR s.id < $1::uuid)"
      " AND ($3::bigint IS NULL OR s.user_id = $3) AND ($4::bigint IS NULL OR s.account_id = $4)"
      " AND ($5::bigint IS NULL OR s.target_id = $5) AND ($6::bigint IS NULL OR s.safe_id = $6)"
      " AND ($7::text IS NULL OR ($7 = 'active') = (s.ended_at IS NULL))"
      " AND ($8::bigint IS NULL OR s.user_id = $8 OR EXISTS (SELECT 1 FROM safe_members m"
      "      WHERE m.safe_id = s.safe_id AND m.user_id = $8"
      "      AND m.permissions && ARRAY['view_recordings','monitor_live']))"
      " AND ($11::text IS NULL OR s.username = $11) AND ($12::text IS NULL OR s.protocol = $12)"
      " AND ($13::text IS NULL OR s.review_status = $13)"
      " AND ($14::timestamptz IS NULL OR s.started_at >= $14::timestamptz)"
      " AND ($15::timestamptz IS NULL OR s.started_at <= $15::timestamptz)"
      " AND ($16::timestamptz IS NULL OR s.started_at < $16::timestamptz)"
      " AND ($17::int IS NULL OR s.risk_score >= $17) AND ($18::int IS NULL OR s.risk_score <= $18)"
      " AND ($19::bigint IS NULL OR " + kDuration + " >= $19) AND ($20::bigint IS NULL OR " + kDuration + " <= $20)"
      " AND ($23::bigint IS NULL OR (s.review_status = 'unreviewed' AND s.ended_at IS NOT NULL"
      "      AND s.user_id IS DISTINCT FROM $23 AND ($24::boolean OR EXISTS (SELECT 1 FROM safe_members m"
      "      WHERE m.safe_id = s.safe_id AND m.user_id = $23"
      "      AND ($25::boolean OR 'view_recordings' = ANY(m.permissions))))))"
      " AND ($28::uuid IS NULL OR " + order.keyset + ")"
      " AND ($27::bigint IS NULL OR true)";  // every parameter must be typed, whichever the sort
  // In a window the probes must run per session: OFFSET 0 keeps PostgreSQL from turning them into
  // a semi-join that reads every matching event of the table into a hash first (it misjudges
  // how many events match a pattern, by orders of magnitude).
  const std::string fence = mode == TextMode::Window ? " OFFSET 0" : "";
  const std::string contains =
      "($9::text IS NULL OR EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.text ILIKE $9" +
      fence + "))";
  const std::string words =
      "($10::text IS NULL OR EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id"
      " AND to_tsvector('simple', e.text) @@ plainto_tsquery('simple', $10)" + fence + "))";
  const std::string search =
      "($21::text IS NULL OR EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND " + eventMatch(21, 22) +
      fence + "))";
  const std::string typed = "(coalesce($9::text, $10::text, $21::text, $22::text) IS NULL OR true)";
  const std::string select = "SELECT " + kSessionColumns + ", " + kDuration + ", " + kStartedUs;
  const std::string tail = " ORDER BY " + order.order_by + " LIMIT $2";
  switch (mode) {
    case TextMode::NoText:
      return select + " FROM sessions s WHERE " + filters + " AND " + typed + tail;
    case TextMode::Listing:
      // The ids come from an index alone where the filters allow it (e.g. one safe's sessions
      // with risk >= N: `sessions(safe_id, started_at, id) INCLUDE (risk_score)`); only the
      // page's rows are then read from the table, instead of every row the filter rejects.
      return select + " FROM sessions s WHERE s.id IN (SELECT s.id FROM sessions s WHERE " + filters + " AND " +
             typed + tail + ")" + tail;
    case TextMode::Window:
      // The sub-select's LIMIT bounds the sessions probed; its order carries to the outer LIMIT.
      return select + " FROM (SELECT * FROM sessions s WHERE " + filters + " ORDER BY " + order.order_by +
             " LIMIT " + std::to_string(kWindow) + ") s WHERE " + contains + " AND " + words + " AND " + search +
             " AND " + typed + tail;
    case TextMode::Candidates: {
      // One index scan per condition, each rechecking only its own operator (an OR of both would
      // recompute to_tsvector for every trigram candidate); the other conditions are probed on
      // the candidates only.
      std::string hits, rest;
      if (q.search) {
        hits = "SELECT e.session_id FROM session_events e WHERE e.text ILIKE $21"
               " UNION SELECT e.session_id FROM session_events e"
               " WHERE to_tsvector('simple', e.text) @@ plainto_tsquery('simple', $22)";
        rest = contains + " AND " + words;
      } else if (q.text) {
        hits = "SELECT DISTINCT e.session_id FROM session_events e WHERE e.text ILIKE $9";
        rest = words + " AND " + search;
      } else {
        hits = "SELECT DISTINCT e.session_id FROM session_events e"
               " WHERE to_tsvector('simple', e.text) @@ plainto_tsquery('simple', $10)";
        rest = contains + " AND " + search;
      }
      return "WITH hits AS MATERIALIZED (" + hits + ") " + select +
             " FROM sessions s WHERE s.id IN (SELECT session_id FROM hits) AND " + filters + " AND " + rest +
             " AND " + typed + tail;
    }
  }
  throw std::logic_error("text mode");
}

SessionQuery::Key keyOf(const std::string& sort, const SessionRecord& s, std::int64_t started_us) {
  SessionQuery::Key k;
  k.id = s.id;
  if (sort == "started_desc" || sort == "started_asc") k.a = started_us;
  else if (sort == "duration_desc") k.a = *s.duration_ms;
  else k.a = s.risk_score, k.b = started_us;
  return k;
}

}  // namespace

SessionPage Store::querySessions(const SessionQuery& q) {
  const Order order = orderFor(q.sort);
  std::optional<std::string> like, search_like, search_words;
  if (q.text) like = likePattern(*q.text);
  if (q.search) search_like = likePattern(*q.search), search_words = *q.search;
  const bool has_text = q.text || q.words || q.search;

  struct Rows {
    std::vector<SessionRecord> items;
    std::vector<std::int64_t> started_us;
  };
  auto run = [&](pqxx::transaction_base& tx, TextMode mode, const std::optional<SessionQuery::Key>& after,
                 int limit, Rows& out, const std::string& suffix = "") {
    std::optional<std::int64_t> ka, kb;
    std::optional<std::string> kid;
    if (after) ka = after->a, kb = after->b, kid = after->id;
    auto rows = tx.exec_params(sessionsSql(order, mode, q) + suffix, q.before, limit, q.user_id, q.account_id, q.target_id,
                               q.safe_id, q.status, q.visible_to, like, q.words, q.username, q.protocol,
                               q.review_status, q.from, q.to, q.to_before, q.min_risk, q.max_risk, q.min_duration_ms,
                               q.max_duration_ms, search_like, search_words, q.reviewable_by,
                               q.reviewer_is_superuser, q.reviewer_is_auditor, ka, kb, kid);
    for (const auto& row : rows) {
      SessionRecord s = readSession(row);
      s.duration_ms = row[28].as<std::int64_t>();  // after the 28 session columns
      out.started_us.push_back(row[29].as<std::int64_t>());
      out.items.push_back(std::move(s));
    }
  };

  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    Rows rows;
    if (!has_text) {
      run(tx, TextMode::Listing, q.after, q.limit, rows);
    } else {
      // Text: probe the first kWindow sessions in sort order; if that does not fill the page,
      // continue after the window's last session with the sessions the indexes find.
      run(tx, TextMode::Window, q.after, q.limit, rows);
      if (rows.items.size() < static_cast<std::size_t>(q.limit)) {
        Rows last;  // the window's last session: the kWindow-th in sort order after the cursor
        run(tx, TextMode::NoText, q.after, 1, last, " OFFSET " + std::to_string(kWindow - 1));
        if (!last.items.empty()) {
          const auto window_end = keyOf(q.sort, last.items[0], last.started_us[0]);
          // Exact bitmaps: a lossy one rechecks every row of its pages.
          tx.exec("SET work_mem = '64MB'");
          try {
            run(tx, TextMode::Candidates, window_end, q.limit - static_cast<int>(rows.items.size()), rows);
          } catch (...) {
            tx.exec("RESET work_mem");
            throw;
          }
          tx.exec("RESET work_mem");
        }
      }
    }
    SessionPage page;
    page.items = std::move(rows.items);
    if (!page.items.empty() && page.items.size() == static_cast<std::size_t>(q.limit))
      page.next = keyOf(q.sort, page.items.back(), rows.started_us.back());
    return page;
  });
}

std::vector<SearchHit> Store::searchHits(const std::vector<std::string>& session_ids, const std::string& text,
                                         int per_session) {
  if (session_ids.empty()) return {};
  std::string ids = "{";
  for (const auto& id : session_ids) ids += (ids.size() > 1 ? "," : "") + id;
  ids += "}";
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SearchHit> out;
    // Per session through its own index (LATERAL + LIMIT): given the whole id list at once,
    // PostgreSQL preferred the text indexes and read every matching event of the table (0.5 s for
    // a common command on 20 M rows).
    const std::string sql =
        "SELECT h.id, sid::text, h.kind, h.offset_ms, h.at_text, h.text FROM unnest($1::uuid[]) AS sid,"
        " LATERAL (SELECT e.id, e.kind, e.offset_ms, " + rfc3339("e.at") + " AS at_text, e.text"
        " FROM session_events e WHERE e.session_id = sid AND " + eventMatch(3, 4) +
        " ORDER BY e.offset_ms, e.id LIMIT $2) h ORDER BY sid, h.offset_ms, h.id";
    auto rows = tx.exec_params(sql, ids, per_session, likePattern(text), text);
    for (const auto& r : rows) {
      SearchHit h;
      h.event_id = r[0].as<std::int64_t>();
      h.session_id = r[1].c_str();
      h.kind = r[2].c_str();
      h.offset_ms = r[3].as<std::int64_t>();
      h.at = r[4].c_str();
      h.text = r[5].c_str();
      out.push_back(std::move(h));
    }
    return out;
  });
}

std::vector<SessionEvent> Store::listSessionEventsFiltered(const std::string& session_id,
                                                         const std::vector<std::string>& kinds,
                                                         const std::optional<std::string>& text, const Page& page) {
  std::optional<std::string> kind_array;
  if (!kinds.empty()) {
    // Kinds are checked against the known list by the caller; quoted anyway.
    std::string a = "{";
    for (const auto& k : kinds) a += (a.size() > 1 ? ",\"" : "\"") + k + "\"";
    kind_array = a + "}";
  }
  std::optional<std::string> like;
  if (text) like = likePattern(*text);
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SessionEvent> out;
    auto r = tx.exec_params(
        "SELECT id, session_id::text, " + rfc3339("at") + ", offset_ms, kind, text, details::text"
        " FROM session_events WHERE session_id = $1::uuid AND id > $2 AND ($4::text[] IS NULL OR kind = ANY($4::text[]))"
        " AND ($5::text IS NULL OR text ILIKE $5) ORDER BY id LIMIT $3",
        session_id, page.after, page.limit, kind_array, like);
    for (const auto& row : r) {
      out.push_back(readEvent(row));
    }
    return out;
  });
}

std::vector<SessionEvent> Store::sessionEventsOfKind(const std::string& session_id, const std::string& kind,
                                                     int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SessionEvent> out;
    auto r = tx.exec_params("SELECT id, " + rfc3339("at") + ", offset_ms, text, details::text FROM session_events"
                            " WHERE session_id = $1::uuid AND kind = $2 ORDER BY offset_ms, id LIMIT $3",
                            session_id, kind, limit);
    for (const auto& row : r) {
      SessionEvent e;
      e.id = row[0].as<std::int64_t>();
      e.session_id = session_id;
      e.at = row[1].c_str();
      e.offset_ms = row[2].as<std::int64_t>();
      e.kind = kind;
      e.text = row[3].c_str();
      e.details_json = row[4].c_str();
      out.push_back(std::move(e));
    }
    return out;
  });
}

}  // namespace vigil::store
