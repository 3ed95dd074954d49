#include <algorithm>

#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

std::string userColumns(const std::string& t) {
  const std::string p = t.empty() ? "" : t + ".";
  return p + "id, " + p + "username, " + p + "display_name, array_to_json(" + p + "roles)::text, " + p + "source, coalesce(" +
         p + "password_hash, ''), " + p + "must_change_password, " + p + "totp_enrolled, " + p + "totp_key_id, encode(" + p +
         "totp_wrapped_key, 'hex'), encode(" + p + "totp_ciphertext, 'hex'), " + p + "totp_last_step, " + p +
         "failed_logins, " + p + "locked, coalesce(" + p + "locked_until > now(), false), " + rfc3339(p + "created_at");
}
const std::string kUserColumns = userColumns("");

/// Reads the user columns starting at column `o`.
User readUser(const pqxx::row& row, pqxx::row::size_type o = 0) {
  auto r = [&](pqxx::row::size_type i) { return row[o + i]; };
  User u;
  u.id = r(0).as<std::int64_t>();
  u.username = r(1).c_str();
  u.display_name = r(2).c_str();
  u.roles = fromJsonArray(r(3));
  u.source = r(4).c_str();
  u.password_hash = r(5).c_str();
  u.must_change_password = r(6).as<bool>();
  u.totp_enrolled = r(7).as<bool>();
  if (!r(8).is_null()) u.totp = crypto::Envelope{r(8).c_str(), fromHex(r(9)), fromHex(r(10))};
  if (!r(11).is_null()) u.totp_last_step = r(11).as<std::int64_t>();
  u.failed_logins = r(12).as<int>();
  u.locked = r(13).as<bool>();
  u.lockout_active = r(14).as<bool>();
  u.created_at = r(15).c_str();
  return u;
}

std::optional<User> one(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return readUser(r[0]);
}

}  // namespace

bool User::hasRole(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

std::optional<User> Store::userByName(const std::string& username) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return one(tx.exec_params("SELECT " + kUserColumns + " FROM users WHERE username = $1", username));
  });
}

std::optional<User> Store::userById(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return one(tx.exec_params("SELECT " + kUserColumns + " FROM users WHERE id = $1", id));
  });
}

std::vector<User> Store::listUsers(const Page& page) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<User> out;
    for (const auto& row : tx.exec_params("SELECT " + kUserColumns + " FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                                    page.after, page.limit))
      out.push_back(readUser(row));
    return out;
  });
}

std::int64_t Store::countUsers() {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) { return tx.exec("SELECT count(*) FROM users")[0][0].as<std::int64_t>(); });
}

User Store::createUser(const User& u) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "INSERT INTO users(username, display_name, roles, source, password_hash, must_change_password)"
        " VALUES ($1, $2, $3::text[], $4, nullif($5, ''), $6) RETURNING " + kUserColumns,
        u.username, u.display_name, toPgArray(u.roles), u.source, u.password_hash, u.must_change_password);
    return readUser(r[0]);
  });
}

void Store::updateUser(const User& u) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "UPDATE users SET display_name = $2, roles = $3::text[], password_hash = nullif($4, ''),"
        " must_change_password = $5, locked = $6, updated_at = now() WHERE id = $1",
        u.id, u.display_name, toPgArray(u.roles), u.password_hash, u.must_change_password, u.locked);
  });
}

bool Store::deleteUser(std::int64_t id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM users WHERE id = $1", id).affected_rows() > 0;
  });
}

std::pair<int, bool> Store::recordLoginFailure(std::int64_t id, int threshold, int lockout_minutes) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    // Once a lockout has run out, counting starts again from zero: one more mistake must not
    // lock the user again at once.
    auto r = tx.exec_params(
        "WITH cur AS (SELECT id, CASE WHEN locked_until IS NOT NULL AND locked_until <= now() THEN 0"
        "                        ELSE failed_logins END AS base FROM users WHERE id = $1 FOR UPDATE)"
        " UPDATE users u SET failed_logins = cur.base + 1,"
        " locked_until = CASE WHEN cur.base + 1 >= $2 THEN now() + make_interval(mins => $3)"
        "                     WHEN u.locked_until <= now() THEN NULL ELSE u.locked_until END"
        " FROM cur WHERE u.id = cur.id RETURNING u.failed_logins",
        id, threshold, lockout_minutes);
    int n = r.empty() ? 0 : r[0][0].as<int>();
    return std::pair<int, bool>{n, n == threshold};
  });
}

