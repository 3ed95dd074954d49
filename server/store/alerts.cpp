// Risk alerts, the sessions' risk score and the risk engine's user lock.
#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

const std::string kAlertColumns = "id, " + rfc3339("at") + ", coalesce(session_id::text, ''), offset_ms, user_id,"
                                  " username, rule_id, severity, score, array_to_json(actions)::text, message, matched,"
                                  " status, acknowledged_by, coalesce(" + rfc3339("acknowledged_at") + ", '')";

Alert readAlert(const pqxx::row& r) {
  Alert a;
  a.id = r[0].as<std::int64_t>();
  a.at = r[1].c_str();
  a.session_id = r[2].c_str();
  a.offset_ms = r[3].as<std::int64_t>();
  if (!r[4].is_null()) a.user_id = r[4].as<std::int64_t>();
  a.username = r[5].c_str();
  a.rule_id = r[6].c_str();
  a.severity = r[7].c_str();
  a.score = r[8].as<int>();
  a.actions = fromJsonArray(r[9]);
  a.message = r[10].c_str();
  a.matched = r[11].c_str();
  a.status = r[12].c_str();
  a.acknowledged_by = r[13].c_str();
  a.acknowledged_at = r[14].c_str();
  return a;
}

}  // namespace

std::int64_t Store::insertAlert(const Alert& a) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx
        .exec_params1(
            "INSERT INTO alerts(session_id, offset_ms, user_id, username, rule_id, severity, score, actions,"
            " message, matched) VALUES (NULLIF($1, '')::uuid, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10)"
            " RETURNING id",
            a.session_id, a.offset_ms, a.user_id, a.username, a.rule_id, a.severity, a.score, toPgArray(a.actions),
            a.message, a.matched)[0]
        .as<std::int64_t>();
  });
}

std::vector<Alert> Store::listAlerts(const AlertFilter& f) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::string sql = "SELECT " + kAlertColumns + " FROM alerts WHERE ($1::text IS NULL OR status = $1)"
                      " AND ($2::text IS NULL OR session_id = $2::uuid) AND ($3::bigint IS NULL OR id > $3)";
    sql += f.since_id ? " ORDER BY id ASC" : " ORDER BY id DESC";
    sql += " LIMIT " + std::to_string(std::clamp(f.limit, 1, 1000));
    std::vector<Alert> out;
    for (const auto& r : tx.exec_params(sql, f.status, f.session_id, f.since_id)) out.push_back(readAlert(r));
    return out;
  });
}

std::optional<Alert> Store::acknowledgeAlert(std::int64_t id, const std::string& by) {
  return inTx(*pool_, [&](pqxx::work& tx) -> std::optional<Alert> {
    auto rows = tx.exec_params(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now()"
        " WHERE id = $1 RETURNING " + kAlertColumns, id, by);
    if (rows.empty()) return std::nullopt;
    return readAlert(rows[0]);
  });
}

void Store::addSessionRiskScore(const std::string& session_id, int delta) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE sessions SET risk_score = risk_score + $2 WHERE id = $1::uuid", session_id, delta);
  });
}

bool Store::setUserLocked(std::int64_t user_id, bool locked) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("UPDATE users SET locked = $2, updated_at = now() WHERE id = $1", user_id, locked)
               .affected_rows() == 1;
  });
}

}  // namespace vigil::store
