// Users' SSH public keys, for identity logins with a key at the SSH proxy.
#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

const std::string kKeyColumns =
    "k.id, k.user_id, k.algorithm, k.fingerprint, k.public_key, k.comment, " + rfc3339("k.created_at");

SshKey readKey(const pqxx::row& r) {
  SshKey k;
  k.id = r[0].as<std::int64_t>();
  k.user_id = r[1].as<std::int64_t>();
  k.algorithm = r[2].c_str();
  k.fingerprint = r[3].c_str();
  k.public_key = r[4].c_str();
  k.comment = r[5].c_str();
  k.created_at = r[6].c_str();
  return k;
}

}  // namespace

SshKey Store::addSshKey(const SshKey& k) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return readKey(tx.exec_params(
        "INSERT INTO user_ssh_keys AS k(user_id, algorithm, fingerprint, public_key, comment)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING " + kKeyColumns,
        k.user_id, k.algorithm, k.fingerprint, k.public_key, k.comment)[0]);
  });
}

std::vector<SshKey> Store::listSshKeys(std::int64_t user_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SshKey> out;
    for (const auto& row : tx.exec_params("SELECT " + kKeyColumns + " FROM user_ssh_keys k WHERE k.user_id = $1"
                                          " ORDER BY k.id", user_id))
      out.push_back(readKey(row));
    return out;
  });
}

bool Store::deleteSshKey(std::int64_t user_id, std::int64_t key_id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM user_ssh_keys WHERE id = $1 AND user_id = $2", key_id, user_id)
               .affected_rows() > 0;
  });
}

std::optional<SshKey> Store::sshKeyOf(const std::string& username, const std::string& fingerprint) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<SshKey> {
    auto r = tx.exec_params("SELECT " + kKeyColumns + " FROM user_ssh_keys k JOIN users u ON u.id = k.user_id"
                            " WHERE u.username = $1 AND k.fingerprint = $2", username, fingerprint);
    if (r.empty()) return std::nullopt;
    return readKey(r[0]);
  });
}

}  // namespace vigil::store
