// Dual authorization (issue 8): the safe's approval policy, access requests and their N-of-M
// decisions. Arrays cross the wire as JSON text (libpqxx 6 has no array binding).
#include <nlohmann/json.hpp>

#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

const std::string kRequestColumns =
    "r.id, r.requester_id, r.requester, r.account_id, a.username, t.name, r.safe_id, s.name, r.reason, r.ticket_id, " +
    rfc3339("r.window_from") + ", " + rfc3339("r.window_to") + ", r.approvals_needed,"
    " (SELECT count(*) FROM access_request_decisions d WHERE d.request_id = r.id AND d.decision = 'approve'),"
    " r.status, " + rfc3339("r.created_at") + ", coalesce(" + rfc3339("r.decided_at") + ", '')";
const std::string kRequestFrom =
    " FROM access_requests r JOIN accounts a ON a.id = r.account_id JOIN targets t ON t.id = a.target_id"
    " JOIN safes s ON s.id = r.safe_id ";

// Whether user $U may decide requests of safe r.safe_id (listed, or a member with the permission).
const std::string kIsApprover =
    "(u_id = ANY(s.approver_user_ids) OR (s.approver_permission <> '' AND EXISTS (SELECT 1 FROM safe_members m"
    " WHERE m.safe_id = s.id AND m.user_id = u_id AND s.approver_permission = ANY(m.permissions))))";

std::string approverCheck(const std::string& param) {
  std::string out = kIsApprover;
  for (std::size_t p; (p = out.find("u_id")) != std::string::npos;) out.replace(p, 4, param);
  return out;
}

AccessRequest readRequest(const pqxx::row& r) {
  AccessRequest a;
  a.id = r[0].as<std::int64_t>();
  a.requester_id = r[1].as<std::int64_t>();
  a.requester = r[2].c_str();
  a.account_id = r[3].as<std::int64_t>();
  a.account_user = r[4].c_str();
  a.target_name = r[5].c_str();
  a.safe_id = r[6].as<std::int64_t>();
  a.safe_name = r[7].c_str();
  a.reason = r[8].c_str();
  a.ticket_id = r[9].c_str();
  a.window_from = r[10].c_str();
  a.window_to = r[11].c_str();
  a.approvals_needed = r[12].as<int>();
  a.approvals = r[13].as<int>();
  a.status = r[14].c_str();
  a.created_at = r[15].c_str();
  a.decided_at = r[16].c_str();
  return a;
}

template <class Tx>
void loadDecisions(Tx& tx, AccessRequest& a) {
  for (const auto& row : tx.exec_params(
           "SELECT approver_id, approver, decision, comment, " + rfc3339("at") +
               " FROM access_request_decisions WHERE request_id = $1 ORDER BY id",
           a.id))
    a.decisions.push_back({row[0].template as<std::int64_t>(), row[1].c_str(), row[2].c_str(), row[3].c_str(), row[4].c_str()});
}

template <class Tx>
std::optional<AccessRequest> requestIn(Tx& tx, std::int64_t id) {
  auto r = tx.exec_params("SELECT " + kRequestColumns + kRequestFrom + "WHERE r.id = $1", id);
  if (r.empty()) return std::nullopt;
  auto a = readRequest(r[0]);
  loadDecisions(tx, a);
  return a;
}

}  // namespace

std::optional<CompliancePolicy> Store::compliancePolicy(std::int64_t safe_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<CompliancePolicy> {
    auto r = tx.exec_params(
        "SELECT require_dual_authorization, approvals_needed, array_to_json(approver_user_ids)::text,"
        " approver_permission, moderated, retention_class, retention_days, hot_days FROM safes WHERE id = $1",
        safe_id);
    if (r.empty()) return std::nullopt;
    CompliancePolicy p;
    p.requires_approval = r[0][0].as<bool>();
    p.approvals_needed = r[0][1].as<int>();
    p.approver_user_ids = nlohmann::json::parse(r[0][2].c_str()).get<std::vector<std::int64_t>>();
    p.approver_permission = r[0][3].c_str();
    p.moderated = r[0][4].as<bool>();
    p.retention_class = r[0][5].c_str();
    p.retention_days = r[0][6].as<int>();
    if (!r[0][7].is_null()) p.hot_days = r[0][7].as<int>();
    return p;
  });
}

void Store::setCompliancePolicy(std::int64_t safe_id, const CompliancePolicy& p) {
  inTx(*pool_, [&](pqxx::work& tx) {
    const std::optional<int> hot = p.hot_days;
    tx.exec_params0(
        "UPDATE safes SET require_dual_authorization = $2, approvals_needed = $3,"
        " approver_user_ids = ARRAY(SELECT jsonb_array_elements_text($4::jsonb)::bigint), approver_permission = $5,"
        " moderated = $6, retention_class = $7, retention_days = $8, hot_days = $9, updated_at = now() WHERE id = $1",
        safe_id, p.requires_approval, p.approvals_needed, nlohmann::json(p.approver_user_ids).dump(),
        p.approver_permission, p.moderated, p.retention_class, p.retention_days, hot);
  });
}

