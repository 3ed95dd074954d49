// The access report (issue 8): one row per session with its approval, risk and review.
#include <nlohmann/json.hpp>

#include "server/store/pool.hpp"

namespace vigil::store {

std::vector<AccessReportRow> Store::accessReport(const AccessReportQuery& q) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<AccessReportRow> out;
    auto rows = tx.exec_params(
        "SELECT s.id::text, " + rfc3339("s.started_at") + ", coalesce(" + rfc3339("s.ended_at") + ", ''),"
        " extract(epoch FROM coalesce(s.ended_at, now()) - s.started_at)::bigint,"
        " s.username, s.account_user, s.target_name, s.target_address, s.safe_name, s.protocol, s.client_addr,"
        " s.access_request_id, coalesce(r.reason, ''), coalesce(r.ticket_id, ''),"
        " coalesce((SELECT string_agg(d.approver, ', ' ORDER BY d.id) FROM access_request_decisions d"
        "           WHERE d.request_id = r.id AND d.decision = 'approve'), ''),"
        " s.risk_score, (SELECT count(*) FROM alerts a WHERE a.session_id = s.id)::int, s.review_status,"
        " coalesce((SELECT v.reviewer FROM session_reviews v WHERE v.session_id = s.id ORDER BY v.id DESC LIMIT 1), ''),"
        " s.purged_at IS NOT NULL"
        " FROM sessions s LEFT JOIN access_requests r ON r.id = s.access_request_id"
        " WHERE s.started_at >= $1::timestamptz AND s.started_at < $2::timestamptz"
        " AND (jsonb_array_length($3::jsonb) = 0 OR s.safe_id IN (SELECT jsonb_array_elements_text($3::jsonb)::bigint))"
        " ORDER BY s.started_at, s.id LIMIT $4",
        q.from, q.to, nlohmann::json(q.safe_ids).dump(), q.limit);
    for (const auto& r : rows) {
      AccessReportRow a;
      a.session_id = r[0].c_str();
      a.started_at = r[1].c_str();
      a.ended_at = r[2].c_str();
      a.duration_s = r[3].as<std::int64_t>();
      a.username = r[4].c_str();
      a.account_user = r[5].c_str();
      a.target_name = r[6].c_str();
      a.target_address = r[7].c_str();
      a.safe_name = r[8].c_str();
      a.protocol = r[9].c_str();
      a.client_addr = r[10].c_str();
      if (!r[11].is_null()) a.access_request_id = r[11].as<std::int64_t>();
      a.request_reason = r[12].c_str();
      a.request_ticket = r[13].c_str();
      a.approvers = r[14].c_str();
      a.risk_score = r[15].as<int>();
      a.risk_events = r[16].as<int>();
      a.review_status = r[17].c_str();
      a.reviewer = r[18].c_str();
      a.purged = r[19].as<bool>();
      out.push_back(std::move(a));
    }
    return out;
  });
}

}  // namespace vigil::store
