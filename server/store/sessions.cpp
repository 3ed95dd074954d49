// Proxied sessions and their timeline (commands, file operations, lifecycle, notes).
#include <nlohmann/json.hpp>

#include "server/store/pool.hpp"
#include "server/store/session_rows.hpp"

namespace vigil::store {
const std::string kSessionColumns =
    "s.id::text, s.node, s.user_id, s.username, s.account_id, s.account_user, s.target_id, s.target_name,"
    " s.target_address, s.safe_id, s.safe_name, s.protocol, s.via, s.client_addr, " + rfc3339("s.started_at") +
    ", coalesce(" + rfc3339("s.ended_at") + ", ''), s.end_reason, s.end_detail, s.bytes_from_client,"
    " s.bytes_to_client, s.recording_path, s.recording_bytes, s.command_count, s.risk_score, s.review_status,"
    " s.access_request_id, coalesce(" + rfc3339("s.purged_at") + ", ''), s.recording_tier";

static std::optional<std::int64_t> optId(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

SessionRecord readSession(const pqxx::row& r) {
  SessionRecord s;
  s.id = r[0].c_str();
  s.node = r[1].c_str();
  s.user_id = optId(r[2]);
  s.username = r[3].c_str();
  s.account_id = optId(r[4]);
  s.account_user = r[5].c_str();
  s.target_id = optId(r[6]);
  s.target_name = r[7].c_str();
  s.target_address = r[8].c_str();
  s.safe_id = optId(r[9]);
  s.safe_name = r[10].c_str();
  s.protocol = r[11].c_str();
  s.via = r[12].c_str();
  s.client_addr = r[13].c_str();
  s.started_at = r[14].c_str();
  s.ended_at = r[15].c_str();
  s.end_reason = r[16].c_str();
  s.end_detail = r[17].c_str();
  s.bytes_from_client = r[18].as<std::int64_t>();
  s.bytes_to_client = r[19].as<std::int64_t>();
  s.recording_path = r[20].c_str();
  s.recording_bytes = r[21].as<std::int64_t>();
  s.command_count = r[22].as<int>();
  s.risk_score = r[23].as<int>();
  s.review_status = r[24].c_str();
  s.access_request_id = optId(r[25]);
  s.purged_at = r[26].c_str();
  s.recording_tier = r[27].c_str();
  return s;
}

namespace {

/// A LIKE pattern matching `text` anywhere, with LIKE's wildcards in it taken literally.
std::string containsPattern(const std::string& text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  return p + "%";
}

/// PostgreSQL text and jsonb cannot hold NUL: a NUL a client typed into a path becomes U+FFFD
/// instead of failing the whole batch.
void stripNul(nlohmann::json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    for (std::size_t p; (p = s.find('\0')) != std::string::npos;) s.replace(p, 1, "\xEF\xBF\xBD");
  } else if (j.is_structured()) {
    for (auto& v : j) stripNul(v);
  }
}

void endOne(pqxx::work& tx, const SessionEnd& e, bool& ended) {
  ended = tx.exec_params(
              "UPDATE sessions SET ended_at = now(), end_reason = $2, end_detail = $3, bytes_from_client = $4,"
              " bytes_to_client = $5, recording_bytes = $6, command_count = $7,"
              " recording_path = CASE WHEN $8 THEN recording_path ELSE '' END"
              " WHERE id = $1::uuid AND ended_at IS NULL",
              e.id, e.reason, e.detail, e.bytes_from_client, e.bytes_to_client, e.recording_bytes, e.command_count,
              e.has_recording)
              .affected_rows() == 1;
}

}  // namespace

void Store::insertSession(const SessionRecord& s) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO sessions(id, node, user_id, username, account_id, account_user, target_id, target_name,"
        " target_address, safe_id, safe_name, protocol, via, client_addr, recording_path)"
        " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        s.id, s.node, s.user_id, s.username, s.account_id, s.account_user, s.target_id, s.target_name,
        s.target_address, s.safe_id, s.safe_name, s.protocol, s.via, s.client_addr, s.recording_path);
  });
}

