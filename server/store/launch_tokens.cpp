// One-time launch tokens: only the SHA-256 is stored; redeeming is a single atomic UPDATE so two
// clients racing with one token cannot both win.
#include "server/store/pool.hpp"

namespace vigil::store {

std::string Store::createLaunchToken(const Bytes& token_hash, std::int64_t user_id, std::int64_t account_id,
                                     int ttl_seconds) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    // Old tokens are swept here rather than by a timer; a day of history is kept for the audit.
    tx.exec0("DELETE FROM launch_tokens WHERE expires_at < now() - interval '1 day'");
    auto r = tx.exec_params(
        "INSERT INTO launch_tokens(token_hash, user_id, account_id, expires_at)"
        " VALUES ($1::bytea, $2, $3, now() + make_interval(secs => $4)) RETURNING " + rfc3339("expires_at"),
        toPgBytea(token_hash), user_id, account_id, ttl_seconds);
    return std::string(r[0][0].c_str());
  });
}

LaunchTokenUse Store::consumeLaunchToken(const Bytes& token_hash, const std::string& used_from) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    LaunchTokenUse u;
    auto r = tx.exec_params(
        "UPDATE launch_tokens SET used_at = now(), used_from = $2 WHERE token_hash = $1::bytea"
        " AND used_at IS NULL AND expires_at > now() RETURNING user_id, account_id",
        toPgBytea(token_hash), used_from);
    if (!r.empty()) {
      u.status = LaunchTokenUse::Status::Ok;
      u.user_id = r[0][0].as<std::int64_t>();
      u.account_id = r[0][1].as<std::int64_t>();
      return u;
    }
    // Why not: only for the audit reason and the message; the token stays unusable either way.
    auto why = tx.exec_params("SELECT used_at IS NOT NULL, user_id, account_id FROM launch_tokens"
                              " WHERE token_hash = $1::bytea", toPgBytea(token_hash));
    if (why.empty()) return u;
    u.status = why[0][0].as<bool>() ? LaunchTokenUse::Status::Used : LaunchTokenUse::Status::Expired;
    u.user_id = why[0][1].as<std::int64_t>();
    u.account_id = why[0][2].as<std::int64_t>();
    return u;
  });
}

}  // namespace vigil::store
