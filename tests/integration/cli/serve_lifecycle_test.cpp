// `vigil serve` across restarts: the first start creates everything once (initial admin password,
// master key, TLS certificate, database); later starts on the same data directory reuse all of
// it; SIGTERM stops the embedded PostgreSQL, and so does a start that fails; after a crash the
// next start adopts the cluster left running.
#include <catch2/catch.hpp>

#include "cli_support.hpp"

using namespace vigil::test;
using Catch::Matchers::Contains;

TEST_CASE("a restart reuses the data directory: no new admin password, same certificate", "[cli][serve]") {
  const std::string dir = makeTempDir("vigil-cli-restart");
  RemoveDirAtEnd remove_dir{dir};
  const fs::path data = dir + "/data";
  std::string fingerprint, one_time;
  {
    VigilServer s("", dir);
    s.keepDir();
    one_time = s.adminPassword();
    REQUIRE_FALSE(one_time.empty());
    fingerprint = certFingerprint(s.output());
    REQUIRE_FALSE(fingerprint.empty());

    HttpsClient c(s.port());
    auto r = c.login("admin", one_time);
    REQUIRE(r.status == 200);
    CHECK(r.json()["user"]["must_change_password"] == true);
    // Until the one-time password is replaced, everything else is refused.
    r = c.get("/api/v1/users");
    CHECK(r.status == 403);
    CHECK(r.errorCode() == "password_change_required");
    r = c.post("/api/v1/me/password", {{"current_password", one_time}, {"new_password", kAdminPassword}});
    REQUIRE(r.status == 204);
    CHECK(c.get("/api/v1/users").status == 200);

    // Secrets on disk are private to Vigil's user.
    CHECK(fileMode(data / "master.key") == 0600);
    CHECK(fileMode(data / "tls/key.pem") == 0600);
    CHECK(fileMode(data / "pg/password") == 0600);
    CHECK((fileMode(data) & 077) == (geteuid() == 0 ? 01 : 0));  // 0701 as root, else 0700
    CHECK(keyringIds(data / "master.key").size() == 1);

    const pid_t pm = postmasterPid(data);
    REQUIRE(pm > 0);
    CHECK(processAlive(pm));
    // The postmaster runs as another user (postgres, when Vigil runs as root) and outlives
    // nothing of Vigil's: it must not inherit descriptors of Vigil's own files (log, keys).
    for (auto& fd : fs::directory_iterator("/proc/" + std::to_string(pm) + "/fd")) {
      std::error_code ec;
      const std::string target = fs::read_symlink(fd.path(), ec).string();
      INFO("postmaster fd " << fd.path().filename().string() << " -> " << target);
      CHECK_FALSE(Contains((data / "logs").string()).match(target));
      CHECK_FALSE(Contains((data / "master.key").string()).match(target));
      CHECK_FALSE(Contains((data / "tls").string()).match(target));
    }
    CHECK(s.stop() == 0);
    // The embedded cluster went down with the server.
    CHECK_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
    CHECK(waitGone(pm));
  }
  REQUIRE(fs::exists(data / "master.key"));
  const std::string key_before = readText(data / "master.key");
  {
    // A start that fails late (the port is taken) still stops the cluster it started.
    const std::string busy = dir + "/busy.yaml";
    const int port = sharedServer().port();
    writeText(busy, "data_dir: " + data.string() + "\nlisten: {address: 127.0.0.1, port: " + std::to_string(port) +
                        "}\nauth: {argon2_t_cost: 1, argon2_m_cost_kib: 8192}\n");
    Run r = run(vigilBin() + " serve -c " + busy, "", 60);
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains("127.0.0.1:" + std::to_string(port)));
    CHECK_FALSE(Contains("Initial superuser").match(r.out));
    CHECK_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
  }
  {
    VigilServer s("", dir);
    s.keepDir();
    const std::string out = s.output();
    INFO(out);
    CHECK(s.adminPassword().empty());
    CHECK_FALSE(Contains("Initial superuser").match(out));
    CHECK(certFingerprint(out) == fingerprint);
    CHECK(readText(data / "master.key") == key_before);

    HttpsClient c(s.port());
    auto r = c.login("admin", kAdminPassword);
    REQUIRE(r.status == 200);
    CHECK(r.json()["user"]["must_change_password"] == false);
    CHECK(c.get("/api/v1/users").status == 200);
    HttpsClient old(s.port());
    r = old.login("admin", one_time);
    CHECK(r.status == 401);
    CHECK(r.errorCode() == "invalid_credentials");

    const pid_t pm = postmasterPid(data);
    CHECK(s.stop() == 0);
    CHECK_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
    CHECK(waitGone(pm));
  }
  {
    // A crash (SIGKILL) leaves the embedded PostgreSQL running: the next start adopts it and
    // stops it at the end.
    auto crashed = std::make_unique<VigilServer>("", dir);
    crashed->keepDir();
    const pid_t pm = postmasterPid(data);
    REQUIRE(pm > 0);
    const pid_t vp = childPidWith(crashed->configPath());
    REQUIRE(vp > 0);
    REQUIRE(::kill(vp, SIGKILL) == 0);
    // Not stopped here: its output pipe stays open in the orphaned postmaster (the fixture's
    // child keeps a copy of the pipe), so its reader only ends once the postmaster does.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(processAlive(pm));
    // Should the restart below fail, stop the orphan ourselves (by its data directory) so that
    // `crashed` can be destroyed.
    struct StopOrphan {
      fs::path pgdata;
      pid_t pm;
      ~StopOrphan() {
        if (!processAlive(pm)) return;
        run(std::string(geteuid() == 0 ? "runuser -u postgres -- " : "") +
            "/usr/lib/postgresql/15/bin/pg_ctl stop -m fast -D " + shq(pgdata.string()));
      }
    } orphan{data / "pg/data", pm};
    {
      VigilServer s("", dir);  // removes the directory when done
      INFO(s.output());
      CHECK(postmasterPid(data) == pm);
      CHECK(certFingerprint(s.output()) == fingerprint);
      CHECK(s.adminPassword().empty());
      HttpsClient after(s.port());
      CHECK(after.login("admin", kAdminPassword).status == 200);
      CHECK(s.stop() == 0);
      CHECK_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
      CHECK(waitGone(pm));
    }
    crashed.reset();  // reaps the killed process
  }
}

