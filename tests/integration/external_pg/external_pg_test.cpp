// `database.url` points Vigil at an external PostgreSQL instead of its embedded cluster: a
// throwaway cluster started here plays the external server (as in a multi-node deployment).
#include <catch2/catch.hpp>

#include <filesystem>

#include "support/https_client.hpp"
#include "support/vigil_server.hpp"

using vigil::test::runCommand;

namespace {

struct ExternalCluster {
  std::string dir = vigil::test::makeTempDir("vigil-extpg");
  int port = 0;

  ExternalCluster() {
    const std::string bin = "/usr/lib/postgresql/15/bin/";
    const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    if (geteuid() == 0) runCommand("chown postgres " + dir);
    auto init = runCommand(as + bin + "initdb -A trust --no-sync -E UTF8 --locale=C.UTF-8 -D " + dir + "/data");
    REQUIRE(init.exit_code == 0);
    // Pick a free port by binding port 0 with a throwaway socket, then hand it to PostgreSQL.
    auto p = runCommand("python3 -c 'import socket;s=socket.socket();s.bind((\"127.0.0.1\",0));print(s.getsockname()[1])'");
    port = std::stoi(p.output);
    auto start = runCommand(as + bin + "pg_ctl -w -D " + dir + "/data -l " + dir + "/log -o \"-k " + dir +
                            " -h 127.0.0.1 -p " + std::to_string(port) + " -c fsync=off\" start");
    REQUIRE(start.exit_code == 0);
    REQUIRE(runCommand(as + bin + "createdb -h 127.0.0.1 -p " + std::to_string(port) + " -U " +
                       (geteuid() == 0 ? "postgres" : std::string(getenv("USER") ? getenv("USER") : "postgres")) +
                       " vigil_ext").exit_code == 0);
  }
  ~ExternalCluster() {
    const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    runCommand(as + "/usr/lib/postgresql/15/bin/pg_ctl -w -D " + dir + "/data -m fast stop");
    std::filesystem::remove_all(dir);
  }
  std::string url() const {
    return "postgresql://" + std::string(geteuid() == 0 ? "postgres" : "") + "@127.0.0.1:" + std::to_string(port) +
           "/vigil_ext";
  }
  std::string psql(const std::string& sql) const {
    return runCommand("psql -At -h 127.0.0.1 -p " + std::to_string(port) + " -U postgres vigil_ext -c \"" + sql + "\"")
        .output;
  }
};

}  // namespace

TEST_CASE("with database.url Vigil uses the external PostgreSQL and starts no cluster of its own",
          "[integration][database]") {
  ExternalCluster pg;
  vigil::test::VigilServer server("database: {url: \"" + pg.url() + "\", pool_size: 2}\n");
  REQUIRE_FALSE(server.adminPassword().empty());
  CHECK_FALSE(std::filesystem::exists(server.dataDir() + "/pg"));

  // The schema and the initial superuser are in the external database.
  // Every migration in sql/ is applied there.
  std::size_t migrations = 0;
  for (auto& f : std::filesystem::directory_iterator(VIGIL_SOURCE_DIR "/sql"))
    migrations += f.path().extension() == ".sql";
  CHECK(pg.psql("SELECT count(*) FROM schema_migrations") == std::to_string(migrations) + "\n");
  CHECK(pg.psql("SELECT username FROM users") == "admin\n");

  vigil::test::HttpsClient c(server.port());
  REQUIRE(c.login("admin", server.adminPassword()).status == 200);
  REQUIRE(c.post("/api/v1/me/password", {{"current_password", server.adminPassword()},
                                         {"new_password", "external-db-password-1"}}).status == 204);
  REQUIRE(c.post("/api/v1/safes", {{"name", "External"}}).status == 201);
  CHECK(pg.psql("SELECT name FROM safes") == "External\n");
}

TEST_CASE("an unreachable database.url stops start-up with a message naming the key", "[integration][database]") {
  auto dir = vigil::test::makeTempDir();
  {
    std::ofstream cfg(dir + "/vigil.yaml");
    cfg << "data_dir: " << dir << "/data\nlisten: {address: 127.0.0.1, port: 0}\n"
        << "database: {url: \"postgresql://nobody@127.0.0.1:1/none?connect_timeout=3\"}\n";
  }
  auto r = runCommand(std::string(VIGIL_BINARY_PATH) + " -c " + dir + "/vigil.yaml serve");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("database.url") != std::string::npos);
  std::filesystem::remove_all(dir);
}
