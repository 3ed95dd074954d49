// Hostile and malformed input: every refusal is a 4xx JSON error with error.code, nothing is
// stored, and the server keeps answering. Injection strings are stored verbatim or refused.
#include <set>

#include "support/api_env.hpp"

using namespace api_test;

namespace {

std::string S(std::int64_t v) { return std::to_string(v); }

/// Ids of everything a refused request could have created.
struct Snapshot {
  std::set<std::int64_t> safes, targets, accounts, users;
  bool operator==(const Snapshot& o) const {
    return safes == o.safes && targets == o.targets && accounts == o.accounts && users == o.users;
  }
};

Snapshot snapshot() {
  Snapshot s;
  for (auto& i : env().listAll("/api/v1/safes")) s.safes.insert(i["id"].get<std::int64_t>());
  for (auto& i : env().listAll("/api/v1/targets")) s.targets.insert(i["id"].get<std::int64_t>());
  for (auto& i : env().listAll("/api/v1/accounts")) s.accounts.insert(i["id"].get<std::int64_t>());
  for (auto& i : env().listAll("/api/v1/users")) s.users.insert(i["id"].get<std::int64_t>());
  return s;
}

struct Fixture {
  Principal va = env().makeUser({"vault_admin"});
  std::int64_t safe = 0, target = 0;
  Fixture() {
    auto s = va.http().post("/api/v1/safes", {{"name", uniq("bad-safe")}});
    REQUIRE(s.status == 201);
    safe = s.json()["id"].get<std::int64_t>();
    auto t = va.http().post("/api/v1/targets", {{"name", uniq("bad-target")}, {"protocol", "ssh"}, {"address", "192.0.2.1"}});
    REQUIRE(t.status == 201);
    target = t.json()["id"].get<std::int64_t>();
  }
  json account(const std::string& username) const {
    return {{"safe_id", safe}, {"target_id", target}, {"username", username}, {"secret_kind", "password"}, {"secret", "Secret-pw-1"}};
  }
};

struct Bad {
  std::string what;
  std::string method, path, body, content_type;
  int status;
  std::vector<std::string> codes;  // any of these
};

/// Sends each request; each must be refused with a JSON error, store nothing, and leave the
/// server answering.
void runRefused(HttpsClient& c, const std::vector<Bad>& cases) {
  const Snapshot before = snapshot();
  for (auto& b : cases) {
    INFO(b.what << ": " << b.method << " " << b.path << " body=" << b.body.substr(0, 120));
    HttpResult r;
    REQUIRE_NOTHROW(r = c.request(b.method, b.path, b.body, b.content_type));
    INFO("-> " << r.status << " " << r.body.substr(0, 300));
    CHECK(r.status == b.status);
    CHECK(std::find(b.codes.begin(), b.codes.end(), r.errorCode()) != b.codes.end());
    CHECK(header(r, "content-type").rfind("application/json", 0) == 0);
    checkAlive();
  }
  CHECK(snapshot() == before);
}

const std::vector<std::string> V{"validation_failed"};
const std::vector<std::string> J{"invalid_json"};
const std::vector<std::string> JV{"invalid_json", "validation_failed"};

}  // namespace

