// Secrets are write-only: account passwords, private keys and TOTP secrets never come back out of
// the API, never reach the logs or the server's output, and are not stored in clear text.
#include "support/api_env.hpp"

using namespace api_test;

namespace {

std::string S(std::int64_t v) { return std::to_string(v); }

/// A fresh ed25519 private key (OpenSSH format), generated for this run only.
std::string generateKey(const std::string& comment) {
  const std::string dir = vigil::test::makeTempDir("vigil-itest-key");
  const std::string file = dir + "/id";
  auto r = vigil::test::runCommand("ssh-keygen -q -t ed25519 -N '' -C '" + comment + "' -f " + file);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::string key = readFile(file);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  REQUIRE(contains(key, "-----BEGIN OPENSSH PRIVATE KEY-----"));
  return key;
}

/// What must never leak of a private key: the whole text and each line of its base64 body.
std::vector<std::string> keyNeedles(const std::string& key) {
  std::vector<std::string> out{key};
  std::istringstream in(key);
  std::string line;
  bool first = true;  // the first base64 line is the same for every unencrypted ed25519 key
  while (std::getline(in, line)) {
    if (line.rfind("-----", 0) == 0) continue;
    if (!first && line.size() >= 40) out.push_back(line);
    first = false;
  }
  return out;
}

struct Needle {
  std::string what;
  std::string text;
};

/// Checks each needle (and, for the database, its hex form, as bytea is dumped in hex) against
/// every place a secret could leak to.
void checkNowhere(const std::vector<Needle>& needles, const std::vector<std::string>& responses) {
  Env& e = env();
  const std::string dump = e.pgDump();
  const std::string logs = e.serverLogs();
  const std::string out = e.server().output();
  // Positive controls: these are the server's real log and output.
  REQUIRE(contains(logs, "listening on"));
  REQUIRE(contains(out, "Portal: https://127.0.0.1:"));
  std::string audit;
  for (auto& row : e.audit()) audit += row.dump() + "\n";
  for (auto& n : needles) {
    INFO("secret: " << n.what);
    REQUIRE(n.text.size() >= 12);
    CHECK_FALSE(contains(dump, n.text));
    CHECK_FALSE(contains(dump, toHex(n.text)));
    CHECK_FALSE(contains(logs, n.text));
    CHECK_FALSE(contains(out, n.text));
    CHECK_FALSE(contains(audit, n.text));
    for (auto& r : responses) CHECK_FALSE(contains(r, n.text));
  }
}

}  // namespace

