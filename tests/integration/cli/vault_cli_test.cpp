// `vigil vault rekey` with the server running, and `vigil serve` refusing a missing or wrong
// master key without changing anything. Decryption is verified in-process through the vault
// service on the embedded database (the API never returns secrets).
#include <catch2/catch.hpp>

#include <map>
#include <memory>

#include "cli_support.hpp"
#include "server/auth/totp.hpp"
#include "server/crypto/master_keyring.hpp"
#include "server/crypto/random.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"

using namespace vigil::test;
using Catch::Matchers::Contains;

namespace {

/// State shared by the vault test cases (each can also run alone) on the shared server: an admin
/// session, a safe, a target and an account whose secret is known.
struct VaultFixture {
  VigilServer* server = nullptr;
  std::unique_ptr<HttpsClient> admin;
  std::int64_t safe_id = 0;
  std::int64_t target_id = 0;
  std::map<std::int64_t, std::string> secrets;  // account id -> current plaintext

  static VaultFixture& get() {
    static VaultFixture f;
    return f;
  }

  VaultFixture() {
    server = &sharedServer();
    admin = sharedAdmin();
    auto r = admin->post("/api/v1/safes", {{"name", "prod"}});
    if (r.status != 201) throw std::runtime_error("create safe: " + r.body);
    safe_id = r.json()["id"];
    r = admin->post("/api/v1/targets", {{"name", "db1"}, {"protocol", "ssh"}, {"address", "10.0.0.1"}, {"port", 22}});
    if (r.status != 201) throw std::runtime_error("create target: " + r.body);
    target_id = r.json()["id"];
    createAccount("root", "First-Secret-Value-1");
  }

  std::int64_t createAccount(const std::string& user, const std::string& secret) {
    auto r = admin->post("/api/v1/accounts", {{"safe_id", safe_id},
                                              {"target_id", target_id},
                                              {"username", user},
                                              {"secret_kind", "password"},
                                              {"secret", secret}});
    if (r.status != 201) throw std::runtime_error("create account: " + r.body);
    std::int64_t id = r.json()["id"];
    secrets[id] = secret;
    return id;
  }

  /// After a restart the admin session is gone (new port too).
  void reconnect() {
    admin = std::make_unique<HttpsClient>(server->port());
    auto r = admin->login("admin", kAdminPassword);
    if (r.status != 200) throw std::runtime_error("admin login: " + r.body);
  }

  fs::path dataDir() const { return server->dataDir(); }
  fs::path keyFile() const { return dataDir() / "master.key"; }
};

/// Opens the embedded database in this process and checks every known account secret through
/// the vault service with the key file on disk.
void checkSecretsDecrypt(VaultFixture& f) {
  vigil::store::Store store(pgConninfo(f.dataDir()), 2);
  auto vault = vigil::services::Vault::open(store, f.keyFile(), false);
  REQUIRE(vault);
  for (auto& [id, plain] : f.secrets) {
    INFO("account " << id);
    auto got = vault->accountSecret(id);
    REQUIRE(got.has_value());
    CHECK(std::string(got->data(), got->size()) == plain);
  }
}

std::uint64_t unixNow() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

/// TOTP codes from a base32 secret, never reusing a step (the server refuses replays).
struct Authenticator {
  vigil::crypto::SecureBytes key;
  std::uint64_t last = 0;
  explicit Authenticator(const std::string& b32) : key(*vigil::auth::base32Decode(b32)) {}
  std::string next() {
    // The server accepts now-1..now+1; take the oldest step not used yet.
    std::uint64_t step = std::max<std::uint64_t>(unixNow() / 30 - 1, last + 1);
    last = step;
    return vigil::auth::totpCode(key, step);
  }
};

/// `vigil serve` expected to fail: returns its stderr after checking exit 1 and that the
/// embedded cluster it started was stopped again.
std::string serveMustFail(VaultFixture& f) {
  Run r = run(vigilBin() + " serve -c " + f.server->configPath(), "", 60);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK_FALSE(Contains("Portal:").match(r.out));
  CHECK_FALSE(fs::exists(f.dataDir() / "pg/data/postmaster.pid"));
  return r.err;
}

}  // namespace

