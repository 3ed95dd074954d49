#pragma once
// Vigil's private PostgreSQL cluster (the embedded default): initdb on first start under
// <data_dir>/pg, started with pg_ctl listening only on a private Unix socket, password
// (SCRAM) authentication with a generated password kept in <data_dir>/pg/password (0600),
// durable settings (fsync on). As root, PostgreSQL runs as the `postgres` user.
#include <filesystem>
#include <functional>
#include <string>

namespace vigil {

class EmbeddedPostgres {
 public:
  EmbeddedPostgres(std::filesystem::path dir, std::string bin_dir);
  ~EmbeddedPostgres();  // stops the cluster if this object started it
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  /// Creates (first time) and starts the cluster, and creates the `vigil` database. `progress`
  /// receives human-readable steps. Throws std::runtime_error with PostgreSQL's own message.
  void start(const std::function<void(const std::string&)>& progress = {});
  /// Fast shutdown of a cluster this object started (or adopted); idempotent.
  void stop();
  /// Makes stop() shut down a cluster that was already running when start() found it (a
  /// leftover of a killed `vigil serve`). CLI commands leave it alone instead.
  void adoptRunning() { owns_ = started_; }
  /// libpq connection string for the `vigil` database.
  std::string connectionString() const;
  bool running() const { return started_; }

 private:
  std::vector<std::string> asOwner(std::vector<std::string> argv) const;
  std::string tool(const char* name) const { return bin_dir_ + "/" + name; }

  std::filesystem::path dir_;
  std::string bin_dir_;
  bool as_postgres_user_ = false;
  bool started_ = false;  // running and usable
  bool owns_ = false;     // stop() shuts it down
  std::string password_;
};

}  // namespace vigil