std::vector<std::int64_t> Store::approversOf(std::int64_t safe_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<std::int64_t> out;
    for (const auto& row : tx.exec_params("SELECT u.id FROM users u, safes s WHERE s.id = $1 AND " +
                                              approverCheck("u.id") + " ORDER BY u.id",
                                          safe_id))
      out.push_back(row[0].as<std::int64_t>());
    return out;
  });
}

AccessRequest Store::createAccessRequest(const AccessRequest& a) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "INSERT INTO access_requests(requester_id, requester, account_id, safe_id, reason, ticket_id, window_from,"
        " window_to, approvals_needed) SELECT $1, $2, $3, a.safe_id, $4, $5, $6::timestamptz, $7::timestamptz,"
        " s.approvals_needed FROM accounts a JOIN safes s ON s.id = a.safe_id WHERE a.id = $3 RETURNING id",
        a.requester_id, a.requester, a.account_id, a.reason, a.ticket_id, a.window_from, a.window_to);
    if (r.empty()) throw InUse("the account no longer exists");
    return *requestIn(tx, r[0][0].as<std::int64_t>());
  });
}

std::optional<AccessRequest> Store::accessRequestById(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) { return requestIn(tx, id); });
}

std::vector<AccessRequest> Store::listAccessRequests(const AccessRequestFilter& f) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<AccessRequest> out;
    const std::optional<std::int64_t> req = f.requester_id, appr = f.awaiting_approver;
    const std::optional<std::string> status = f.status;
    auto rows = tx.exec_params(
        "SELECT " + kRequestColumns + kRequestFrom +
            "WHERE ($1::bigint IS NULL OR r.requester_id = $1) AND ($3::text IS NULL OR r.status = $3)"
            " AND ($2::bigint IS NULL OR (r.status = 'pending' AND r.requester_id <> $2 AND " +
            approverCheck("$2") +
            " AND NOT EXISTS (SELECT 1 FROM access_request_decisions d WHERE d.request_id = r.id"
            " AND d.approver_id = $2))) ORDER BY r.id DESC LIMIT $4",
        req, appr, status, f.limit);
    for (const auto& row : rows) out.push_back(readRequest(row));
    for (auto& a : out) loadDecisions(tx, a);
    return out;
  });
}

std::optional<AccessRequest> Store::decideAccessRequest(std::int64_t id, std::int64_t approver_id,
                                                        const std::string& approver, const std::string& decision,
                                                        const std::string& comment) {
  return inTx(*pool_, [&](pqxx::work& tx) -> std::optional<AccessRequest> {
    // The row lock orders concurrent decisions: the N-th approval sees the N-1 before it.
    auto cur = tx.exec_params("SELECT status, approvals_needed FROM access_requests WHERE id = $1 FOR UPDATE", id);
    if (cur.empty() || std::string(cur[0][0].c_str()) != "pending") return std::nullopt;
    const int needed = cur[0][1].as<int>();
    tx.exec_params0("INSERT INTO access_request_decisions(request_id, approver_id, approver, decision, comment)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    id, approver_id, approver, decision, comment);
    if (decision == "reject") {
      tx.exec_params0("UPDATE access_requests SET status = 'rejected', decided_at = now() WHERE id = $1", id);
    } else {
      auto n = tx.exec_params("SELECT count(*) FROM access_request_decisions WHERE request_id = $1"
                              " AND decision = 'approve'", id)[0][0].as<int>();
      if (n >= needed)
        tx.exec_params0("UPDATE access_requests SET status = 'approved', decided_at = now() WHERE id = $1", id);
    }
    return requestIn(tx, id);
  });
}

bool Store::cancelAccessRequest(std::int64_t id, std::int64_t requester_id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("UPDATE access_requests SET status = 'cancelled', decided_at = now() WHERE id = $1"
                          " AND requester_id = $2 AND status IN ('pending','approved')",
                          id, requester_id).affected_rows() > 0;
  });
}

std::vector<AccessRequest> Store::expireAccessRequests() {
  return inTx(*pool_, [&](pqxx::work& tx) {
    std::vector<AccessRequest> out;
    auto ids = tx.exec("UPDATE access_requests SET status = 'expired', decided_at = now()"
                       " WHERE status IN ('pending','approved') AND window_to <= now() RETURNING id");
    for (const auto& row : ids)
      if (auto a = requestIn(tx, row[0].as<std::int64_t>())) out.push_back(std::move(*a));
    return out;
  });
}

std::optional<std::int64_t> Store::usableAccessRequest(std::int64_t user_id, std::int64_t account_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<std::int64_t> {
    auto r = tx.exec_params("SELECT id FROM access_requests WHERE requester_id = $1 AND account_id = $2"
                            " AND status = 'approved' AND window_from <= now() AND window_to > now()"
                            " ORDER BY window_to DESC LIMIT 1",
                            user_id, account_id);
    if (r.empty()) return std::nullopt;
    return r[0][0].as<std::int64_t>();
  });
}

void Store::setSessionAccessRequest(const std::string& session_id, std::int64_t request_id) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE sessions SET access_request_id = $2 WHERE id = $1::uuid", session_id, request_id);
  });
}

}  // namespace vigil::store
