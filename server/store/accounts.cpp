#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

const std::string kAccountSelect =
    "SELECT a.id, a.safe_id, s.name, a.target_id, t.name, t.protocol, t.address, t.port, a.username,"
    " a.secret_kind, a.description, " + rfc3339("a.created_at") + ", " + rfc3339("a.updated_at") +
    " FROM accounts a JOIN safes s ON s.id = a.safe_id JOIN targets t ON t.id = a.target_id ";

Account readAccount(const pqxx::row& r) {
  Account a;
  a.id = r[0].as<std::int64_t>();
  a.safe_id = r[1].as<std::int64_t>();
  a.safe_name = r[2].c_str();
  a.target_id = r[3].as<std::int64_t>();
  a.target_name = r[4].c_str();
  a.protocol = r[5].c_str();
  a.address = r[6].c_str();
  a.port = r[7].as<int>();
  a.username = r[8].c_str();
  a.secret_kind = r[9].c_str();
  a.description = r[10].c_str();
  a.created_at = r[11].c_str();
  a.updated_at = r[12].c_str();
  return a;
}

}  // namespace

std::vector<Account> Store::listAccounts(const Page& page, const AccountFilter& f) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    // Optional filters are passed as NULLs so one statement serves every combination.
    std::string sql = kAccountSelect +
        "WHERE a.id > $1 AND ($3::bigint IS NULL OR a.safe_id = $3)"
        " AND ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM safe_members m WHERE m.safe_id = a.safe_id"
        "      AND m.user_id = $4 AND ($5::text IS NULL OR $5 = ANY(m.permissions))))"
        " AND (NOT $6 OR t.protocol = ANY(s.allowed_protocols))"
        " ORDER BY a.id LIMIT $2";
    std::vector<Account> out;
    for (const auto& row : tx.exec_params(sql, page.after, page.limit, f.safe_id, f.member_user_id,
                                    f.required_permission, f.only_allowed_protocols))
      out.push_back(readAccount(row));
    return out;
  });
}

std::optional<Account> Store::accountById(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<Account> {
    auto r = tx.exec_params(kAccountSelect + "WHERE a.id = $1", id);
    if (r.empty()) return std::nullopt;
    return readAccount(r[0]);
  });
}

std::optional<Account> Store::accountByTargetAndUser(const std::string& target_name, const std::string& username) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<Account> {
    auto r = tx.exec_params(kAccountSelect + "WHERE t.name = $1 AND a.username = $2", target_name, username);
    if (r.empty()) return std::nullopt;
    return readAccount(r[0]);
  });
}

bool Store::pinHostKey(std::int64_t target_id, const std::string& fingerprint) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    // Compare-and-set: two first connects racing with different keys cannot both pin; racing with
    // the same key (several people's first sessions at once) both succeed.
    return tx.exec_params("UPDATE targets SET host_key_fingerprint = $2, updated_at = now()"
                          " WHERE id = $1 AND host_key_fingerprint IN ('', $2)", target_id, fingerprint)
               .affected_rows() == 1;
  });
}

bool Store::pinCertificate(std::int64_t target_id, const std::string& hex_fingerprint) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("UPDATE targets SET certificate_fingerprint = $2, updated_at = now()"
                          " WHERE id = $1 AND certificate_fingerprint IN ('', $2) AND host_key_fingerprint = ''",
                          target_id, hex_fingerprint)
               .affected_rows() == 1;
  });
}

Account Store::createAccount(const Account& a, const std::function<crypto::Envelope(std::int64_t)>& seal) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    // The id is the encryption's associated data, so take it from the sequence before sealing.
    auto id = tx.exec("SELECT nextval('accounts_id_seq')")[0][0].as<std::int64_t>();
    crypto::Envelope env = seal(id);
    tx.exec_params0(
        "INSERT INTO accounts(id, safe_id, target_id, username, description, secret_kind, secret_key_id,"
        " secret_wrapped_key, secret_ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bytea, $9::bytea)",
        id, a.safe_id, a.target_id, a.username, a.description, a.secret_kind, env.master_key_id,
        toPgBytea(env.wrapped_key), toPgBytea(env.ciphertext));
    return readAccount(tx.exec_params(kAccountSelect + "WHERE a.id = $1", id)[0]);
  });
}

