#pragma once
// The session core's side of the proxy contract (proto::Gatekeeper): who may open which account,
// through launch tokens or identity logins, and the start of a recorded session. Thread-safe;
// methods block on the database (call them from a session's thread). Every refusal is audited
// (`session_refused`, outcome denied, with a reason code), every start (`session_start`).
//
// Authorization is the same on every path: the Vigil user exists and is not locked, holds the
// `connect` permission on the account's safe — a superuser too: roles do not bypass it, a
// superuser who wants to connect is made a member like anyone else — the safe's policy allows
// the protocol, and the account's target speaks the client's protocol.
#include <memory>
#include <optional>
#include <string>

#include "protocols/session.hpp"
#include "server/config.hpp"
#include "server/services/auth_service.hpp"
#include "server/services/risk_monitor.hpp"
#include "server/services/session_event_writer.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

struct IssuedLaunchToken {
  std::string token;  // shown once to its user; only its SHA-256 is stored
  std::string expires_at;
  store::Account account;
  store::SafePolicy policy;  // the account's safe's, as the authorization read it
};

class SessionGatekeeper : public proto::Gatekeeper {
 public:
  SessionGatekeeper(const Config& cfg, store::Store& store, Vault& vault, AuthService& auth);
  ~SessionGatekeeper() override;

  /// Issues a one-time launch token for `user` and the account (the portal's Connect). nullopt
  /// with `error` (a message for the person) when the user may not open it; refusals are audited
  /// as `launch_token_issue` denied, issues as ok (never the token itself).
  std::optional<IssuedLaunchToken> issueLaunchToken(const store::User& user, std::int64_t account_id,
                                                    const std::string& source_addr, std::string& error);

  proto::Grant redeemLaunchToken(std::string_view token, const proto::ClientInfo& client) override;
  proto::Grant loginWithPassword(const proto::IdentityLogin& login, std::string_view password, std::string_view totp,
                                 const proto::ClientInfo& client) override;
  bool userHasPublicKey(std::string_view vigil_user, std::string_view fingerprint) override;
  bool userHasTotp(std::string_view vigil_user) override;
  proto::Grant refuseMissingTotp(const proto::Grant& need_totp, std::string message,
                                 const proto::ClientInfo& client) override;
  proto::Grant loginWithPublicKey(const proto::IdentityLogin& login, std::string_view fingerprint,
                                  std::string_view totp, const proto::ClientInfo& client) override;
  proto::Grant authorizeUser(std::int64_t user_id, std::int64_t account_id, const proto::ClientInfo& client) override;
  std::unique_ptr<proto::Session> startSession(const proto::Grant& grant, const proto::ClientInfo& client,
                                               std::string& error) override;
  bool pinHostKey(std::int64_t target_id, std::string_view fingerprint, std::string_view session_id) override;

  /// Ends this node's sessions left open by a crash (reason `interrupted`); returns how many.
  /// Their recordings stay playable up to the last flush.
  int closeInterruptedSessions();
  /// The shared timeline writer (tests flush it to read what a session wrote).
  SessionEventWriter& eventWriter() { return *events_; }
  /// The risk engine sessions evaluate against (set before the listeners start).
  void setRisk(std::shared_ptr<RiskService> risk) { risk_ = std::move(risk); }

 private:
  struct Check;  // the outcome of the authorization rules
  Check check(const store::User& user, const store::Account& account, const std::string& protocol);
  proto::Grant grantFor(const store::User& user, const store::Account& account, const store::Safe& safe);
  proto::Grant refuse(const std::string& reason, const std::string& message, const proto::ClientInfo& client,
                      const std::string& actor, std::optional<std::int64_t> actor_id,
                      std::optional<std::int64_t> account_id);
  proto::Grant identityLogin(const proto::IdentityLogin& login, const std::optional<std::string_view>& password,
                             std::string_view fingerprint, std::string_view totp, const proto::ClientInfo& client);
  proto::Grant authorizeLoaded(const store::User& user, std::int64_t account_id, const proto::ClientInfo& client);

  const Config& cfg_;
  store::Store& store_;
  Vault& vault_;
  AuthService& auth_;
  std::shared_ptr<SessionEventWriter> events_;
  std::shared_ptr<RiskService> risk_;
};

}  // namespace vigil::services