TEST_CASE("account secrets and TOTP secrets appear in no response, log or database dump", "[api][secrets]") {
  Env& e = env();
  Principal va = e.makeUser({"vault_admin"});
  Principal user = e.makeUser({"admin"});
  auto& V = va.http();
  std::vector<std::string> responses;
  auto keep = [&](const HttpResult& r) {
    responses.push_back(r.body);
    for (auto& [k, v] : r.headers) responses.push_back(k + ": " + v);
    return r;
  };

  const std::string pw1 = "PWMARK-" + randomHex(12) + "-first";
  const std::string pw2 = "PWMARK-" + randomHex(12) + "-rotated";
  const std::string pw3 = "PWMARK-" + randomHex(12) + "-refused";
  const std::string key1 = generateKey("KEYMARK-" + randomHex(8));
  const std::string key2 = generateKey("KEYMARK-" + randomHex(8));
  const std::string acctName = uniq("sec-acct");

  auto safe = keep(V.post("/api/v1/safes", {{"name", uniq("sec-safe")}}));
  REQUIRE(safe.status == 201);
  const auto sid = safe.json()["id"].get<std::int64_t>();
  auto target = keep(V.post("/api/v1/targets", {{"name", uniq("sec-target")}, {"protocol", "ssh"}, {"address", "198.51.100.7"}}));
  REQUIRE(target.status == 201);
  const auto tid = target.json()["id"].get<std::int64_t>();
  REQUIRE(keep(V.put("/api/v1/safes/" + S(sid) + "/members/" + S(user.id), {{"permissions", {"connect"}}})).status == 200);

  auto a1 = keep(V.post("/api/v1/accounts", {{"safe_id", sid}, {"target_id", tid}, {"username", acctName},
                                             {"secret_kind", "password"}, {"secret", pw1}}));
  INFO(a1.body);
  REQUIRE(a1.status == 201);
  const auto id1 = a1.json()["id"].get<std::int64_t>();
  CHECK(a1.json()["secret_set"] == true);
  CHECK(a1.json()["secret_kind"] == "password");
  CHECK_FALSE(a1.json().contains("secret"));

  auto a2 = keep(V.post("/api/v1/accounts", {{"safe_id", sid}, {"target_id", tid}, {"username", acctName + "-key"},
                                             {"secret_kind", "private_key"}, {"secret", key1}}));
  INFO(a2.body);
  REQUIRE(a2.status == 201);
  const auto id2 = a2.json()["id"].get<std::int64_t>();
  CHECK(a2.json()["secret_kind"] == "private_key");

  // Refused requests carrying a secret do not echo it either: duplicate (409) and broken JSON.
  auto dup = keep(V.post("/api/v1/accounts", {{"safe_id", sid}, {"target_id", tid}, {"username", acctName},
                                              {"secret_kind", "password"}, {"secret", pw3}}));
  checkError(dup, 409, "conflict");
  auto broken = keep(V.request("POST", "/api/v1/accounts", "{\"secret\": \"" + pw3 + "\", \"username\": "));
  checkError(broken, 400, "invalid_json");
  auto wrongKind = keep(V.post("/api/v1/accounts", {{"safe_id", sid}, {"target_id", tid}, {"username", uniq("sec-x")},
                                                    {"secret_kind", "private_key"}, {"secret", pw3}}));
  checkError(wrongKind, 400, "validation_failed");
  // A failed login with a marker password: the attempted password is not kept anywhere either.
  auto badLogin = keep(e.newClient()->login(user.username, pw3));
  checkError(badLogin, 401, "invalid_credentials");

  // Every read path.
  keep(V.get("/api/v1/accounts/" + S(id1)));
  keep(V.get("/api/v1/accounts/" + S(id2)));
  keep(V.get("/api/v1/accounts"));
  keep(V.get("/api/v1/accounts?safe_id=" + S(sid)));
  auto mine = keep(user.http().get("/api/v1/my/accounts"));
  REQUIRE(mine.status == 200);
  CHECK(mine.json()["items"].size() == 2);
  keep(user.http().get("/api/v1/accounts/" + S(id1)));
  keep(e.admin().get("/api/v1/audit?limit=500"));

  // Rotation: 204, and neither the old nor the new value shows up anywhere.
  auto rot1 = keep(V.put("/api/v1/accounts/" + S(id1) + "/secret", {{"secret_kind", "password"}, {"secret", pw2}}));
  CHECK(rot1.status == 204);
  CHECK(rot1.body.empty());
  auto rot2 = keep(V.put("/api/v1/accounts/" + S(id2) + "/secret", {{"secret_kind", "private_key"}, {"secret", key2}}));
  CHECK(rot2.status == 204);
  auto after = keep(V.get("/api/v1/accounts/" + S(id2)));
  CHECK(after.json()["secret_kind"] == "private_key");
  CHECK(after.json()["secret_set"] == true);
  keep(V.get("/api/v1/accounts"));
  keep(user.http().get("/api/v1/my/accounts"));

  // TOTP: the secret is shown once, at enrolment, and nowhere after that.
  Principal t = e.makeUser({"soc"});
  auto enroll = t.http().post("/api/v1/me/mfa/enroll", json::object());
  REQUIRE(enroll.status == 200);
  const std::string totpSecret = enroll.json()["secret"].get<std::string>();
  REQUIRE(totpSecret.size() >= 16);
  CHECK(contains(enroll.json()["otpauth_uri"].get<std::string>(), totpSecret));
  auto confirm = keep(t.http().post("/api/v1/me/mfa/confirm", {{"code", totpAt(base32Decode(totpSecret), nowStep())}}));
  INFO(confirm.body);
  REQUIRE(confirm.status == 200);
  CHECK(confirm.json()["user"]["mfa_enrolled"] == true);
  keep(t.http().get("/api/v1/me"));
  keep(e.admin().get("/api/v1/users/" + S(t.id)));
  keep(e.admin().get("/api/v1/users?limit=500"));
  const auto rawKey = base32Decode(totpSecret);
  const std::string rawKeyStr(rawKey.begin(), rawKey.end());

  // Positive controls: the dump does hold the rows, so an absent secret means something.
  const std::string dump = e.pgDump();
  CHECK(contains(dump, acctName));
  CHECK(contains(dump, t.username));

  std::vector<Needle> needles{{"password 1", pw1}, {"password 2 (rotated)", pw2}, {"refused password", pw3},
                              {"TOTP secret (base32)", totpSecret}, {"TOTP key bytes", rawKeyStr},
                              {"user password", t.password}};
  for (auto& n : keyNeedles(key1)) needles.push_back({"private key 1", n});
  for (auto& n : keyNeedles(key2)) needles.push_back({"private key 2 (rotated)", n});
  checkNowhere(needles, responses);
}

TEST_CASE("the session cookie is not stored in the database or logs", "[api][secrets]") {
  Env& e = env();
  Principal p = e.makeUser({"auditor"});
  const std::string cookie = p.http().cookie();
  REQUIRE(cookie.size() >= 32);
  REQUIRE(p.http().get("/api/v1/me").status == 200);
  const std::string dump = e.pgDump();
  CHECK_FALSE(contains(dump, cookie));
  CHECK_FALSE(contains(e.serverLogs(), cookie));
  CHECK_FALSE(contains(e.server().output(), cookie));
}
