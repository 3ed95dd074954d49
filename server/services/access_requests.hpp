#pragma once
// Dual authorization (issue 8): access requests to accounts of safes that require approval,
// decided N of M by the safe's approvers (never the requester), and the gate the session core
// asks before a launch token or an identity login. Every change is audited
// (access_request_create/approve/reject/cancel/expire); the audit_log trigger (sql/0005) forwards
// each to the SIEM. Thread-safe; methods block on the database.
#include <cstdint>
#include <optional>
#include <string>

#include "server/store/store.hpp"

namespace vigil::services {

/// A refusal the API maps to an HTTP status (400 validation, 403 forbidden, 404, 409 conflict).
struct AccessRequestError {
  int status = 400;
  std::string code;
  std::string message;
};

/// The outcome of the approval gate for one user, account and safe.
struct ApprovalGate {
  bool ok = true;
  std::string reason;   // audit reason code when refused
  std::string message;  // for the person
  std::optional<std::int64_t> request_id;  // the approved request used (safes that require one)
  bool moderated = false;                  // the safe requires a SOC watcher for the session to run
  std::optional<long long> window_end;     // the approval's window_to (seconds since the epoch): sessions end then
  std::string window_to;                   // the same, as the request shows it
};

class AccessRequests {
 public:
  explicit AccessRequests(store::Store& store) : store_(store) {}

  /// Whether `user` may start a session on `account` now as far as approval goes.
  ApprovalGate gate(const store::User& user, const store::Account& account, const store::Safe& safe);

  struct NewRequest {
    std::int64_t account_id = 0;
    std::string reason;
    std::string ticket_id;
    std::string window_from;  // RFC 3339; '' = now
    std::string window_to;    // RFC 3339
  };
  /// Creates a pending request of `user`; on failure returns nullopt and fills `err`.
  std::optional<store::AccessRequest> create(const store::User& user, const NewRequest& r,
                                             const std::string& source_addr, AccessRequestError& err);
  /// decision: "approve" or "reject". The requester can never decide their own request.
  std::optional<store::AccessRequest> decide(const store::User& user, std::int64_t id, const std::string& decision,
                                             const std::string& comment, const std::string& source_addr,
                                             AccessRequestError& err);
  std::optional<store::AccessRequest> cancel(const store::User& user, std::int64_t id, const std::string& source_addr,
                                             AccessRequestError& err);
  /// True if `user` may see the request: requester, an approver of its safe, a superuser/auditor.
  bool canSee(const store::User& user, const store::AccessRequest& r);
  /// Moves requests whose window ended to expired (audited as access_request_expire by "vigil").
  int expireDue();

 private:
  void audit(const store::User* actor, const std::string& source_addr, const std::string& action,
             const store::AccessRequest& r, const std::string& outcome, const std::string& extra_json = "{}");
  store::Store& store_;
};

}  // namespace vigil::services

namespace vigil::services {
/// The refusal every path gives without an approved request (the portal recognizes it).
inline constexpr const char* kApprovalRequiredMessage = "approval required: request access in the portal";
}  // namespace vigil::services