TEST_CASE("malformed bodies: bad JSON, non-objects, invalid UTF-8, wrong content type, oversize", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  const std::string safes = "/api/v1/safes";
  std::vector<Bad> cases{
      {"truncated JSON", "POST", safes, "{\"name\": ", "application/json", 400, J},
      {"trailing garbage", "POST", safes, "{\"name\": \"x\"} x", "application/json", 400, J},
      {"single quotes", "POST", safes, "{'name': 'x'}", "application/json", 400, J},
      {"JSON array", "POST", safes, "[{\"name\": \"x\"}]", "application/json", 400, J},
      {"JSON string", "POST", safes, "\"x\"", "application/json", 400, J},
      {"JSON number", "POST", safes, "42", "application/json", 400, J},
      {"JSON null", "POST", safes, "null", "application/json", 400, J},
      {"array on PATCH", "PATCH", safes + "/" + S(f.safe), "[]", "application/json", 400, J},
      {"array on PUT members", "PUT", safes + "/" + S(f.safe) + "/members/" + S(f.va.id), "[\"connect\"]", "application/json", 400, J},
      {"array on login", "POST", "/api/v1/auth/login", "[]", "application/json", 400, J},
      {"raw invalid UTF-8 bytes", "POST", safes, "\xff\xfe", "application/json", 400, JV},
      {"invalid UTF-8 in a string", "POST", safes, "{\"name\": \"bad\xff\xfe name\"}", "application/json", 400, JV},
      {"overlong UTF-8 encoding", "POST", safes, "{\"name\": \"\xc0\xaf\"}", "application/json", 400, JV},
      {"UTF-16 surrogate in UTF-8", "POST", safes, "{\"name\": \"\xed\xa0\x80\"}", "application/json", 400, JV},
      {"lone surrogate escape", "POST", safes, "{\"name\": \"\\ud800\"}", "application/json", 400, JV},
      {"invalid UTF-8 in a target", "POST", "/api/v1/targets",
       "{\"name\": \"t\xff\", \"protocol\": \"ssh\", \"address\": \"h\"}", "application/json", 400, JV},
      {"text/plain", "POST", safes, "{\"name\": \"" + uniq("plain") + "\"}", "text/plain", 415, {"unsupported_media_type"}},
      {"form encoded", "POST", safes, "name=x", "application/x-www-form-urlencoded", 415, {"unsupported_media_type"}},
      {"no content type", "POST", safes, "{\"name\": \"" + uniq("noct") + "\"}", "", 415, {"unsupported_media_type"}},
      {"text/plain on PATCH", "PATCH", safes + "/" + S(f.safe), "{\"description\": \"x\"}", "text/plain", 415,
       {"unsupported_media_type"}},
      {"oversize body (1 MiB + 1 KiB)", "POST", safes,
       "{\"name\": \"" + uniq("huge") + "\", \"description\": \"" + std::string((1 << 20) + 1024, 'a') + "\"}",
       "application/json", 413, {"payload_too_large"}},
      {"deeply nested JSON", "POST", safes, std::string(200000, '[') + std::string(200000, ']'), "application/json", 400, J},
      {"deeply nested unterminated JSON", "POST", safes, std::string(500000, '['), "application/json", 400, J},
  };
  runRefused(c, cases);
  // The PATCHed safe is untouched.
  CHECK(c.get(safes + "/" + S(f.safe)).json()["description"] == "");
}

