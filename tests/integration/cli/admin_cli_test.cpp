// Administrative subcommands against a running server's database: user add/lock/unlock/passwd/
// mfa-reset and migrate, with their effect seen through the HTTPS API. The steps inside a case
// build on each other.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "cli_support.hpp"

using namespace vigil::test;
using Catch::Matchers::Contains;

TEST_CASE("vigil user manages local users while the server runs", "[cli][user]") {
  VigilServer& s = sharedServer();
  const std::string cfg = s.configPath();

  // add --json prints the user and a one-time password.
  Run r = vigilCli(cfg, "user add bob --role admin --display-name 'Bob B' --json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j.value("username", "") == "bob");
  CHECK(j["roles"] == nlohmann::json::array({"admin"}));
  CHECK(j.value("must_change_password", false) == true);
  CHECK(j.value("locked", true) == false);
  REQUIRE(j.contains("one_time_password"));
  const std::string otp = j.value("one_time_password", "");
  REQUIRE(otp.size() >= 12);

  // Duplicate name: refused, exit 1.
  r = vigilCli(cfg, "user add bob --role auditor");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("already exists"));

  HttpsClient bob(s.port());
  auto res = bob.login("bob", otp);
  REQUIRE(res.status == 200);
  CHECK(res.json()["user"]["roles"] == nlohmann::json::array({"admin"}));
  CHECK(res.json()["user"]["display_name"] == "Bob B");
  CHECK(res.json()["user"]["must_change_password"] == true);
  CHECK(bob.get("/api/v1/me").status == 200);

  {  // lock ends sessions and refuses logins; unlock restores
    r = vigilCli(cfg, "user lock bob --json");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json().value("locked", false) == true);

    auto me = bob.get("/api/v1/me");
    CHECK(me.status == 401);
    CHECK(me.errorCode() == "unauthenticated");
    HttpsClient again(s.port());
    res = again.login("bob", otp);
    CHECK(res.status == 403);
    CHECK(res.errorCode() == "account_locked");

    r = vigilCli(cfg, "user unlock bob");
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Contains("unlock"));
    res = again.login("bob", otp);
    CHECK(res.status == 200);
    CHECK(res.json()["user"]["locked"] == false);
    CHECK(again.get("/api/v1/me").status == 200);
    // The old session stays gone.
    CHECK(bob.get("/api/v1/me").status == 401);
  }

  {  // unlock also clears a temporary lockout after too many failed logins (threshold 5)
    HttpsClient c(s.port());
    for (int i = 0; i < 5; ++i) CHECK(c.login("bob", "wrong-password-" + std::to_string(i)).status == 401);
    res = c.login("bob", otp);
    CHECK(res.status == 403);
    CHECK(res.errorCode() == "account_locked");
    r = vigilCli(cfg, "user unlock bob --json");
    REQUIRE(r.code == 0);
    CHECK(r.json().value("locked", true) == false);
    CHECK(c.login("bob", otp).status == 200);
  }

  {  // passwd --password-stdin sets a password and ends sessions
    const std::string pw = "Bobs-Brand-New-Password-7";
    r = vigilCli(cfg, "user passwd bob --password-stdin", pw + "\n");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Contains("password set"));
    CHECK_FALSE(Contains(pw).match(r.out + r.err));

    CHECK(bob.get("/api/v1/me").status == 401);  // sessions ended
    HttpsClient fresh(s.port());
    res = fresh.login("bob", otp);
    CHECK(res.status == 401);
    res = fresh.login("bob", pw);
    REQUIRE(res.status == 200);
    CHECK(res.json()["user"]["must_change_password"] == false);

    // A password against the policy is refused and the old one stays.
    r = vigilCli(cfg, "user passwd bob --password-stdin", "short\n");
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains("12 characters"));
    CHECK(HttpsClient(s.port()).login("bob", pw).status == 200);

    // Without --password-stdin: a generated one-time password.
    r = vigilCli(cfg, "user passwd bob --json");
    REQUIRE(r.code == 0);
    const std::string otp2 = r.json().value("one_time_password", "");
    REQUIRE_FALSE(otp2.empty());
    res = HttpsClient(s.port()).login("bob", otp2);
    CHECK(res.status == 200);
    CHECK(res.json()["user"]["must_change_password"] == true);
  }

  {  // user add --password-stdin creates a user without a forced change
    const std::string pw = "Carls-Own-Password-99";
    r = vigilCli(cfg, "user add carl -r auditor -r soc --password-stdin --json", pw + "\n");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK_FALSE(r.json().contains("one_time_password"));
    CHECK(r.json()["roles"] == nlohmann::json::array({"auditor", "soc"}));
    res = HttpsClient(s.port()).login("carl", pw);
    REQUIRE(res.status == 200);
    CHECK(res.json()["user"]["must_change_password"] == false);
  }

  {  // user names follow the API's rules (no spaces, %, @, : or /, no control characters)
    std::vector<std::string> accepted;
    for (const std::string& bad : {std::string("carl smith"), std::string("carl@corp"), std::string("a:b"),
                                   std::string("a/b"), std::string("100%"), std::string("line\nbreak"),
                                   std::string(129, 'x')}) {
      r = vigilCli(cfg, "user add " + shq(bad) + " --role soc --json");
      if (r.code == 0 || r.json().contains("one_time_password")) accepted.push_back(bad);
      else CHECK((r.code == 1 || r.code == 2));
    }
    std::string list;
    for (auto& a : accepted) list += " '" + a + "'";
    INFO("accepted by `vigil user add`, refused by POST /api/v1/users:" << list);
    CHECK(accepted.empty());
  }

  {  // commands on an unknown user exit 3
    for (const char* cmd : {"user mfa-reset nosuchuser", "user lock nosuchuser", "user unlock nosuchuser",
                            "user passwd nosuchuser"}) {
      INFO(cmd);
      r = vigilCli(cfg, cmd);
      CHECK(r.code == 3);
      CHECK_THAT(r.err, Contains("nosuchuser"));
    }
  }

  {  // mfa-reset removes a TOTP enrolment
    r = vigilCli(cfg, "user mfa-reset bob --json");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json().value("mfa_enrolled", true) == false);
  }

  {  // the CLI's changes are in the audit log
    auto admin = sharedAdmin();
    auto a = admin->get("/api/v1/audit?action=user_lock");
    REQUIRE(a.status == 200);
    auto items = a.json()["items"];
    REQUIRE(items.size() == 1);  // the one `user lock bob` above
    CHECK(items[0]["object_id"] == std::to_string(j["id"].get<long long>()));
    CHECK_THAT(items[0]["actor"].get<std::string>(), Contains("cli"));
    CHECK(items[0]["outcome"] == "ok");
    a = admin->get("/api/v1/audit?action=user_create");
    REQUIRE(a.status == 200);
    INFO(a.body);
    const auto created = a.json()["items"];
    bool bob_created = false;
    for (auto& e : created) bob_created = bob_created || e["details"].value("username", "") == "bob";
    CHECK(bob_created);
  }
}

