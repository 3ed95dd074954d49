#pragma once
// What `vigil serve` and the administrative subcommands share: the configuration, the database
// (embedded or external, migrated), and the vault.
#include <functional>
#include <memory>
#include <string>

#include "server/config.hpp"
#include "server/embedded_postgres.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"

namespace vigil {

class Runtime {
 public:
  explicit Runtime(Config cfg);
  ~Runtime();

  using Progress = std::function<void(const std::string&)>;
  /// Creates the data directory, starts the embedded cluster (unless database.url is set),
  /// connects and applies pending migrations.
  void openDatabase(const Progress& progress, bool migrate = true);
  /// Applies pending migrations.
  void migrate(const Progress& progress);
  /// Loads (or on a fresh database creates) the master keyring and checks it against the database.
  void openVault(bool allow_create);
  /// Takes an exclusive lock on <data_dir>/serve.lock; false if another `vigil serve` holds it.
  bool lockForServe();

  Config cfg;
  std::unique_ptr<EmbeddedPostgres> pg;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<services::Vault> vault;

 private:
  int lock_fd_ = -1;
};

}  // namespace vigil
