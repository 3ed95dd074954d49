#include "server/embedded_postgres.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "server/crypto/random.hpp"
#include "server/process.hpp"
#include "server/store/store.hpp"

namespace fs = std::filesystem;

namespace vigil {
namespace {

void writePrivateFile(const fs::path& p, const std::string& content, uid_t uid, gid_t gid) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error("embedded postgres: cannot write " + tmp.string());
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream out(tmp, std::ios::trunc);
  out << content;
  out.close();
  if (chown(tmp.c_str(), uid, gid) != 0)
    throw std::runtime_error("embedded postgres: cannot chown " + tmp.string());
  fs::rename(tmp, p);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const fs::path& log, std::size_t lines) {
  std::string text = readFile(log);
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(fs::path dir, std::string bin_dir)
    : dir_(std::move(dir)), bin_dir_(std::move(bin_dir)) {}

EmbeddedPostgres::~EmbeddedPostgres() {
  try {
    stop();
  } catch (...) {
  }
}

std::vector<std::string> EmbeddedPostgres::asOwner(std::vector<std::string> argv) const {
  if (!as_postgres_user_) return argv;
  std::vector<std::string> out{"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void EmbeddedPostgres::start(const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (uid == 0) {
    // PostgreSQL refuses to run as root; Debian's package provides the `postgres` user.
    struct passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("embedded postgres: running as root needs the 'postgres' user (install postgresql)");
    as_postgres_user_ = true;
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  const fs::path data = dir_ / "data";
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  for (const fs::path& d : {dir_, run}) {
    if (chown(d.c_str(), uid, gid) != 0) throw std::runtime_error("embedded postgres: cannot chown " + d.string());
    fs::permissions(d, fs::perms::owner_all);
  }
  if (as_postgres_user_) {
    // The cluster owner must be able to traverse down to its directory.
    for (fs::path p = dir_.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH)) {
        if (st.st_uid == 0 && p == dir_.parent_path())
          fs::permissions(p, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
        else
          throw std::runtime_error("embedded postgres: '" + p.string() +
                                   "' is not traversable by the postgres user; choose a data_dir outside it");
      }
    }
  }

  const fs::path pwfile = dir_ / "password";
  if (!fs::exists(data / "PG_VERSION")) {
    say("initialising the embedded PostgreSQL cluster in " + data.string());
    password_ = crypto::randomToken(24);
    // The password file stays readable by Vigil's user only; initdb gets a copy it deletes after.
    writePrivateFile(pwfile, password_ + "\n", geteuid(), getegid());
    const fs::path initpw = dir_ / "initdb.pw";
    writePrivateFile(initpw, password_ + "\n", uid, gid);
    auto r = runProcess(asOwner({tool("initdb"), "-D", data.string(), "-U", "vigil", "--pwfile=" + initpw.string(),
                                 "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"}));
    fs::remove(initpw);
    if (r.exit_code != 0) throw std::runtime_error("embedded postgres: initdb failed:\n" + r.output);
  } else {
    password_ = readFile(pwfile);
    while (!password_.empty() && (password_.back() == '\n' || password_.back() == '\r')) password_.pop_back();
    if (password_.empty())
      throw std::runtime_error("embedded postgres: " + pwfile.string() + " is missing or empty");
  }

  // Every Vigil process using the cluster (serve, CLI commands) holds a shared lock on
  // cluster.lock; the last one to leave stops it (see stop()). Taken before looking at the
  // cluster so a stop in progress finishes before we decide whether to start it.
  lock_fd_ = open((dir_ / "cluster.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_SH) != 0)
    throw std::runtime_error("embedded postgres: cannot lock " + (dir_ / "cluster.lock").string());

  const fs::path log = dir_ / "postgres.log";
  auto status = runProcess(asOwner({tool("pg_ctl"), "status", "-D", data.string()}));
  if (status.exit_code == 0) {
    say("embedded PostgreSQL already running; using it");
  } else {
    say("starting the embedded PostgreSQL");
    const std::string opts = "-c listen_addresses='' -c unix_socket_directories='" + run.string() +
                             "' -c unix_socket_permissions=0700 -p 5432";
    auto r = runProcess(asOwner({tool("pg_ctl"), "start", "-D", data.string(), "-l", log.string(), "-w", "-t", "120",
                                 "-o", opts}));
    if (r.exit_code != 0)
      throw std::runtime_error("embedded postgres: pg_ctl start failed:\n" + r.output + "\nlog tail:\n" + tail(log, 20));
  }
  started_ = true;
  store::ensureDatabase(connectionString(), "vigil");
}

void EmbeddedPostgres::stop() {
  if (!started_) return;
  started_ = false;
  // Only the last user stops the cluster: if anyone else still holds the shared lock, the
  // exclusive one is refused and the cluster keeps running for them.
  const bool last = flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
  ProcessResult r{0, ""};
  if (last)
    r = runProcess(asOwner({tool("pg_ctl"), "stop", "-D", (dir_ / "data").string(), "-m", "fast", "-w", "-t", "60"}));
  close(lock_fd_);
  lock_fd_ = -1;
  if (r.exit_code != 0) throw std::runtime_error("embedded postgres: pg_ctl stop failed:\n" + r.output);
}

std::string EmbeddedPostgres::connectionString() const {
  return "host=" + (dir_ / "run").string() + " port=5432 user=vigil password=" + password_ + " dbname=vigil";
}

}  // namespace vigil