void Store::clearLockout(std::int64_t id) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1", id);
  });
}

void Store::recordLoginSuccess(std::int64_t id) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1", id);
  });
}

void Store::setTotp(std::int64_t id, const std::optional<crypto::Envelope>& env, bool enrolled) {
  inTx(*pool_, [&](pqxx::work& tx) {
    if (env)
      tx.exec_params0(
          "UPDATE users SET totp_key_id = $2, totp_wrapped_key = $3::bytea, totp_ciphertext = $4::bytea,"
          " totp_enrolled = $5, updated_at = now() WHERE id = $1",
          id, env->master_key_id, toPgBytea(env->wrapped_key), toPgBytea(env->ciphertext), enrolled);
    else
      tx.exec_params0(
          "UPDATE users SET totp_key_id = NULL, totp_wrapped_key = NULL, totp_ciphertext = NULL,"
          " totp_enrolled = false, totp_last_step = NULL, updated_at = now() WHERE id = $1", id);
  });
}

bool Store::advanceTotpStep(std::int64_t id, std::int64_t step) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("UPDATE users SET totp_last_step = $2 WHERE id = $1"
                          " AND (totp_last_step IS NULL OR totp_last_step < $2)", id, step)
               .affected_rows() == 1;
  });
}

User Store::upsertLdapUser(const std::string& username, const std::string& display_name,
                           const std::vector<std::string>& roles) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "INSERT INTO users(username, display_name, roles, source) VALUES ($1, $2, $3::text[], 'ldap')"
        " ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name,"
        " roles = EXCLUDED.roles, updated_at = now() WHERE users.source = 'ldap'"
        " RETURNING " + kUserColumns,
        username, display_name, toPgArray(roles));
    if (r.empty()) throw Conflict("a local user named '" + username + "' already exists");
    return readUser(r[0]);
  });
}

void Store::createPortalSession(const Bytes& token_hash, std::int64_t user_id, const std::string& csrf,
                                const std::string& source_addr, int absolute_hours) {
  inTx(*pool_, [&](pqxx::work& tx) {
    // Expired sessions are swept here rather than by a timer: logins are rare, the table small.
    tx.exec0("DELETE FROM portal_sessions WHERE expires_at < now()");
    tx.exec_params0(
        "INSERT INTO portal_sessions(token_hash, user_id, csrf_token, source_addr, expires_at)"
        " VALUES ($1::bytea, $2, $3, $4, now() + make_interval(hours => $5))",
        toPgBytea(token_hash), user_id, csrf, source_addr, absolute_hours);
  });
}

std::optional<std::pair<PortalSession, User>> Store::touchPortalSession(const Bytes& token_hash, int idle_minutes) {
  auto found = inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return tx.exec_params(
        "SELECT s.csrf_token, s.last_seen < now() - interval '15 seconds', " + userColumns("u") +
        " FROM portal_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1::bytea"
        " AND s.expires_at > now() AND s.last_seen > now() - make_interval(mins => $2)",
        toPgBytea(token_hash), idle_minutes);
  });
  if (found.empty()) return std::nullopt;
  if (found[0][1].as<bool>()) {
    inTx(*pool_, [&](pqxx::work& tx) {
      tx.exec0("SET LOCAL synchronous_commit = off");
      tx.exec_params0("UPDATE portal_sessions SET last_seen = now() WHERE token_hash = $1::bytea", toPgBytea(token_hash));
    });
  }
  User u = readUser(found[0], 2);
  return std::pair<PortalSession, User>{PortalSession{u.id, found[0][0].c_str()}, std::move(u)};
}

void Store::deletePortalSession(const Bytes& token_hash) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("DELETE FROM portal_sessions WHERE token_hash = $1::bytea", toPgBytea(token_hash));
  });
}

void Store::deleteUserPortalSessions(std::int64_t user_id) {
  inTx(*pool_, [&](pqxx::work& tx) { tx.exec_params0("DELETE FROM portal_sessions WHERE user_id = $1", user_id); });
}

}  // namespace vigil::store
