// Recording seals and the audit log's hash chain (sql/0007_sealing.sql).
#include "server/store/pool.hpp"

namespace vigil::store {

void Store::saveRecordingSeal(const RecordingSeal& s) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO recording_seals(session_id, manifest, signature, public_key, chunk_index, chunk_count,"
        " final_hash, file_size, encrypted) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (session_id) DO NOTHING",
        s.session_id, s.manifest, s.signature, s.public_key, s.chunk_index, s.chunk_count, s.final_hash, s.file_size,
        s.encrypted);
  });
}

std::optional<RecordingSeal> Store::recordingSeal(const std::string& session_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<RecordingSeal> {
    auto r = tx.exec_params(
        "SELECT session_id::text, manifest, signature, public_key, chunk_index, chunk_count, final_hash, file_size,"
        " encrypted, " + rfc3339("sealed_at") + " FROM recording_seals WHERE session_id = $1::uuid",
        session_id);
    if (r.empty()) return std::nullopt;
    RecordingSeal s;
    s.session_id = r[0][0].c_str();
    s.manifest = r[0][1].c_str();
    s.signature = r[0][2].c_str();
    s.public_key = r[0][3].c_str();
    s.chunk_index = r[0][4].c_str();
    s.chunk_count = r[0][5].as<std::int64_t>();
    s.final_hash = r[0][6].c_str();
    s.file_size = r[0][7].as<std::int64_t>();
    s.encrypted = r[0][8].as<bool>();
    s.sealed_at = r[0][9].c_str();
    return s;
  });
}

std::vector<AuditChainProblem> Store::verifyAuditChain(std::int64_t& rows, int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<AuditChainProblem> out;
    rows = tx.exec("SELECT count(*) FROM audit_log")[0][0].as<std::int64_t>();
    // Recomputes every row's hash and compares each link with the row before it in chain order.
    auto r = tx.exec_params(
        "WITH c AS (SELECT a.id, a.chain_seq, a.prev_hash, a.row_hash, audit_row_hash(a.prev_hash, a) AS expect,"
        "  lag(a.row_hash) OVER w AS before_hash, lag(a.chain_seq) OVER w AS before_seq, lag(a.id) OVER w AS before_id"
        "  FROM audit_log a WHERE a.chain_seq IS NOT NULL WINDOW w AS (ORDER BY a.chain_seq))"
        " SELECT id, chain_seq, row_hash IS DISTINCT FROM expect AS edited,"
        "  (chain_seq <> coalesce(before_seq, 0) + 1 OR prev_hash IS DISTINCT FROM coalesce(before_hash, repeat('0', 64)))"
        "   AS broken, coalesce(before_id, 0), coalesce(before_seq, 0)"
        " FROM c WHERE row_hash IS DISTINCT FROM expect OR chain_seq <> coalesce(before_seq, 0) + 1"
        "  OR prev_hash IS DISTINCT FROM coalesce(before_hash, repeat('0', 64))"
        " ORDER BY chain_seq LIMIT $1",
        limit);
    for (const auto& row : r) {
      const auto id = row[0].as<std::int64_t>();
      const auto seq = row[1].as<std::int64_t>();
      if (row[2].as<bool>())
        out.push_back({"edited", id, seq, "audit row " + std::to_string(id) + " (chain position " + std::to_string(seq) +
                                              ") does not match its hash: it was edited"});
      if (row[3].as<bool>()) {
        const auto before_id = row[4].as<std::int64_t>();
        const auto before_seq = row[5].as<std::int64_t>();
        std::string d;
        if (seq > before_seq + 1)
          d = std::to_string(seq - before_seq - 1) + " audit row(s) deleted between row " + std::to_string(before_id) +
              " and row " + std::to_string(id) + " (chain positions " + std::to_string(before_seq + 1) + ".." +
              std::to_string(seq - 1) + ")";
        else
          d = "audit row " + std::to_string(id) + " does not link to the row before it (row " +
              std::to_string(before_id) + "): a row was replaced or the chain rewritten";
        out.push_back({"deleted", id, seq, d});
      }
    }
    auto u = tx.exec_params("SELECT id FROM audit_log WHERE chain_seq IS NULL ORDER BY id LIMIT $1", limit);
    for (const auto& row : u) {
      const auto id = row[0].as<std::int64_t>();
      out.push_back({"unchained", id, 0, "audit row " + std::to_string(id) + " is not in the hash chain (inserted with the trigger disabled?)"});
    }
    return out;
  });
}

}  // namespace vigil::store
