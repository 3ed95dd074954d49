// The `vigil` command line without a server: help, version, usage errors (exit 2), unreadable or
// invalid configuration (exit 1, message naming the file or key, nothing created).
#include <catch2/catch.hpp>

#include "cli_support.hpp"

using namespace vigil::test;
using Catch::Matchers::Contains;

namespace {

/// A scratch directory with a config whose data_dir lies inside it, so that a command that
/// wrongly gets past parsing can never touch /var/lib/vigil.
struct Scratch {
  std::string dir = makeTempDir("vigil-cli-usage");
  std::string config = dir + "/vigil.yaml";
  std::string data = dir + "/data";
  explicit Scratch(const std::string& extra = "") {
    writeText(config, "data_dir: " + data + "\nlisten: {address: 127.0.0.1, port: 0}\n" + extra);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("vigil --help lists the subcommands", "[cli]") {
  Scratch s;
  Run r = vigilCli(s.config, "--help");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  for (const char* sub : {"serve", "migrate", "user", "vault", "version"}) CHECK_THAT(r.out, Contains(sub));
  CHECK_FALSE(fs::exists(s.data));
}

TEST_CASE("vigil user --help lists the user subcommands", "[cli]") {
  Scratch s;
  Run r = vigilCli(s.config, "user --help");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  for (const char* sub : {"add", "passwd", "mfa-reset", "lock", "unlock"}) CHECK_THAT(r.out, Contains(sub));
  r = vigilCli(s.config, "vault --help");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("rekey"));
  CHECK_FALSE(fs::exists(s.data));
}

TEST_CASE("vigil version prints the version, --json as JSON", "[cli]") {
  Scratch s;
  Run r = vigilCli(s.config, "version --json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j.value("version", "") == VIGIL_VERSION);
  r = vigilCli(s.config, "version");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains(VIGIL_VERSION));
  r = run(vigilBin() + " --version");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains(VIGIL_VERSION));
  CHECK_FALSE(fs::exists(s.data));
}

TEST_CASE("usage errors exit 2 and touch nothing", "[cli]") {
  Scratch s;
  for (const char* args : {"frobnicate", "--frobnicate version", "version --frobnicate", "", "user", "vault",
                           "user frob bob", "user add", "user add bob", "user add bob --role king",
                           "user lock", "serve extra-arg"}) {
    INFO("vigil " << args);
    Run r = vigilCli(s.config, args);
    INFO(r.out << r.err);
    CHECK(r.code == 2);
    CHECK_FALSE(r.err.empty());  // says what was wrong
  }
  CHECK_FALSE(fs::exists(s.data));
}

TEST_CASE("vigil serve with a missing config file exits 1 naming the file", "[cli]") {
  for (const char* order : {"serve -c /nonexistent.yaml", "-c /nonexistent.yaml serve"}) {
    INFO(order);
    Run r = run(vigilBin() + " " + order);
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains("/nonexistent.yaml"));
  }
  // The same through VIGIL_CONFIG.
  Run r = run("VIGIL_CONFIG=/nonexistent.yaml " + vigilBin() + " serve");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("/nonexistent.yaml"));
}

TEST_CASE("an invalid config value stops vigil serve before anything is created", "[cli]") {
  struct Case {
    std::string yaml;
    std::string key;
  };
  for (const Case& c : {Case{"auth: {lockout_threshold: 0}\n", "auth.lockout_threshold"},
                        Case{"auth: {lockout_minutes: forever}\n", "auth.lockout_minutes"},
                        Case{"log: {level: loud}\n", "log.level"},
                        Case{"tls: {cert_file: /etc/c.pem}\n", "tls.key_file"},
                        Case{"bogus_key: 1\n", "bogus_key"},
                        Case{"http:\n  io_threads: 1\n  workers: 3\n", "http.workers"}}) {
    Scratch s(c.yaml);
    INFO(c.yaml);
    for (const std::string& args : std::vector<std::string>{"-c " + s.config + " serve", "serve -c " + s.config}) {
      Run r = run(vigilBin() + " " + args, "", 45);
      INFO(r.out << r.err);
      CHECK(r.code == 1);
      CHECK_THAT(r.err, Contains(c.key));
      CHECK_FALSE(fs::exists(s.data));
    }
    // The admin commands read the same file and refuse the same way.
    Run r = vigilCli(s.config, "migrate");
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains(c.key));
    CHECK_FALSE(fs::exists(s.data));
  }
}

TEST_CASE("a YAML syntax error stops vigil serve with the line number", "[cli]") {
  Scratch s("auth:\n  lockout_threshold: [5\n");
  Run r = run(vigilBin() + " serve -c " + s.config, "", 45);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("line "));
  CHECK_FALSE(fs::exists(s.data));
}