void Store::writeSessionBatch(const std::vector<SessionEvent>& events, const std::vector<SessionEnd>& ends) {
  if (events.empty() && ends.empty()) return;
  inTx(*pool_, [&](pqxx::work& tx) {
    // The timeline is written asynchronously; a crash loses at most one batch, so skip the WAL
    // flush wait (as for portal last_seen). Session ends are in the same transaction.
    if (ends.empty()) tx.exec0("SET LOCAL synchronous_commit = off");
    if (!events.empty()) {
      // One statement per batch: the rows travel as a JSON array, unpacked by the server.
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& e : events) {
        auto d = nlohmann::json::parse(e.details_json, nullptr, false);
        if (d.is_discarded() || !d.is_object()) d = nlohmann::json::object();
        rows.push_back({{"s", e.session_id}, {"o", e.offset_ms}, {"k", e.kind}, {"t", e.text}, {"d", std::move(d)}});
      }
      stripNul(rows);
      tx.exec_params0(
          "INSERT INTO session_events(session_id, offset_ms, kind, text, details)"
          " SELECT (r->>'s')::uuid, (r->>'o')::bigint, r->>'k', r->>'t', r->'d'"
          " FROM jsonb_array_elements($1::jsonb) AS r"
          " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = (r->>'s')::uuid)",
          rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    for (const auto& e : ends) {
      bool ended = false;
      endOne(tx, e, ended);
    }
  });
}

bool Store::endSession(const SessionEnd& e) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    bool ended = false;
    endOne(tx, e, ended);
    return ended;
  });
}

int Store::closeInterruptedSessions(const std::string& node) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return static_cast<int>(
        tx.exec_params("UPDATE sessions SET ended_at = now(), end_reason = 'interrupted',"
                       " end_detail = 'the node stopped while the session was open'"
                       " WHERE node = $1 AND ended_at IS NULL", node)
            .affected_rows());
  });
}

std::vector<SessionRecord> Store::listSessions(const SessionFilter& f) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    // Optional filters are NULLs, so one statement serves every combination.
    const std::string sql =
        "SELECT " + kSessionColumns + " FROM sessions s WHERE ($1::uuid IS NULL OR s.id < $1::uuid)"
        " AND ($3::bigint IS NULL OR s.user_id = $3) AND ($4::bigint IS NULL OR s.account_id = $4)"
        " AND ($5::bigint IS NULL OR s.target_id = $5) AND ($6::bigint IS NULL OR s.safe_id = $6)"
        " AND ($7::text IS NULL OR ($7 = 'active') = (s.ended_at IS NULL))"
        " AND ($8::bigint IS NULL OR s.user_id = $8 OR EXISTS (SELECT 1 FROM safe_members m"
        "      WHERE m.safe_id = s.safe_id AND m.user_id = $8"
        "      AND m.permissions && ARRAY['view_recordings','monitor_live']))"
        " AND ($9::text IS NULL OR EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id"
        "      AND e.text ILIKE $9))"
        " AND ($10::text IS NULL OR EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id"
        "      AND to_tsvector('simple', e.text) @@ plainto_tsquery('simple', $10)))"
        " ORDER BY s.id DESC LIMIT $2";
    std::optional<std::string> like;
    if (f.text) like = containsPattern(*f.text);
    std::vector<SessionRecord> out;
    for (const auto& row : tx.exec_params(sql, f.before, f.limit, f.user_id, f.account_id, f.target_id, f.safe_id,
                                          f.status, f.visible_to, like, f.words))
      out.push_back(readSession(row));
    return out;
  });
}

std::optional<SessionRecord> Store::sessionById(const std::string& id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<SessionRecord> {
    auto r = tx.exec_params("SELECT " + kSessionColumns + " FROM sessions s WHERE s.id = $1::uuid", id);
    if (r.empty()) return std::nullopt;
    return readSession(r[0]);
  });
}

SessionEvent readEvent(const pqxx::row& row) {
  SessionEvent e;
  e.id = row[0].as<std::int64_t>();
  e.session_id = row[1].c_str();
  e.at = row[2].c_str();
  e.offset_ms = row[3].as<std::int64_t>();
  e.kind = row[4].c_str();
  e.text = row[5].c_str();
  e.details_json = row[6].c_str();
  return e;
}

std::vector<SessionEvent> Store::listSessionEvents(const std::string& session_id,
                                                   const std::optional<std::string>& kind, const Page& page) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SessionEvent> out;
    auto r = tx.exec_params(
        "SELECT id, session_id::text, " + rfc3339("at") + ", offset_ms, kind, text, details::text"
        " FROM session_events WHERE session_id = $1::uuid AND id > $2 AND ($4::text IS NULL OR kind = $4)"
        " ORDER BY id LIMIT $3",
        session_id, page.after, page.limit, kind);
    for (const auto& row : r) {
      out.push_back(readEvent(row));
    }
    return out;
  });
}

}  // namespace vigil::store
