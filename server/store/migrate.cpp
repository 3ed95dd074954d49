// Forward-only migrations: sql/NNNN_name.sql, each applied once in its own transaction, with a
// transaction-level advisory lock so nodes starting together apply each migration exactly once.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "server/store/pool.hpp"

namespace vigil::store {
namespace {
constexpr long long kMigrationLock = 0x76696769;  // "vigi"

struct Migration {
  int version;
  std::string name;
  std::filesystem::path file;
};

std::vector<Migration> findMigrations(const std::string& dir) {
  std::vector<Migration> out;
  static const std::regex pattern(R"((\d{4})_([A-Za-z0-9_]+)\.sql)");
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("migrations: directory '" + dir + "' not found (config key sql_dir)");
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    std::smatch m;
    const std::string fname = e.path().filename().string();
    if (std::regex_match(fname, m, pattern))
      out.push_back({std::stoi(m[1]), e.path().stem().string(), e.path()});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].version == out[i - 1].version)
      throw std::runtime_error("migrations: two files with version " + std::to_string(out[i].version));
  return out;
}
}  // namespace

std::vector<std::string> Store::migrate(const std::string& sql_dir,
                                        const std::function<void(const std::string&)>& progress) {
  auto migrations = findMigrations(sql_dir);
  std::vector<std::string> applied;
  auto lease = pool_->lease();
  {
    pqxx::work tx(*lease);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  for (auto& m : migrations) {
    pqxx::work tx(*lease);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
    if (!done.empty()) continue;  // another node applied it while we waited for the lock
    std::ifstream in(m.file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (progress) progress(m.name);
    try {
      tx.exec0(ss.str());
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + m.name + " failed: " + e.what());
    }
    tx.exec_params0("INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", m.version, m.name);
    tx.commit();
    applied.push_back(m.name);
  }
  return applied;
}

int Store::schemaVersion() {
  auto lease = pool_->lease();
  pqxx::work tx(*lease);
  if (!tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0].as<bool>()) return 0;
  return tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
}

}  // namespace vigil::store
