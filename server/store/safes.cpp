#include "server/store/pool.hpp"

namespace vigil::store {
namespace {

const std::string kSafeColumns =
    "s.id, s.name, s.description, s.record_sessions, s.live_monitoring, s.require_dual_authorization,"
    " s.retention_days, array_to_json(s.allowed_protocols)::text, " + rfc3339("s.created_at") +
    ", s.allow_file_transfer, s.allow_port_forwarding, s.allow_agent_forwarding, s.allow_x11_forwarding,"
    " s.trust_on_first_use, s.encrypt_recordings, s.video_max_fps, s.video_quality, s.video_codec, s.clipboard";

Safe readSafe(const pqxx::row& r) {
  Safe s;
  s.id = r[0].as<std::int64_t>();
  s.name = r[1].c_str();
  s.description = r[2].c_str();
  s.policy.record_sessions = r[3].as<bool>();
  s.policy.live_monitoring = r[4].as<bool>();
  s.policy.require_dual_authorization = r[5].as<bool>();
  s.policy.retention_days = r[6].as<int>();
  s.policy.allowed_protocols = fromJsonArray(r[7]);
  s.created_at = r[8].c_str();
  s.policy.allow_file_transfer = r[9].as<bool>();
  s.policy.allow_port_forwarding = r[10].as<bool>();
  s.policy.allow_agent_forwarding = r[11].as<bool>();
  s.policy.allow_x11_forwarding = r[12].as<bool>();
  s.policy.trust_on_first_use = r[13].as<bool>();
  s.policy.encrypt_recordings = r[14].as<bool>();
  s.policy.video_max_fps = r[15].as<int>();
  s.policy.video_quality = r[16].c_str();
  s.policy.video_codec = r[17].c_str();
  s.policy.clipboard = r[18].c_str();
  return s;
}

SafeMember readMember(const pqxx::row& r) {
  return SafeMember{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].c_str(), fromJsonArray(r[3])};
}

const std::string kMemberSelect =
    "SELECT m.safe_id, m.user_id, u.username, array_to_json(m.permissions)::text"
    " FROM safe_members m JOIN users u ON u.id = m.user_id ";

const std::string kTargetColumns =
    "id, name, protocol, address, port, host_key_fingerprint, certificate_fingerprint, description, " +
    rfc3339("created_at");

Target readTarget(const pqxx::row& r) {
  Target t;
  t.id = r[0].as<std::int64_t>();
  t.name = r[1].c_str();
  t.protocol = r[2].c_str();
  t.address = r[3].c_str();
  t.port = r[4].as<int>();
  t.host_key_fingerprint = r[5].c_str();
  t.certificate_fingerprint = r[6].c_str();
  t.description = r[7].c_str();
  t.created_at = r[8].c_str();
  return t;
}

}  // namespace

std::vector<Safe> Store::listSafes(const Page& page, std::optional<std::int64_t> member_user_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<Safe> out;
    pqxx::result r = member_user_id
        ? tx.exec_params("SELECT " + kSafeColumns + " FROM safes s JOIN safe_members m ON m.safe_id = s.id"
                         " WHERE m.user_id = $3 AND s.id > $1 ORDER BY s.id LIMIT $2",
                         page.after, page.limit, *member_user_id)
        : tx.exec_params("SELECT " + kSafeColumns + " FROM safes s WHERE s.id > $1 ORDER BY s.id LIMIT $2",
                         page.after, page.limit);
    for (const auto& row : r) out.push_back(readSafe(row));
    return out;
  });
}

std::optional<Safe> Store::safeById(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<Safe> {
    auto r = tx.exec_params("SELECT " + kSafeColumns + " FROM safes s WHERE s.id = $1", id);
    if (r.empty()) return std::nullopt;
    return readSafe(r[0]);
  });
}

Safe Store::createSafe(const Safe& s) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "INSERT INTO safes AS s(name, description, record_sessions, live_monitoring, require_dual_authorization,"
        " retention_days, allowed_protocols, allow_file_transfer, allow_port_forwarding, allow_agent_forwarding,"
        " allow_x11_forwarding, trust_on_first_use, video_max_fps, video_quality, video_codec, clipboard)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING " + kSafeColumns,
        s.name, s.description, s.policy.record_sessions, s.policy.live_monitoring,
        s.policy.require_dual_authorization, s.policy.retention_days, toPgArray(s.policy.allowed_protocols),
        s.policy.allow_file_transfer, s.policy.allow_port_forwarding, s.policy.allow_agent_forwarding,
        s.policy.allow_x11_forwarding, s.policy.trust_on_first_use, s.policy.video_max_fps, s.policy.video_quality,
        s.policy.video_codec, s.policy.clipboard);
    if (!s.policy.encrypt_recordings) return readSafe(r[0]);
    auto e = tx.exec_params("UPDATE safes AS s SET encrypt_recordings = true WHERE id = $1 RETURNING " + kSafeColumns,
                            r[0][0].as<std::int64_t>());
    return readSafe(e[0]);
  });
}