TEST_CASE("vault rekey with the server running re-wraps every secret", "[cli][vault]") {
  VaultFixture& f = VaultFixture::get();
  VigilServer& s = *f.server;
  const std::string cfg = s.configPath();

  // A user with TOTP: their secret is in the vault too.
  const std::string tina_pw = "Tinas-Password-For-Tests";
  Run r = vigilCli(cfg, "user add tina --role auditor --password-stdin", tina_pw + "\n");
  REQUIRE(r.code == 0);
  HttpsClient tina(s.port());
  REQUIRE(tina.login("tina", tina_pw).status == 200);
  auto res = tina.post("/api/v1/me/mfa/enroll", nlohmann::json::object());
  REQUIRE(res.status == 200);
  Authenticator totp(res.json()["secret"].get<std::string>());
  res = tina.post("/api/v1/me/mfa/confirm", {{"code", totp.next()}});
  REQUIRE(res.status == 200);
  CHECK(res.json()["user"]["mfa_enrolled"] == true);

  const auto ids_before = keyringIds(f.keyFile());
  REQUIRE(ids_before.size() == 1);
  const std::string old_id = ids_before[0];

  r = vigilCli(cfg, "vault rekey --json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j.value("old_key_id", "") == old_id);
  const std::string new_id = j.value("new_key_id", "");
  CHECK_FALSE(new_id.empty());
  CHECK(new_id != old_id);
  CHECK(j.value("rewrapped", 0) >= 2);  // the account and tina's TOTP secret

  // The keyring holds only the new key, still private.
  CHECK(keyringIds(f.keyFile()) == std::vector<std::string>{new_id});
  CHECK(fileMode(f.keyFile()) == 0600);
  auto q = psql(f.dataDir(), "SELECT DISTINCT secret_key_id FROM accounts");
  CHECK(q.out == new_id);
  q = psql(f.dataDir(), "SELECT DISTINCT totp_key_id FROM users WHERE totp_key_id IS NOT NULL");
  CHECK(q.out == new_id);
  q = psql(f.dataDir(), "SELECT key_id FROM vault_keys WHERE retired_at IS NULL");
  CHECK(q.out == new_id);

  // The running server picked the new key up: new secrets are sealed under it, rotation works.
  const std::int64_t second = f.createAccount("admin", "Second-Secret-Value-2");
  const std::int64_t first = f.secrets.begin()->first;
  res = f.admin->put("/api/v1/accounts/" + std::to_string(first) + "/secret",
                     {{"secret_kind", "password"}, {"secret", "Rotated-Secret-Value-3"}});
  REQUIRE(res.status == 204);
  f.secrets[first] = "Rotated-Secret-Value-3";
  q = psql(f.dataDir(), "SELECT secret_key_id FROM accounts WHERE id IN (" + std::to_string(first) + "," +
                            std::to_string(second) + ")");
  CHECK(q.out == new_id + "\n" + new_id);

  // tina's TOTP still works (her secret was re-wrapped, not lost).
  HttpsClient tina2(s.port());
  res = tina2.login("tina", tina_pw);
  CHECK(res.status == 401);
  CHECK(res.errorCode() == "mfa_required");
  res = tina2.login("tina", tina_pw, totp.next());
  INFO(res.body);
  CHECK(res.status == 200);

  // The audit log has the rekey.
  res = f.admin->get("/api/v1/audit?action=vault_rekey");
  REQUIRE(res.status == 200);
  REQUIRE(res.json()["items"].size() == 1);
  CHECK(res.json()["items"][0]["details"].value("new_key_id", "") == new_id);

  checkSecretsDecrypt(f);

  // A second rekey right after works the same way.
  r = vigilCli(cfg, "vault rekey --json");
  REQUIRE(r.code == 0);
  CHECK(r.json().value("old_key_id", "") == new_id);
  CHECK(r.json().value("rewrapped", 0) >= 3);
  CHECK(keyringIds(f.keyFile()) == std::vector<std::string>{r.json().value("new_key_id", "")});
  checkSecretsDecrypt(f);
  HttpsClient tina3(s.port());
  CHECK(tina3.login("tina", tina_pw, totp.next()).status == 200);
}

TEST_CASE("vigil serve refuses a missing or wrong master key and changes nothing", "[cli][vault]") {
  VaultFixture& f = VaultFixture::get();
  const fs::path key = f.keyFile();
  const fs::path saved = f.dataDir() / "master.key.saved";
  const std::string right = readText(key);
  const auto ids = keyringIds(key);
  REQUIRE(ids.size() == 1);
  const std::string keys_sql = "SELECT key_id, retired_at IS NULL FROM vault_keys ORDER BY key_id";
  const std::string accounts_sql =
      "SELECT id, secret_key_id, md5(secret_wrapped_key), md5(secret_ciphertext) FROM accounts ORDER BY id";
  const std::string vault_keys = psql(f.dataDir(), keys_sql).out;
  const std::string accounts = psql(f.dataDir(), accounts_sql).out;
  REQUIRE_FALSE(accounts.empty());

  REQUIRE(f.server->stop() == 0);
  REQUIRE_FALSE(fs::exists(f.dataDir() / "pg/data/postmaster.pid"));

  // Admin commands work while the server is down: they start the cluster and stop it again.
  {
    Run r = vigilCli(f.server->configPath(), "user add dave --role soc --json");
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.json().value("username", "") == "dave");
    CHECK_FALSE(fs::exists(f.dataDir() / "pg/data/postmaster.pid"));
  }

  // Missing: a clear message, and no new key file is made up.
  fs::rename(key, saved);
  {
    std::string err = serveMustFail(f);
    CHECK_THAT(err, Contains("master key"));
    CHECK_THAT(err, Contains(key.string()));
    CHECK_FALSE(fs::exists(key));
    // The admin commands that need the vault refuse too.
    Run r = vigilCli(f.server->configPath(), "vault rekey");
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains("master key"));
    CHECK_FALSE(fs::exists(key));
    CHECK_FALSE(fs::exists(f.dataDir() / "pg/data/postmaster.pid"));
  }

  // A valid keyring with another key id (e.g. another installation's).
  {
    vigil::crypto::MasterKeyring::create(key);
    const std::string other = readText(key);
    std::string err = serveMustFail(f);
    CHECK_THAT(err, Contains("master key"));
    CHECK_THAT(err, Contains(ids[0]));
    CHECK_THAT(err, Contains("not in"));
    CHECK(readText(key) == other);  // not rewritten
    fs::remove(key);
  }

  // The right key id but other key bytes.
  {
    auto bytes = vigil::crypto::randomBytes(32);
    writeText(key, "vigil-master-key v1 " + ids[0] + " " +
                       vigil::crypto::base64Encode(bytes.data(), bytes.size()) + "\n");
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    std::string err = serveMustFail(f);
    CHECK_THAT(err, Contains("does not match"));
    fs::remove(key);
  }

  // The right key, readable by others: refused with the fix in the message.
  {
    fs::copy_file(saved, key);
    fs::permissions(key,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                    fs::perm_options::replace);
    std::string err = serveMustFail(f);
    CHECK_THAT(err, Contains("chmod 600"));
    fs::remove(key);
  }

  // Restored: the server starts, nothing in the database changed, secrets decrypt.
  fs::rename(saved, key);
  CHECK(readText(key) == right);
  f.server->start();
  f.reconnect();
  CHECK(psql(f.dataDir(), keys_sql).out == vault_keys);
  CHECK(psql(f.dataDir(), accounts_sql).out == accounts);
  CHECK(readText(key) == right);
  checkSecretsDecrypt(f);
  // And it still seals new secrets.
  f.createAccount("backup", "Fourth-Secret-Value-4");
  checkSecretsDecrypt(f);
}