TEST_CASE("vigil migrate on an up-to-date database applies nothing", "[cli][migrate]") {
  VigilServer& s = sharedServer();
  Run r = vigilCli(s.configPath(), "migrate --json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j["applied"] == nlohmann::json::array());
  CHECK(j["schema_version"].get<int>() >= 1);

  // Two at once on the running server's database: both succeed, nothing applied twice.
  Run a, b;
  std::thread ta([&] { a = vigilCli(s.configPath(), "migrate --json"); });
  std::thread tb([&] { b = vigilCli(s.configPath(), "migrate --json"); });
  ta.join();
  tb.join();
  INFO(a.out << a.err << b.out << b.err);
  CHECK(a.code == 0);
  CHECK(b.code == 0);
  auto q = psql(s.dataDir(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations");
  REQUIRE(q.code == 0);
  CHECK(q.out == std::to_string(j["schema_version"].get<int>()) + "|" + std::to_string(j["schema_version"].get<int>()));
}

TEST_CASE("two vigil migrate started together on a fresh database apply each migration once", "[cli][migrate]") {
  VigilServer& s = sharedServer();
  // A fresh, empty database in the running cluster, reached as an external database.
  REQUIRE(psql(s.dataDir(), "CREATE DATABASE vigil_race", "postgres").code == 0);
  const std::string dir = makeTempDir("vigil-cli-race");
  RemoveDirAtEnd remove_dir{dir};
  const std::string cfg = dir + "/vigil.yaml";
  writeText(cfg, "data_dir: " + dir + "/data\ndatabase:\n  url: 'postgresql://vigil:" + pgPassword(s.dataDir()) +
                     "@/vigil_race?host=" + s.dataDir() + "/pg/run&port=5432'\n");

  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(std::string(VIGIL_SOURCE_DIR) + "/sql"))
    files += e.path().extension() == ".sql";
  REQUIRE(files >= 1);

  constexpr int kRuns = 4;
  std::vector<Run> runs(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) threads.emplace_back([&, i] { runs[i] = vigilCli(cfg, "migrate --json"); });
  for (auto& t : threads) t.join();

  std::multiset<std::string> applied;
  for (auto& r : runs) {
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    auto j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["schema_version"].get<std::size_t>() == files);
    for (auto& n : j["applied"]) applied.insert(n.get<std::string>());
  }
  // Every migration applied by exactly one of them.
  CHECK(applied.size() == files);
  CHECK(std::set<std::string>(applied.begin(), applied.end()).size() == files);
  auto q = psql(s.dataDir(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations", "vigil_race");
  REQUIRE(q.code == 0);
  CHECK(q.out == std::to_string(files) + "|" + std::to_string(files));
  q = psql(s.dataDir(), "SELECT count(*) FROM users", "vigil_race");
  CHECK(q.code == 0);
  CHECK(q.out == "0");
}