void Store::updateSafe(const Safe& s) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "UPDATE safes SET name = $2, description = $3, record_sessions = $4, live_monitoring = $5,"
        " require_dual_authorization = $6, retention_days = $7, allowed_protocols = $8::text[],"
        " allow_file_transfer = $9, allow_port_forwarding = $10, allow_agent_forwarding = $11,"
        " allow_x11_forwarding = $12, trust_on_first_use = $13, video_max_fps = $14, video_quality = $15,"
        " video_codec = $16, clipboard = $17, updated_at = now() WHERE id = $1",
        s.id, s.name, s.description, s.policy.record_sessions, s.policy.live_monitoring,
        s.policy.require_dual_authorization, s.policy.retention_days, toPgArray(s.policy.allowed_protocols),
        s.policy.allow_file_transfer, s.policy.allow_port_forwarding, s.policy.allow_agent_forwarding,
        s.policy.allow_x11_forwarding, s.policy.trust_on_first_use, s.policy.video_max_fps, s.policy.video_quality,
        s.policy.video_codec, s.policy.clipboard);
    tx.exec_params0("UPDATE safes SET encrypt_recordings = $2 WHERE id = $1", s.id, s.policy.encrypt_recordings);
  });
}

bool Store::deleteSafe(std::int64_t id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM safes WHERE id = $1", id).affected_rows() > 0;
  });
}

std::vector<SafeMember> Store::listMembers(std::int64_t safe_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SafeMember> out;
    for (const auto& row : tx.exec_params(kMemberSelect + "WHERE m.safe_id = $1 ORDER BY u.username", safe_id))
      out.push_back(readMember(row));
    return out;
  });
}

std::optional<SafeMember> Store::membership(std::int64_t safe_id, std::int64_t user_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<SafeMember> {
    auto r = tx.exec_params(kMemberSelect + "WHERE m.safe_id = $1 AND m.user_id = $2", safe_id, user_id);
    if (r.empty()) return std::nullopt;
    return readMember(r[0]);
  });
}

std::vector<SafeMember> Store::membershipsOf(std::int64_t user_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SafeMember> out;
    for (const auto& row : tx.exec_params(kMemberSelect + "WHERE m.user_id = $1", user_id)) out.push_back(readMember(row));
    return out;
  });
}

SafeMember Store::setMember(std::int64_t safe_id, std::int64_t user_id, const std::vector<std::string>& permissions) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO safe_members(safe_id, user_id, permissions) VALUES ($1, $2, $3::text[])"
        " ON CONFLICT (safe_id, user_id) DO UPDATE SET permissions = EXCLUDED.permissions",
        safe_id, user_id, toPgArray(permissions));
    return readMember(tx.exec_params(kMemberSelect + "WHERE m.safe_id = $1 AND m.user_id = $2", safe_id, user_id)[0]);
  });
}

bool Store::removeMember(std::int64_t safe_id, std::int64_t user_id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM safe_members WHERE safe_id = $1 AND user_id = $2", safe_id, user_id)
               .affected_rows() > 0;
  });
}

std::vector<Target> Store::listTargets(const Page& page) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<Target> out;
    for (const auto& row : tx.exec_params("SELECT " + kTargetColumns + " FROM targets WHERE id > $1 ORDER BY id LIMIT $2",
                                    page.after, page.limit))
      out.push_back(readTarget(row));
    return out;
  });
}

std::optional<Target> Store::targetById(std::int64_t id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) -> std::optional<Target> {
    auto r = tx.exec_params("SELECT " + kTargetColumns + " FROM targets WHERE id = $1", id);
    if (r.empty()) return std::nullopt;
    return readTarget(r[0]);
  });
}

Target Store::createTarget(const Target& t) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return readTarget(tx.exec_params(
        "INSERT INTO targets(name, protocol, address, port, host_key_fingerprint, certificate_fingerprint, description)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " + kTargetColumns,
        t.name, t.protocol, t.address, t.port, t.host_key_fingerprint, t.certificate_fingerprint, t.description)[0]);
  });
}

void Store::updateTarget(const Target& t) {
  inTx(*pool_, [&](pqxx::work& tx) {
    tx.exec_params0(
        "UPDATE targets SET name = $2, protocol = $3, address = $4, port = $5, host_key_fingerprint = $6,"
        " certificate_fingerprint = $7, description = $8, updated_at = now() WHERE id = $1",
        t.id, t.name, t.protocol, t.address, t.port, t.host_key_fingerprint, t.certificate_fingerprint, t.description);
  });
}

bool Store::deleteTarget(std::int64_t id) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM targets WHERE id = $1", id).affected_rows() > 0;
  });
}

}  // namespace vigil::store