void Store::updateAccount(const Account& a) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE accounts SET username = $2, description = $3, target_id = $4, updated_at = now()"
                    " WHERE id = $1", a.id, a.username, a.description, a.target_id);
  });
}

void Store::setAccountSecret(std::int64_t id, const std::string& kind, const crypto::Envelope& env) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "UPDATE accounts SET secret_kind = $2, secret_key_id = $3, secret_wrapped_key = $4::bytea,"
        " secret_ciphertext = $5::bytea, updated_at = now() WHERE id = $1",
        id, kind, env.master_key_id, toPgBytea(env.wrapped_key), toPgBytea(env.ciphertext));
  });
}

std::optional<crypto::Envelope> Store::accountSecret(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<crypto::Envelope> {
    auto r = tx.exec_params("SELECT secret_key_id, encode(secret_wrapped_key, 'hex'), encode(secret_ciphertext, 'hex')"
                            " FROM accounts WHERE id = $1", id);
    if (r.empty()) return std::nullopt;
    return crypto::Envelope{r[0][0].c_str(), fromHex(r[0][1]), fromHex(r[0][2])};
  });
}

bool Store::deleteAccount(std::int64_t id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM accounts WHERE id = $1", id).affected_rows() > 0;
  });
}

std::vector<std::pair<std::string, Bytes>> Store::vaultKeyChecks() {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<std::pair<std::string, Bytes>> out;
    for (const auto& row : tx.exec("SELECT key_id, encode(key_check, 'hex') FROM vault_keys WHERE retired_at IS NULL"))
      out.emplace_back(row[0].c_str(), fromHex(row[1]));
    return out;
  });
}

void Store::addVaultKey(const std::string& key_id, const Bytes& check) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("INSERT INTO vault_keys(key_id, key_check) VALUES ($1, $2::bytea) ON CONFLICT DO NOTHING",
                    key_id, toPgBytea(check));
  });
}

void Store::retireVaultKeysExcept(const std::string& key_id) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE vault_keys SET retired_at = now() WHERE key_id <> $1 AND retired_at IS NULL", key_id);
  });
}

std::vector<Store::WrappedSecret> Store::secretsNotUnder(const std::string& current_id, int limit) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<WrappedSecret> out;
    auto r = tx.exec_params(
        "(SELECT 'accounts', id, secret_key_id, encode(secret_wrapped_key, 'hex'), encode(secret_ciphertext, 'hex'), ''"
        "  FROM accounts WHERE secret_key_id <> $1 ORDER BY id LIMIT $2)"
        " UNION ALL "
        "(SELECT 'users', id, totp_key_id, encode(totp_wrapped_key, 'hex'), encode(totp_ciphertext, 'hex'), ''"
        "  FROM users WHERE totp_key_id IS NOT NULL AND totp_key_id <> $1 ORDER BY id LIMIT $2)"
        " UNION ALL "
        "(SELECT 'recording_keys', id, key_id, encode(wrapped_key, 'hex'), encode(ciphertext, 'hex'), session_id::text"
        "  FROM recording_keys WHERE key_id <> $1 ORDER BY id LIMIT $2)",
        current_id, limit);
    for (const auto& row : r)
      out.push_back({row[0].c_str(), row[1].as<std::int64_t>(),
                     crypto::Envelope{row[2].c_str(), fromHex(row[3]), fromHex(row[4])}, row[5].c_str()});
    return out;
  });
}

