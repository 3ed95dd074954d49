#include "server/runtime.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace vigil {

Runtime::Runtime(Config c) : cfg(std::move(c)) {}

Runtime::~Runtime() {
  vault.reset();
  store.reset();  // close connections before the cluster stops
  pg.reset();
  if (lock_fd_ >= 0) close(lock_fd_);
}

bool Runtime::lockForServe() {
  fs::create_directories(cfg.data_dir);
  lock_fd_ = open((cfg.data_dir / "serve.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw std::runtime_error("cannot open " + (cfg.data_dir / "serve.lock").string());
  return flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
}

void Runtime::openDatabase(const Progress& progress, bool migrate) {
  if (!fs::exists(cfg.data_dir)) {
    fs::create_directories(cfg.data_dir);
    if (progress) progress("created data directory " + cfg.data_dir.string());
  }
  // Secrets live here (master key, TLS key, database password): owner only, plus traversal for
  // the postgres user when running as root.
  fs::permissions(cfg.data_dir, geteuid() == 0 ? fs::perms::owner_all | fs::perms::others_exec : fs::perms::owner_all);
  std::string url = cfg.database.url;
  if (url.empty()) {
    pg = std::make_unique<EmbeddedPostgres>(cfg.embeddedPgDir(), cfg.database.postgres_bin_dir);
    pg->start(progress);
    url = pg->connectionString();
  }
  try {
    store = std::make_unique<store::Store>(url, cfg.database.pool_size);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("database: cannot connect (config key database.url): ") + e.what());
  }
  if (migrate) this->migrate(progress);
}

void Runtime::migrate(const Progress& progress) {
  auto applied = store->migrate(cfg.sql_dir, [&](const std::string& name) {
    if (progress) progress("applying migration " + name);
  });
  if (progress && applied.empty()) progress("database schema is up to date");
}

void Runtime::openVault(bool allow_create) {
  vault = services::Vault::open(*store, cfg.masterKeyPath(), allow_create);
}

}  // namespace vigil