TEST_CASE("a second vigil serve on the same data directory is refused", "[cli][serve]") {
  VigilServer& s = sharedServer();
  Run r = run(vigilBin() + " serve -c " + s.configPath(), "", 45);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("already"));
  // The running server is unharmed.
  HttpsClient c(s.port());
  CHECK(c.get("/healthz").status == 200);
  CHECK(c.login("admin", kAdminPassword).status == 200);
}

TEST_CASE("vigil serve adopting a cluster started by a CLI command keeps its database", "[cli][serve]") {
  // With the server down, an admin command starts the embedded cluster for itself and stops it
  // when done. If `vigil serve` starts meanwhile, it finds the cluster running and uses it: the
  // command ending must not take the database away from the server.
  const std::string dir = makeTempDir("vigil-cli-adopt");
  RemoveDirAtEnd remove_dir{dir};
  const fs::path data = dir + "/data";
  const std::string cfg = dir + "/vigil.yaml";
  writeText(cfg, "data_dir: " + data.string() +
                     "\nlisten: {address: 127.0.0.1, port: 0}\nlog: {level: info}\n"
                     "auth: {argon2_t_cost: 1, argon2_m_cost_kib: 8192, lockout_threshold: 5, lockout_minutes: 15}\n");
  // The cluster exists (and is stopped again) after a first command.
  {
    Run m = vigilCli(cfg, "migrate --json");
    INFO(m.out << m.err);
    REQUIRE(m.code == 0);
    REQUIRE_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
  }
  const std::string err = dir + "/cli.err";
  // `user add --password-stdin` holds the database open while it waits for the password.
  FILE* cli = popen(("exec " + vigilBin() + " -c " + cfg + " user add carl --role admin --password-stdin >" + dir +
                     "/cli.out 2>" + err)
                        .c_str(),
                    "w");
  REQUIRE(cli);
  struct Finish {  // never leave the command waiting, whatever happens below
    FILE*& f;
    ~Finish() {
      if (f) fputs("Carls-Password-12345\n", f), pclose(f);
    }
  } finish{cli};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!Contains("up to date").match(readText(err)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(readText(err));
  REQUIRE(Contains("up to date").match(readText(err)));
  const pid_t pm = postmasterPid(data);
  REQUIRE(pm > 0);

  VigilServer s("", dir);
  INFO(s.output());
  CHECK(Contains("already running").match(s.output()));
  REQUIRE_FALSE(s.adminPassword().empty());

  fputs("Carls-Password-12345\n", cli);
  const int st = pclose(cli);
  cli = nullptr;
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_THAT(readText(dir + "/cli.out"), Contains("password set"));

  // The server still has its database.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(processAlive(pm));
  CHECK(fs::exists(data / "pg/data/postmaster.pid"));
  HttpsClient c(s.port());
  auto r = c.login("carl", "Carls-Password-12345");
  CHECK(r.status == 200);
  r = c.login("admin", s.adminPassword());
  CHECK(r.status == 200);

  // ...and stops it when it ends.
  s.stop();
  CHECK_FALSE(fs::exists(data / "pg/data/postmaster.pid"));
  CHECK(waitGone(pm));
}
