#pragma once
// Records of the compliance features (issue 8): safe approval and retention policy, access
// requests with their decisions, legal holds, and retention candidates.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::store {

/// The safe's dual-authorization and retention settings (columns of `safes`, sql/0006).
struct CompliancePolicy {
  bool requires_approval = false;  // safes.require_dual_authorization
  int approvals_needed = 1;
  std::vector<std::int64_t> approver_user_ids;
  std::string approver_permission = "manage";  // '' = only the listed users
  bool moderated = false;
  std::string retention_class = "custom";  // pci | sox | hipaa | custom
  int retention_days = 90;                 // custom days (the class decides for the others)
  std::optional<int> hot_days;
};

struct AccessDecision {
  std::int64_t approver_id = 0;
  std::string approver;
  std::string decision;  // approve | reject
  std::string comment;
  std::string at;
};

struct AccessRequest {
  std::int64_t id = 0;
  std::int64_t requester_id = 0;
  std::string requester;
  std::int64_t account_id = 0;
  std::string account_user;
  std::string target_name;
  std::int64_t safe_id = 0;
  std::string safe_name;
  std::string reason;
  std::string ticket_id;
  std::string window_from;
  std::string window_to;
  int approvals_needed = 1;
  int approvals = 0;
  std::string status;  // pending | approved | rejected | expired | cancelled
  std::string created_at;
  std::string decided_at;
  std::vector<AccessDecision> decisions;
};

struct AccessRequestFilter {
  std::optional<std::int64_t> requester_id;
  /// Only pending requests this user may decide (approver, not the requester, not yet decided).
  std::optional<std::int64_t> awaiting_approver;
  std::optional<std::string> status;
  int limit = 100;
};

struct LegalHold {
  std::int64_t id = 0;
  std::string scope;  // session | user | safe
  std::string session_id;
  std::optional<std::int64_t> user_id;
  std::optional<std::int64_t> safe_id;
  std::string reason;
  std::string created_by;
  std::string created_at;
  std::string released_by;
  std::string released_at;
};

/// An ended session past its safe's retention and under no active hold.
struct RetentionCandidate {
  std::string session_id;
  std::string safe_name;
  std::string username;
  std::string ended_at;
  std::string recording_path;  // relative; '' if not recorded
  std::string recording_tier;  // hot | cold
  std::int64_t event_count = 0;
};

/// A recording old enough for the cold tier (hot_days passed), not yet moved.
struct ColdCandidate {
  std::string session_id;
  std::string recording_path;
};

/// GET /api/v1/reports/access: sessions started in [from, to) on the given safes (all if empty).
struct AccessReportQuery {
  std::string from;  // RFC 3339
  std::string to;    // RFC 3339
  std::vector<std::int64_t> safe_ids;
  int limit = 100000;
};

/// One session in the access report: who, what, when, how long, under which approval, risk, review.
struct AccessReportRow {
  std::string session_id;
  std::string started_at;
  std::string ended_at;
  std::int64_t duration_s = 0;
  std::string username;
  std::string account_user;
  std::string target_name;
  std::string target_address;
  std::string safe_name;
  std::string protocol;
  std::string client_addr;
  std::optional<std::int64_t> access_request_id;
  std::string request_reason;
  std::string request_ticket;
  std::string approvers;  // "bob, carol"
  int risk_score = 0;
  int risk_events = 0;
  std::string review_status;
  std::string reviewer;   // the latest review's author
  bool purged = false;
};

}  // namespace vigil::store
