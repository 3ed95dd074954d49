// The live SOC's queries: cross-node control by NOTIFY, waiting for a control's timeline event,
// and new alerts for the SOC socket.
#include "server/store/pool.hpp"

namespace vigil::store {

const std::string& Store::url() const { return pool_->url; }

void Store::notify(const std::string& channel, const std::string& payload) {
  inTx(*pool_, [&](pqxx::work& tx) { tx.exec_params("SELECT pg_notify($1, $2)", channel, payload); });
}

std::int64_t Store::lastSessionEventId(const std::string& session_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT coalesce(max(id), 0) FROM session_events WHERE session_id = $1::uuid", session_id);
    return r[0][0].as<std::int64_t>();
  });
}

bool Store::lifecycleActionAfter(const std::string& session_id, std::int64_t after_id, const std::string& action) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params(
        "SELECT 1 FROM session_events WHERE session_id = $1::uuid AND id > $2 AND kind = 'lifecycle'"
        " AND details->>'action' = $3 LIMIT 1",
        session_id, after_id, action);
    return !r.empty();
  });
}

std::vector<Store::AlertBrief> Store::alertsSince(std::int64_t after_id, int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    auto rows = tx.exec_params("SELECT id, " + rfc3339("at") +
                                   ", coalesce(session_id::text, ''), offset_ms, username, rule_id, severity, score,"
                                   " message, matched FROM alerts WHERE id > $1 ORDER BY id LIMIT $2",
                               after_id, limit);
    std::vector<AlertBrief> out;
    for (const auto& r : rows) {
      AlertBrief a;
      a.id = r[0].as<std::int64_t>();
      a.at = r[1].c_str();
      a.session_id = r[2].c_str();
      a.offset_ms = r[3].as<std::int64_t>();
      a.username = r[4].c_str();
      a.rule_id = r[5].c_str();
      a.severity = r[6].c_str();
      a.score = r[7].as<int>();
      a.message = r[8].c_str();
      a.matched = r[9].c_str();
      out.push_back(std::move(a));
    }
    return out;
  });
}

std::int64_t Store::lastAlertId() {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return tx.exec("SELECT coalesce(max(id), 0) FROM alerts")[0][0].as<std::int64_t>();
  });
}

}  // namespace vigil::store
