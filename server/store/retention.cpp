// Retention (issue 8): which ended sessions are past their safe's retention class, legal holds
// that stop their deletion, the purge itself, and the cold tier bookkeeping.
#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

// Days a safe keeps recordings: the class decides, `custom` uses retention_days.
const std::string kRetentionDays =
    "(CASE sf.retention_class WHEN 'pci' THEN 365 WHEN 'sox' THEN 2555 WHEN 'hipaa' THEN 2190"
    " ELSE sf.retention_days END)";
// Days a recording stays in the hot tier: hot_days, or 90 for PCI (the last 3 months playable).
const std::string kHotDays = "coalesce(sf.hot_days, CASE sf.retention_class WHEN 'pci' THEN 90 END)";

const std::string kNotHeld =
    " NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (h.session_id = s.id"
    " OR h.user_id = s.user_id OR h.safe_id = s.safe_id)) ";

// Sessions whose safe is gone keep the default 90 days of 0001 (no policy to read).
const std::string kDue =
    " FROM sessions s LEFT JOIN safes sf ON sf.id = s.safe_id WHERE s.ended_at IS NOT NULL AND s.purged_at IS NULL"
    " AND s.ended_at < now() - make_interval(days => coalesce(" + kRetentionDays + ", 90)) AND" + kNotHeld;

const std::string kHoldColumns =
    "id, scope, coalesce(session_id::text, ''), user_id, safe_id, reason, created_by, " + rfc3339("created_at") +
    ", coalesce(released_by, ''), coalesce(" + rfc3339("released_at") + ", '')";

LegalHold readHold(const pqxx::row& r) {
  LegalHold h;
  h.id = r[0].as<std::int64_t>();
  h.scope = r[1].c_str();
  h.session_id = r[2].c_str();
  if (!r[3].is_null()) h.user_id = r[3].as<std::int64_t>();
  if (!r[4].is_null()) h.safe_id = r[4].as<std::int64_t>();
  h.reason = r[5].c_str();
  h.created_by = r[6].c_str();
  h.created_at = r[7].c_str();
  h.released_by = r[8].c_str();
  h.released_at = r[9].c_str();
  return h;
}

}  // namespace

LegalHold Store::createLegalHold(const LegalHold& h) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    const std::optional<std::string> sid = h.session_id.empty() ? std::nullopt : std::optional(h.session_id);
    auto r = tx.exec_params("INSERT INTO legal_holds(scope, session_id, user_id, safe_id, reason, created_by)"
                            " VALUES ($1, $2::uuid, $3, $4, $5, $6) RETURNING " + kHoldColumns,
                            h.scope, sid, h.user_id, h.safe_id, h.reason, h.created_by);
    return readHold(r[0]);
  });
}

std::vector<LegalHold> Store::listLegalHolds(bool include_released) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<LegalHold> out;
    for (const auto& row : tx.exec_params("SELECT " + kHoldColumns + " FROM legal_holds WHERE $1 OR released_at IS NULL"
                                          " ORDER BY id DESC LIMIT 1000", include_released))
      out.push_back(readHold(row));
    return out;
  });
}

std::optional<LegalHold> Store::releaseLegalHold(std::int64_t id, const std::string& by) {
  return inTx(*pool_, [&](pqxx::work& tx) -> std::optional<LegalHold> {
    auto r = tx.exec_params("UPDATE legal_holds SET released_at = now(), released_by = $2 WHERE id = $1"
                            " AND released_at IS NULL RETURNING " + kHoldColumns, id, by);
    if (r.empty()) return std::nullopt;
    return readHold(r[0]);
  });
}

std::vector<RetentionCandidate> Store::retentionCandidates(int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<RetentionCandidate> out;
    for (const auto& row : tx.exec_params(
             "SELECT s.id::text, s.safe_name, s.username, " + rfc3339("s.ended_at") + ", s.recording_path,"
             " s.recording_tier, (SELECT count(*) FROM session_events e WHERE e.session_id = s.id)" + kDue +
             " ORDER BY s.ended_at, s.id LIMIT $1", limit))
      out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].c_str(), row[4].c_str(), row[5].c_str(),
                     row[6].as<std::int64_t>()});
    return out;
  });
}

std::int64_t Store::countRetentionCandidates() {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return tx.exec("SELECT count(*)" + kDue)[0][0].as<std::int64_t>();
  });
}

std::optional<std::int64_t> Store::purgeSession(const std::string& session_id, const AuditEntry& e,
                                                const std::function<bool()>& remove_files) {
  return inTx(*pool_, [&](pqxx::work& tx) -> std::optional<std::int64_t> {
    // Locks the row and re-checks: a hold placed since the candidates were listed wins.
    auto due = tx.exec_params("SELECT 1" + kDue + " AND s.id = $1::uuid FOR UPDATE OF s", session_id);
    if (due.empty()) return std::nullopt;
    if (!remove_files()) return std::nullopt;
    const auto n = tx.exec_params("DELETE FROM session_events WHERE session_id = $1::uuid", session_id).affected_rows();
    tx.exec_params0("UPDATE sessions SET purged_at = now(), recording_path = '', recording_bytes = 0"
                    " WHERE id = $1::uuid", session_id);
    tx.exec_params0(
        "INSERT INTO audit_log(actor_id, actor, source_addr, action, object_type, object_id, outcome, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
        e.actor_id, e.actor, e.source_addr, e.action, e.object_type, e.object_id, e.outcome, e.details_json);
    return static_cast<std::int64_t>(n);
  });
}

std::vector<ColdCandidate> Store::coldCandidates(int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<ColdCandidate> out;
    for (const auto& row : tx.exec_params(
             "SELECT s.id::text, s.recording_path FROM sessions s JOIN safes sf ON sf.id = s.safe_id"
             " WHERE s.ended_at IS NOT NULL AND s.purged_at IS NULL AND s.recording_tier = 'hot'"
             " AND s.recording_path <> '' AND " + kHotDays + " IS NOT NULL"
             " AND s.ended_at < now() - make_interval(days => " + kHotDays + ") ORDER BY s.ended_at LIMIT $1",
             limit))
      out.push_back({row[0].c_str(), row[1].c_str()});
    return out;
  });
}

void Store::setRecordingTier(const std::string& session_id, const std::string& tier) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE sessions SET recording_tier = $2 WHERE id = $1::uuid", session_id, tier);
  });
}

}  // namespace vigil::store