TEST_CASE("wrong types, unknown and missing fields, out-of-range values", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  const std::string sp = "/api/v1/safes/" + S(f.safe);
  const std::string tp = "/api/v1/targets/" + S(f.target);
  auto t = [](json extra) {
    json b{{"name", uniq("bt")}, {"protocol", "ssh"}, {"address", "192.0.2.2"}};
    for (auto& [k, v] : extra.items()) {
      if (v.is_null()) b.erase(k);
      else b[k] = v;
    }
    return b.dump();
  };
  auto sf = [](json extra) {
    json b{{"name", uniq("bs")}};
    for (auto& [k, v] : extra.items()) {
      if (v.is_null()) b.erase(k);
      else b[k] = v;
    }
    return b.dump();
  };
  const std::string js = "application/json";
  std::vector<Bad> cases{
      // wrong types
      {"name: 5", "POST", "/api/v1/safes", json{{"name", 5}}.dump(), js, 400, V},
      {"name: true", "POST", "/api/v1/safes", json{{"name", true}}.dump(), js, 400, V},
      {"name: object", "POST", "/api/v1/safes", json{{"name", {{"a", 1}}}}.dump(), js, 400, V},
      {"description: array", "POST", "/api/v1/safes", sf({{"description", {"x"}}}), js, 400, V},
      {"policy: string", "POST", "/api/v1/safes", sf({{"policy", "strict"}}), js, 400, V},
      {"retention_days: \"x\"", "POST", "/api/v1/safes", sf({{"policy", {{"retention_days", "x"}}}}), js, 400, V},
      {"retention_days: 1.5", "POST", "/api/v1/safes", sf({{"policy", {{"retention_days", 1.5}}}}), js, 400, V},
      {"record_sessions: \"yes\"", "POST", "/api/v1/safes", sf({{"policy", {{"record_sessions", "yes"}}}}), js, 400, V},
      {"allowed_protocols: \"ssh\"", "POST", "/api/v1/safes", sf({{"policy", {{"allowed_protocols", "ssh"}}}}), js, 400, V},
      {"allowed_protocols: [1]", "POST", "/api/v1/safes", sf({{"policy", {{"allowed_protocols", {1}}}}}), js, 400, V},
      {"allowed_protocols: [\"telnet\"]", "POST", "/api/v1/safes", sf({{"policy", {{"allowed_protocols", {"telnet"}}}}}), js, 400, V},
      {"port: \"22\"", "POST", "/api/v1/targets", t({{"port", "22"}}), js, 400, V},
      {"port: 22.5", "POST", "/api/v1/targets", t({{"port", 22.5}}), js, 400, V},
      {"protocol: 1", "POST", "/api/v1/targets", t({{"protocol", 1}}), js, 400, V},
      {"protocol: telnet", "POST", "/api/v1/targets", t({{"protocol", "telnet"}}), js, 400, V},
      {"safe_id: \"1\"", "POST", "/api/v1/accounts",
       json{{"safe_id", S(f.safe)}, {"target_id", f.target}, {"username", "x"}, {"secret_kind", "password"}, {"secret", "y"}}.dump(),
       js, 400, V},
      {"secret: 5", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"}, {"secret", 5}}.dump(),
       js, 400, V},
      {"secret_kind: token", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "token"}, {"secret", "y"}}.dump(),
       js, 400, V},
      {"permissions: \"connect\"", "PUT", sp + "/members/" + S(f.va.id), json{{"permissions", "connect"}}.dump(), js, 400, V},
      {"permissions: [\"root\"]", "PUT", sp + "/members/" + S(f.va.id), json{{"permissions", {"root"}}}.dump(), js, 400, V},
      {"permissions: []", "PUT", sp + "/members/" + S(f.va.id), json{{"permissions", json::array()}}.dump(), js, 400, V},
      {"login username: 5", "POST", "/api/v1/auth/login", json{{"username", 5}, {"password", "x"}}.dump(), js, 400, V},
      // unknown fields (typos must not be ignored)
      {"unknown field", "POST", "/api/v1/safes", sf({{"nmae", "x"}}), js, 400, V},
      {"unknown policy field", "POST", "/api/v1/safes", sf({{"policy", {{"retention", 5}}}}), js, 400, V},
      {"unknown target field", "POST", "/api/v1/targets", t({{"hostname", "x"}}), js, 400, V},
      {"unknown account field", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"}, {"secret", "y"},
            {"owner", "me"}}.dump(),
       js, 400, V},
      {"unknown login field", "POST", "/api/v1/auth/login", json{{"username", "a"}, {"password", "b"}, {"admin", true}}.dump(), js,
       400, V},
      // missing required fields
      {"safe without name", "POST", "/api/v1/safes", json{{"description", "x"}}.dump(), js, 400, V},
      {"safe with empty body", "POST", "/api/v1/safes", "{}", js, 400, V},
      {"safe with blank name", "POST", "/api/v1/safes", json{{"name", "   "}}.dump(), js, 400, V},
      {"target without address", "POST", "/api/v1/targets", t({{"address", nullptr}}), js, 400, V},
      {"target without protocol", "POST", "/api/v1/targets", t({{"protocol", nullptr}}), js, 400, V},
      {"account without secret", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"}}.dump(), js, 400, V},
      {"account with empty secret", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"}, {"secret", ""}}.dump(),
       js, 400, V},
      {"account without safe_id", "POST", "/api/v1/accounts",
       json{{"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"}, {"secret", "y"}}.dump(), js, 400, V},
      {"account for a missing target", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", 999999999}, {"username", uniq("x")}, {"secret_kind", "password"}, {"secret", "y"}}.dump(),
       js, 400, V},
      {"login without password", "POST", "/api/v1/auth/login", json{{"username", "a"}}.dump(), js, 400, V},
      // out of range
      {"port 70000", "POST", "/api/v1/targets", t({{"port", 70000}}), js, 400, V},
      {"port 0", "POST", "/api/v1/targets", t({{"port", 0}}), js, 400, V},
      {"port -22", "POST", "/api/v1/targets", t({{"port", -22}}), js, 400, V},
      {"port 2^63", "POST", "/api/v1/targets", "{\"name\":\"" + uniq("p") + "\",\"protocol\":\"ssh\",\"address\":\"h\",\"port\":9223372036854775808}",
       js, 400, V},
      {"retention_days 0", "POST", "/api/v1/safes", sf({{"policy", {{"retention_days", 0}}}}), js, 400, V},
      {"retention_days 36501", "POST", "/api/v1/safes", sf({{"policy", {{"retention_days", 36501}}}}), js, 400, V},
      {"retention_days -1 on PATCH", "PATCH", sp, json{{"policy", {{"retention_days", -1}}}}.dump(), js, 400, V},
      {"port 65536 on PATCH", "PATCH", tp, json{{"port", 65536}}.dump(), js, 400, V},
      {"name of 129 bytes", "POST", "/api/v1/safes", json{{"name", std::string(129, 'n')}}.dump(), js, 400, V},
      {"description of 2001 bytes", "POST", "/api/v1/safes", sf({{"description", std::string(2001, 'd')}}), js, 400, V},
      {"password secret of 1025 bytes", "POST", "/api/v1/accounts",
       json{{"safe_id", f.safe}, {"target_id", f.target}, {"username", uniq("x")}, {"secret_kind", "password"},
            {"secret", std::string(1025, 's')}}.dump(),
       js, 400, V},
      // bad fingerprints and addresses
      {"ssh fingerprint too short", "POST", "/api/v1/targets", t({{"host_key_fingerprint", "SHA256:abc"}}), js, 400, V},
      {"ssh fingerprint MD5 style", "POST", "/api/v1/targets",
       t({{"host_key_fingerprint", "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"}}), js, 400, V},
      {"ssh fingerprint without prefix", "POST", "/api/v1/targets",
       t({{"host_key_fingerprint", "nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"}}), js, 400, V},
      {"ssh fingerprint with bad characters", "POST", "/api/v1/targets",
       t({{"host_key_fingerprint", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5S*8"}}), js, 400, V},
      {"ssh fingerprint with newline", "POST", "/api/v1/targets",
       t({{"host_key_fingerprint", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8\n"}}), js, 400, V},
      {"cert fingerprint too short", "POST", "/api/v1/targets", t({{"protocol", "rdp"}, {"certificate_fingerprint", "AB:CD"}}), js,
       400, V},
      {"cert fingerprint non-hex", "POST", "/api/v1/targets",
       t({{"protocol", "rdp"}, {"certificate_fingerprint", "ZZ" + [] {
            std::string s;
            for (int i = 0; i < 31; ++i) s += ":AB";
            return s;
          }()}}),
       js, 400, V},
      {"cert fingerprint SHA-1 length", "POST", "/api/v1/targets",
       t({{"protocol", "rdp"}, {"certificate_fingerprint", "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"}}), js, 400, V},
      {"cert fingerprint without colons", "POST", "/api/v1/targets",
       t({{"protocol", "rdp"}, {"certificate_fingerprint", std::string(64, 'A')}}), js, 400, V},
      {"bad fingerprint on PATCH", "PATCH", tp, json{{"host_key_fingerprint", "SHA256:x"}}.dump(), js, 400, V},
      {"address with a space", "POST", "/api/v1/targets", t({{"address", "host name"}}), js, 400, V},
      {"address with a shell metacharacter", "POST", "/api/v1/targets", t({{"address", "host;rm -rf /"}}), js, 400, V},
      {"address as URL", "POST", "/api/v1/targets", t({{"address", "http://host/"}}), js, 400, V},
      // control characters in names
      {"NUL in name", "POST", "/api/v1/safes", json{{"name", std::string("a\0b", 3)}}.dump(), js, 400, V},
      {"SOH in name", "POST", "/api/v1/safes", json{{"name", "a\x01" "b"}}.dump(), js, 400, V},
      {"ESC in name", "POST", "/api/v1/safes", json{{"name", "a\x1b[31mred"}}.dump(), js, 400, V},
      {"DEL in name", "POST", "/api/v1/safes", json{{"name", "a\x7f" "b"}}.dump(), js, 400, V},
      {"newline in name", "POST", "/api/v1/safes", json{{"name", "a\nb"}}.dump(), js, 400, V},
      {"CR in target name", "POST", "/api/v1/targets", t({{"name", "a\rb"}}), js, 400, V},
      {"tab in account username", "POST", "/api/v1/accounts", json(f.account("a\tb")).dump(), js, 400, V},
      {"BEL in description", "POST", "/api/v1/safes", sf({{"description", "ring\x07"}}), js, 400, V},
      {"control char in PATCH name", "PATCH", sp, json{{"name", "x\x02y"}}.dump(), js, 400, V},
      {"control char in username", "POST", "/api/v1/auth/login", json{{"username", "a\x01"}, {"password", "b"}}.dump(), js, 400, V},
  };
  runRefused(c, cases);
  CHECK(c.get(sp).json()["policy"]["retention_days"] == 90);
  CHECK(c.get(tp).json()["port"] == 22);

  // Users (superuser): wrong types, unknown roles, weak passwords, control characters.
  std::vector<Bad> users{
      {"roles: \"admin\"", "POST", "/api/v1/users", json{{"username", uniq("bu")}, {"roles", "admin"}, {"password", "Good-password-1"}}.dump(),
       js, 400, V},
      {"roles: [\"root\"]", "POST", "/api/v1/users",
       json{{"username", uniq("bu")}, {"roles", {"root"}}, {"password", "Good-password-1"}}.dump(), js, 400, V},
      {"missing password", "POST", "/api/v1/users", json{{"username", uniq("bu")}, {"roles", {"soc"}}}.dump(), js, 400, V},
      {"short password", "POST", "/api/v1/users", json{{"username", uniq("bu")}, {"roles", {"soc"}}, {"password", "short"}}.dump(),
       js, 400, V},
      {"password: 123456789012", "POST", "/api/v1/users",
       json{{"username", uniq("bu")}, {"roles", {"soc"}}, {"password", 123456789012LL}}.dump(), js, 400, V},
      {"username with space", "POST", "/api/v1/users",
       json{{"username", "a b"}, {"roles", {"soc"}}, {"password", "Good-password-1"}}.dump(), js, 400, V},
      {"username with slash", "POST", "/api/v1/users",
       json{{"username", "a/b"}, {"roles", {"soc"}}, {"password", "Good-password-1"}}.dump(), js, 400, V},
      {"username with ESC", "POST", "/api/v1/users",
       json{{"username", "a\x1b" "b"}, {"roles", {"soc"}}, {"password", "Good-password-1"}}.dump(), js, 400, V},
      {"display_name with newline", "POST", "/api/v1/users",
       json{{"username", uniq("bu")}, {"display_name", "a\nb"}, {"roles", {"soc"}}, {"password", "Good-password-1"}}.dump(), js, 400, V},
      {"unknown user field", "POST", "/api/v1/users",
       json{{"username", uniq("bu")}, {"roles", {"soc"}}, {"password", "Good-password-1"}, {"superuser", true}}.dump(), js, 400, V},
      {"locked: \"yes\"", "PATCH", "/api/v1/users/" + S(f.va.id), json{{"locked", "yes"}}.dump(), js, 400, V},
      {"roles: null on PATCH", "PATCH", "/api/v1/users/" + S(f.va.id), json{{"roles", nullptr}}.dump(), js, 400, V},
  };
  runRefused(env().admin(), users);
  CHECK(env().admin().get("/api/v1/users/" + S(f.va.id)).json()["roles"] == json{"vault_admin"});
}

// Regression test (fixed): checkText in web/api/context.cpp rejects only C0 bytes and
// DEL; C1 control characters (U+0080..U+009F, e.g. U+009B CSI, a terminal escape introducer) are
// stored although docs/api.md says "no control characters".
TEST_CASE("C1 control characters in names are refused", "[api][input]") {
  Fixture f;
  runRefused(f.va.http(), {
                              {"U+009B CSI in name", "POST", "/api/v1/safes", json{{"name", "a\xc2\x9b" "31mred"}}.dump(),
                               "application/json", 400, V},
                              {"U+0085 NEL in target name", "POST", "/api/v1/targets",
                               json{{"name", "a\xc2\x85" "b"}, {"protocol", "ssh"}, {"address", "h"}}.dump(), "application/json",
                               400, V},
                          });
}

TEST_CASE("duplicates are 409 conflict and store nothing", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  auto safe = c.get("/api/v1/safes/" + S(f.safe)).json();
  auto target = c.get("/api/v1/targets/" + S(f.target)).json();
  const std::string acct = uniq("dup-acct");
  REQUIRE(c.post("/api/v1/accounts", f.account(acct)).status == 201);
  Principal u = env().makeUser({"soc"}, false);
  auto other = c.post("/api/v1/safes", {{"name", uniq("dup-other")}});
  REQUIRE(other.status == 201);

  const Snapshot before = snapshot();
  checkError(c.post("/api/v1/safes", {{"name", safe["name"]}}), 409, "conflict");
  checkError(c.post("/api/v1/targets", {{"name", target["name"]}, {"protocol", "rdp"}, {"address", "h2"}}), 409, "conflict");
  checkError(c.post("/api/v1/accounts", f.account(acct)), 409, "conflict");
  checkError(env().admin().post("/api/v1/users", {{"username", u.username}, {"roles", {"admin"}}, {"password", "Another-pass-1"}}),
             409, "conflict");
  // Renaming onto an existing name is a conflict too.
  checkError(c.patch("/api/v1/safes/" + S(other.json()["id"].get<std::int64_t>()), {{"name", safe["name"]}}), 409, "conflict");
  CHECK(snapshot() == before);
  CHECK(c.get("/api/v1/safes/" + S(other.json()["id"].get<std::int64_t>())).json()["name"] == other.json()["name"]);
  // Still usable: a safe holding an account cannot be deleted, nor its target.
  checkError(c.del("/api/v1/safes/" + S(f.safe)), 409, "conflict");
  checkError(c.del("/api/v1/targets/" + S(f.target)), 409, "conflict");
  CHECK(snapshot() == before);
  checkAlive();
}

TEST_CASE("SQL and HTML injection strings are stored verbatim or refused, never executed", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  const std::vector<std::string> payloads{
      "x'); DROP TABLE safes;--", "x\"; DROP TABLE targets; --", "' OR '1'='1", "1; DELETE FROM users WHERE 1=1; --",
      "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{7*7}} ${7*7} %s %n \\' \\\\",
      "Robert'); DROP TABLE accounts;-- \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91"};
  int stored = 0, refused = 0;
  auto verbatim = [&](const HttpResult& r, const std::string& path, const std::map<std::string, std::string>& fields) {
    INFO(path << " -> " << r.status << " " << r.body.substr(0, 300));
    if (r.status == 400) {
      CHECK(r.errorCode() == "validation_failed");
      ++refused;
      return;
    }
    REQUIRE(r.status == 201);
    ++stored;
    auto id = r.json()["id"].get<std::int64_t>();
    auto back = (path == "/api/v1/users" ? env().admin() : c).get(path + "/" + S(id));
    REQUIRE(back.status == 200);
    for (auto& [k, v] : fields) {
      CHECK(r.json()[k] == v);
      CHECK(back.json()[k] == v);
    }
  };
  for (auto& p : payloads) {
    INFO("payload: " << p);
    const std::string name = uniq("inj") + " " + p;
    verbatim(c.post("/api/v1/safes", {{"name", name}, {"description", p}}), "/api/v1/safes", {{"name", name}, {"description", p}});
    verbatim(c.post("/api/v1/targets", {{"name", name}, {"protocol", "ssh"}, {"address", "192.0.2.3"}, {"description", p}}),
             "/api/v1/targets", {{"name", name}, {"description", p}});
    // Address and fingerprints are strictly validated: the payload must be refused there.
    checkError(c.post("/api/v1/targets", {{"name", uniq("inj-a")}, {"protocol", "ssh"}, {"address", p}}), 400, "validation_failed");
    checkError(c.post("/api/v1/targets", {{"name", uniq("inj-f")}, {"protocol", "ssh"}, {"address", "h"}, {"host_key_fingerprint", p}}),
               400, "validation_failed");
    verbatim(c.post("/api/v1/accounts", {{"safe_id", f.safe}, {"target_id", f.target}, {"username", name}, {"secret_kind", "password"},
                                         {"secret", p}, {"description", p}}),
             "/api/v1/accounts", {{"username", name}, {"description", p}});
    verbatim(env().admin().post("/api/v1/users", {{"username", uniq("inj") + p}, {"display_name", p}, {"roles", {"soc"}},
                                                  {"password", "Injection-pw-1"}}),
             "/api/v1/users", {{"display_name", p}});
    verbatim(env().admin().post("/api/v1/users", {{"username", uniq("injd")}, {"display_name", p}, {"roles", {"soc"}},
                                                  {"password", "Injection-pw-1"}}),
             "/api/v1/users", {{"display_name", p}});
    // In the login form and in query strings.
    checkError(env().newClient()->login(p, p), 401, "invalid_credentials");
    auto q = env().admin().get("/api/v1/audit?limit=500&actor=" + urlEncode(p));
    REQUIRE(q.status == 200);
    CHECK(q.json()["items"].size() >= 1);  // the failed login just above
    const json rows = q.json();
    for (auto& row : rows["items"]) CHECK(row["actor"] == p);  // an exact match, not "all rows"
    auto none = env().admin().get("/api/v1/audit?limit=500&action=" + urlEncode(p));
    REQUIRE(none.status == 200);
    CHECK(none.json()["items"].empty());
  }
  CHECK(stored > 0);
  CHECK(refused > 0);  // at least the usernames with spaces or slashes
  // Every table is still there and readable.
  for (const char* p : {"/api/v1/safes", "/api/v1/targets", "/api/v1/accounts", "/api/v1/users", "/api/v1/audit"})
    CHECK(env().admin().get(p).status == 200);
  CHECK(env().psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN "
                   "('safes','targets','accounts','users','audit_log','safe_members','portal_sessions')") == "7");
  // JSON-escaped on the way out: the raw HTML never appears unescaped outside a JSON string.
  auto list = c.get("/api/v1/safes?limit=500");
  CHECK(header(list, "content-type").rfind("application/json", 0) == 0);
  CHECK(list.json().is_object());
  checkAlive();
}

TEST_CASE("unknown endpoints, wrong methods, bad ids and bad query parameters", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  auto anon = env().newClient();
  checkError(c.get("/api/v1/nope"), 404, "not_found");
  checkError(c.get("/api/v1"), 404, "not_found");
  checkError(c.get("/api/v1/"), 404, "not_found");
  checkError(c.get("/api/v1/safes/1/nope"), 404, "not_found");
  checkError(c.post("/api/v1/nope", json::object()), 404, "not_found");
  checkError(anon->get("/api/v1/nope"), 404, "not_found");
  checkError(c.del("/api/v1/safes"), 405, "method_not_allowed");
  checkError(c.put("/api/v1/targets/" + S(f.target), json::object()), 405, "method_not_allowed");
  checkError(c.get("/api/v1/auth/login"), 405, "method_not_allowed");
  checkError(c.request("PATCH", "/api/v1/audit", "{}"), 405, "method_not_allowed");
  checkError(c.post("/api/v1/my/accounts", json::object()), 405, "method_not_allowed");
  for (const char* coll : {"safes", "targets", "accounts", "users"}) {
    auto& who = std::string(coll) == "users" ? env().admin() : c;
    for (const char* id : {"abc", "1abc", "0", "-1", "1.0", "0x10", "99999999999999999999", "%31"}) {
      INFO(coll << "/" << id);
      checkError(who.get(std::string("/api/v1/") + coll + "/" + id), 404, "not_found");
    }
  }
  checkError(c.get("/api/v1/safes/abc/members"), 404, "not_found");
  checkError(c.put("/api/v1/safes/" + S(f.safe) + "/members/abc", {{"permissions", {"connect"}}}), 404, "not_found");
  checkError(c.put("/api/v1/safes/" + S(f.safe) + "/members/999999999", {{"permissions", {"connect"}}}), 404, "not_found");
  checkError(c.patch("/api/v1/safes/999999999", {{"description", "x"}}), 404, "not_found");
  checkError(c.del("/api/v1/targets/999999999"), 404, "not_found");
  checkError(env().admin().post("/api/v1/users/abc/mfa-reset", json::object()), 404, "not_found");
  checkError(c.get("/api/v1/accounts?safe_id=abc"), 400, "validation_failed");
  checkError(c.get("/api/v1/safes?after=abc"), 400, "validation_failed");
  checkError(c.get("/api/v1/safes?after=-1"), 400, "validation_failed");
  checkError(c.get("/api/v1/targets?limit=1x"), 400, "validation_failed");
  CHECK(c.get("/api/v1/safes/" + S(f.safe)).status == 200);
  checkAlive();
}

// Regression test (fixed): web/api/account_routes.cpp list() parses ?safe_id= with std::stoll,
// which accepts a numeric prefix ("1abc" -> 1) and leading blanks, unlike limit/after (strict).
TEST_CASE("a non-integer safe_id filter is refused", "[api][input]") {
  Fixture f;
  auto& c = f.va.http();
  checkError(c.get("/api/v1/accounts?safe_id=" + S(f.safe) + "abc"), 400, "validation_failed");
  checkError(c.get("/api/v1/accounts?safe_id=%20" + S(f.safe)), 400, "validation_failed");
}