bool Store::rewrapSecret(const WrappedSecret& old_row, const crypto::Envelope& rewrapped) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    // Compare-and-set on the old key id and data key: a secret rotated meanwhile (even one sealed
    // under the old key just before the rekey began) is left alone; the next pass re-reads it.
    const std::string sql =
        old_row.table == "accounts"
            ? "UPDATE accounts SET secret_key_id = $2, secret_wrapped_key = $3::bytea WHERE id = $1 AND secret_key_id = $4"
              " AND secret_wrapped_key = $5::bytea"
        : old_row.table == "users"
            ? "UPDATE users SET totp_key_id = $2, totp_wrapped_key = $3::bytea WHERE id = $1 AND totp_key_id = $4"
              " AND totp_wrapped_key = $5::bytea"
            : "UPDATE recording_keys SET key_id = $2, wrapped_key = $3::bytea WHERE id = $1 AND key_id = $4"
              " AND wrapped_key = $5::bytea";
    return tx.exec_params(sql, old_row.id, rewrapped.master_key_id, toPgBytea(rewrapped.wrapped_key),
                          old_row.env.master_key_id, toPgBytea(old_row.env.wrapped_key)).affected_rows() == 1;
  });
}

std::int64_t Store::countSecretsNotUnder(const std::string& current_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    return tx.exec_params(
        "SELECT (SELECT count(*) FROM accounts WHERE secret_key_id <> $1)"
        " + (SELECT count(*) FROM users WHERE totp_key_id IS NOT NULL AND totp_key_id <> $1)"
        " + (SELECT count(*) FROM recording_keys WHERE key_id <> $1)",
        current_id)[0][0].as<std::int64_t>();
  });
}

void Store::insertRecordingKey(const std::string& session_id, const crypto::Envelope& env) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0("INSERT INTO recording_keys(session_id, key_id, wrapped_key, ciphertext)"
                    " VALUES ($1::uuid, $2, $3::bytea, $4::bytea)",
                    session_id, env.master_key_id, toPgBytea(env.wrapped_key), toPgBytea(env.ciphertext));
  });
}

std::optional<crypto::Envelope> Store::recordingKey(const std::string& session_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<crypto::Envelope> {
    auto r = tx.exec_params("SELECT key_id, encode(wrapped_key, 'hex'), encode(ciphertext, 'hex') FROM recording_keys"
                            " WHERE session_id = $1::uuid",
                            session_id);
    if (r.empty()) return std::nullopt;
    return crypto::Envelope{r[0][0].c_str(), fromHex(r[0][1]), fromHex(r[0][2])};
  });
}

void Store::audit(const AuditEntry& e) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO audit_log(actor_id, actor, source_addr, action, object_type, object_id, outcome, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
        e.actor_id, e.actor, e.source_addr, e.action, e.object_type, e.object_id, e.outcome, e.details_json);
  });
}

std::vector<AuditEntry> Store::listAudit(const Page& page, const AuditFilter& f) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<AuditEntry> out;
    auto r = tx.exec_params(
        "SELECT id, " + rfc3339("at") + ", actor_id, actor, source_addr, action, object_type, object_id, outcome,"
        " details::text FROM audit_log WHERE id > $1 AND ($3::text IS NULL OR actor = $3)"
        " AND ($4::text IS NULL OR action = $4) ORDER BY id LIMIT $2",
        page.after, page.limit, f.actor, f.action);
    for (const auto& row : r) {
      AuditEntry e;
      e.id = row[0].as<std::int64_t>();
      e.at = row[1].c_str();
      if (!row[2].is_null()) e.actor_id = row[2].as<std::int64_t>();
      e.actor = row[3].c_str();
      e.source_addr = row[4].c_str();
      e.action = row[5].c_str();
      e.object_type = row[6].c_str();
      e.object_id = row[7].c_str();
      e.outcome = row[8].c_str();
      e.details_json = row[9].c_str();
      out.push_back(std::move(e));
    }
    return out;
  });
}

}  // namespace vigil::store
