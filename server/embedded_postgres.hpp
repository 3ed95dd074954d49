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
  /// Leaves the cluster; the last Vigil process to leave (serve or a CLI command) shuts it down
  /// (fast mode). A cluster left running by a killed process is adopted by the next start.
  /// Idempotent.
  void stop();
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
  int lock_fd_ = -1;      // shared flock on cluster.lock while in use
  std::string password_;
};

}  // namespace vigil
