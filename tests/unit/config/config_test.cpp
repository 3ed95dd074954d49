// parseConfig / loadConfig: documented defaults (docs/config.md), and every invalid input stops
// start-up with a vigil::ConfigError whose key() is the dotted path of the offending key.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/config.hpp"

using vigil::Config;
using vigil::ConfigError;
using vigil::parseConfig;
using Catch::Matchers::Contains;

namespace {

/// Parses `yaml`, expects a ConfigError and returns it (fails the test otherwise).
ConfigError configError(const std::string& yaml) {
  try {
    parseConfig(yaml);
  } catch (const ConfigError& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("expected vigil::ConfigError, got another exception: " << e.what() << "\nfor:\n" << yaml);
  }
  FAIL("expected vigil::ConfigError, parsed fine:\n" << yaml);
  throw std::logic_error("unreachable");
}

void expectKey(const std::string& yaml, const std::string& key) {
  INFO("yaml:\n" << yaml);
  ConfigError e = configError(yaml);
  INFO("what(): " << e.what());
  CHECK(e.key() == key);
  // what() is "config: <key>: <reason>" so the operator sees the key too.
  CHECK_THAT(std::string(e.what()), Contains("config: " + key + ": "));
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("empty text gives the documented defaults", "[config]") {
  for (const char* text : {"", "\n", "# only a comment\n", "---\n"}) {
    INFO("text: '" << text << "'");
    Config c = parseConfig(text);
    CHECK(c.data_dir == (geteuid() == 0 ? std::filesystem::path("/var/lib/vigil")
                                         : std::filesystem::path(std::getenv("HOME")) / ".local/share/vigil"));
    CHECK(c.master_key_file.empty());
    CHECK(c.masterKeyPath() == c.data_dir / "master.key");
    CHECK(c.certPath() == c.data_dir / "tls/cert.pem");
    CHECK(c.keyPath() == c.data_dir / "tls/key.pem");
    CHECK(c.embeddedPgDir() == c.data_dir / "pg");
    CHECK(c.web_root == VIGIL_DEFAULT_WEB_ROOT);
    CHECK(c.sql_dir == VIGIL_DEFAULT_SQL_DIR);

    CHECK(c.listen.address == "127.0.0.1");
    CHECK(c.listen.port == 8443);
    CHECK(c.listen.public_url.empty());
    CHECK(c.publicUrl(8443) == "https://127.0.0.1:8443/");

    CHECK(c.tls.cert_file.empty());
    CHECK(c.tls.key_file.empty());

    CHECK(c.database.url.empty());
    CHECK(c.database.pool_size == 8);
    CHECK(c.database.postgres_bin_dir == "/usr/lib/postgresql/15/bin");

    CHECK(c.auth.lockout_threshold == 5);
    CHECK(c.auth.lockout_minutes == 15);
    CHECK(c.auth.session_idle_minutes == 30);
    CHECK(c.auth.session_absolute_hours == 12);
    CHECK(c.auth.argon2_t_cost == 3u);
    CHECK(c.auth.argon2_m_cost_kib == 65536u);
    CHECK(c.auth.argon2_parallelism == 1u);
    CHECK(c.auth.totp_issuer == "Vigil");

    CHECK(c.http.max_body_bytes == 1048576u);
    CHECK(c.http.header_timeout_seconds == 10);
    CHECK(c.http.idle_timeout_seconds == 60);
    CHECK(c.http.io_threads == 2);
    CHECK(c.http.worker_threads == 8);

    CHECK(c.log.level == "info");
    CHECK(c.log.file.empty());

    CHECK_FALSE(c.ldap.enabled);
    CHECK(c.ldap.url.empty());
    CHECK_FALSE(c.ldap.start_tls);
    CHECK(c.ldap.user_filter == "(uid={username})");
    CHECK(c.ldap.group_filter == "(|(member={dn})(uniqueMember={dn})(memberUid={username}))");
    CHECK(c.ldap.group_name_attr == "cn");
    CHECK(c.ldap.display_name_attr == "cn");
    CHECK(c.ldap.group_roles.empty());
    CHECK(c.ldap.timeout == std::chrono::milliseconds(5000));
  }
}

TEST_CASE("an unknown top-level key is refused", "[config]") {
  expectKey("data_dir: /tmp/x\nlisten_port: 8443\n", "listen_port");
  expectKey("dataDir: /tmp/x\n", "dataDir");
}

TEST_CASE("an unknown nested key is refused with its dotted path", "[config]") {
  expectKey("listen:\n  address: 127.0.0.1\n  prot: 8443\n", "listen.prot");
  expectKey("auth: {lockout_treshold: 3}\n", "auth.lockout_treshold");
  expectKey("ldap:\n  enabled: false\n  bind_pw: x\n", "ldap.bind_pw");
}

TEST_CASE("a wrong type is refused", "[config]") {
  expectKey("listen:\n  port: abc\n", "listen.port");
  expectKey("listen:\n  port: 8443abc\n", "listen.port");
  expectKey("listen:\n  port: 84.43\n", "listen.port");
  expectKey("listen:\n  port: [8443]\n", "listen.port");
  expectKey("listen: 8443\n", "listen");
  expectKey("auth: {lockout_threshold: {a: 1}}\n", "auth.lockout_threshold");
  expectKey("data_dir: [a, b]\n", "data_dir");
  expectKey("ldap: {enabled: maybe}\n", "ldap.enabled");
}

TEST_CASE("an out-of-range value is refused", "[config]") {
  expectKey("listen:\n  port: 70000\n", "listen.port");
  expectKey("listen:\n  port: -1\n", "listen.port");
  expectKey("auth:\n  lockout_threshold: 0\n", "auth.lockout_threshold");
  expectKey("auth:\n  lockout_threshold: 101\n", "auth.lockout_threshold");
  expectKey("auth:\n  argon2_m_cost_kib: 1024\n", "auth.argon2_m_cost_kib");
  expectKey("database:\n  pool_size: 0\n", "database.pool_size");
  expectKey("ldap:\n  timeout_ms: 10\n", "ldap.timeout_ms");
  // A value beyond long long is still "not an integer in range", not a crash.
  expectKey("listen:\n  port: 99999999999999999999999\n", "listen.port");

  ConfigError e = configError("auth:\n  lockout_threshold: 0\n");
  CHECK(std::string(e.what()) == "config: auth.lockout_threshold: must be between 1 and 100, got 0");
}

TEST_CASE("the boundaries of a range are accepted", "[config]") {
  CHECK(parseConfig("listen: {port: 0}").listen.port == 0);
  CHECK(parseConfig("listen: {port: 65535}").listen.port == 65535);
  CHECK(parseConfig("auth: {lockout_threshold: 1}").auth.lockout_threshold == 1);
  CHECK(parseConfig("auth: {lockout_threshold: 100}").auth.lockout_threshold == 100);
}

TEST_CASE("a bad log level is refused", "[config]") {
  expectKey("log:\n  level: verbose\n", "log.level");
  expectKey("log:\n  level: INFO\n", "log.level");
  for (const char* l : {"trace", "debug", "info", "warn", "error"})
    CHECK(parseConfig(std::string("log: {level: ") + l + "}").log.level == l);
}

TEST_CASE("tls.cert_file and tls.key_file must be set together", "[config]") {
  {
    ConfigError e = configError("tls:\n  cert_file: /etc/vigil/cert.pem\n");
    INFO(e.what());
    // The key named is the missing one; the message names both.
    CHECK(e.key() == "tls.key_file");
    CHECK_THAT(std::string(e.what()), Contains("tls.cert_file"));
  }
  {
    ConfigError e = configError("tls:\n  key_file: /etc/vigil/key.pem\n");
    INFO(e.what());
    CHECK(e.key() == "tls.cert_file");
  }
  Config c = parseConfig("tls: {cert_file: /etc/c.pem, key_file: /etc/k.pem}");
  CHECK(c.certPath() == "/etc/c.pem");
  CHECK(c.keyPath() == "/etc/k.pem");
}

TEST_CASE("database.url must be a PostgreSQL URL", "[config]") {
  expectKey("database:\n  url: mysql://vigil@db/vigil\n", "database.url");
  expectKey("database:\n  url: sqlite:///var/lib/vigil.db\n", "database.url");
  CHECK(parseConfig("database: {url: 'postgresql://vigil:pw@db1/vigil'}").database.url ==
        "postgresql://vigil:pw@db1/vigil");
  CHECK(parseConfig("database: {url: 'postgres://vigil@db1/vigil'}").database.url == "postgres://vigil@db1/vigil");
}

TEST_CASE("database.postgres_bin_dir must hold initdb in embedded mode", "[config]") {
  expectKey("database:\n  postgres_bin_dir: /nonexistent/pg/bin\n", "database.postgres_bin_dir");
  // With an external database the embedded tools are not needed.
  CHECK_NOTHROW(parseConfig("database: {url: 'postgresql://db/vigil', postgres_bin_dir: /nonexistent}"));
}

TEST_CASE("listen.public_url must be https", "[config]") {
  expectKey("listen:\n  public_url: http://vigil.example.com/\n", "listen.public_url");
  CHECK(parseConfig("listen: {public_url: 'https://v.example.com/'}").publicUrl(1) == "https://v.example.com/");
}

TEST_CASE("ldap.enabled needs a url and a user base", "[config]") {
  expectKey("ldap:\n  enabled: true\n  user_base_dn: ou=people,dc=x\n", "ldap.url");
  expectKey("ldap:\n  enabled: true\n  url: http://dc1\n  user_base_dn: ou=people,dc=x\n", "ldap.url");
  expectKey("ldap:\n  enabled: true\n  url: ldap://dc1\n", "ldap.user_base_dn");
  expectKey("ldap:\n  enabled: true\n  url: ldap://dc1\n  user_base_dn: dc=x\n  user_filter: (uid=alice)\n",
            "ldap.user_filter");
  // Disabled: incomplete settings are fine (kept for later).
  CHECK_NOTHROW(parseConfig("ldap:\n  enabled: false\n  bind_dn: cn=x\n"));
  // Key order does not matter: enabled may come after url.
  Config c = parseConfig("ldap:\n  url: ldap://dc1:389\n  user_base_dn: dc=x\n  enabled: yes\n");
  CHECK(c.ldap.enabled);
  CHECK(c.ldap.url == "ldap://dc1:389");
}

TEST_CASE("ldap.group_roles refuses an unknown role", "[config]") {
  const std::string base = "ldap:\n  enabled: true\n  url: ldap://dc1\n  user_base_dn: dc=x\n  group_roles:\n";
  expectKey(base + "    admins: [admin, root]\n", "ldap.group_roles.admins");
  expectKey(base + "    admins: god\n", "ldap.group_roles.admins");
  expectKey(base + "    admins: {a: b}\n", "ldap.group_roles.admins");
  expectKey("ldap:\n  group_roles: [admin]\n", "ldap.group_roles");
  ConfigError e = configError(base + "    admins: [admin, root]\n");
  CHECK_THAT(std::string(e.what()), Contains("root"));

  Config c = parseConfig(base + "    admins: [admin, vault_admin]\n    audit: auditor\n");
  CHECK(c.ldap.group_roles.at("admins") == std::vector<std::string>{"admin", "vault_admin"});
  CHECK(c.ldap.group_roles.at("audit") == std::vector<std::string>{"auditor"});
}

TEST_CASE("a YAML syntax error names the line", "[config]") {
  {
    ConfigError e = configError("listen:\n  address: 127.0.0.1\n  port: [8443\nlog:\n  level: info\n");
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Contains("YAML syntax error at line "));
  }
  {
    // Line 3 holds the bad mapping.
    ConfigError e = configError("data_dir: /tmp/x\nlisten:\n  address: a: b\n");
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Contains("line 3"));
  }
  {
    // A tab for indentation is a classic hand-edit mistake.
    ConfigError e = configError("listen:\n  address: 127.0.0.1\n\tport: 1\n");
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Contains("line 3"));
  }
}

TEST_CASE("a duplicated key is refused, not silently overridden", "[config]") {
  // YAML requires unique mapping keys; yaml-cpp does not enforce it, so a second `auth:` block
  // (or a repeated `port:`) would silently replace the first. Vigil refuses typos, so this too.
  expectKey("listen:\n  port: 9443\n  port: 8443\n", "listen.port");
  expectKey("auth: {lockout_threshold: 3}\nlog: {level: info}\nauth: {lockout_minutes: 5}\n", "auth");
}

TEST_CASE("a key that is not a scalar is a ConfigError, not a yaml-cpp exception", "[config]") {
  for (const char* yaml : {"? [a, b]\n: 1\n", "listen:\n  ? {x: 1}\n  : 2\n"}) {
    INFO(yaml);
    try {
      parseConfig(yaml);
      FAIL("parsed fine");
    } catch (const ConfigError& e) {
      CHECK_THAT(std::string(e.what()), Contains("config: "));
    } catch (const std::exception& e) {
      FAIL("expected vigil::ConfigError, got: " << e.what());
    }
  }
}

TEST_CASE("a document that is not a mapping is refused", "[config]") {
  expectKey("just a string\n", "(top level)");
  expectKey("- a\n- b\n", "(top level)");
}

TEST_CASE("the full example in deploy/ parses", "[config]") {
  const std::string text = readFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/vigil.example.yaml");
  REQUIRE_FALSE(text.empty());
  Config c = parseConfig(text);
  CHECK(c.data_dir == "/var/lib/vigil");
  CHECK(c.listen.address == "0.0.0.0");
  CHECK(c.listen.port == 8443);
  CHECK(c.publicUrl(8443) == "https://vigil.example.com:8443/");
  CHECK(c.database.url.empty());
  CHECK(c.database.pool_size == 8);
  CHECK(c.auth.lockout_threshold == 5);
  CHECK(c.log.level == "info");
  CHECK_FALSE(c.ldap.enabled);
  CHECK(c.ldap.url == "ldaps://dc1.corp.example.com:636");
  CHECK(c.ldap.user_filter == "(sAMAccountName={username})");
  CHECK(c.ldap.group_filter == "(member={dn})");
  CHECK(c.ldap.group_roles.size() == 4);
  CHECK(c.ldap.group_roles.at("PAM-SOC") == std::vector<std::string>{"soc"});
}

TEST_CASE("a complete configuration sets every key", "[config]") {
  const std::string yaml = R"(
data_dir: /srv/vigil
master_key_file: /etc/vigil/master.key
web_root: /usr/share/vigil/web
sql_dir: /usr/share/vigil/sql
listen:
  address: 0.0.0.0
  port: 9443
  public_url: https://pam.example.com/
tls:
  cert_file: /etc/vigil/fullchain.pem
  key_file: /etc/vigil/privkey.pem
database:
  url: postgresql://vigil:secret@db1:5432/vigil
  pool_size: 16
  postgres_bin_dir: /opt/pg/bin
auth:
  lockout_threshold: 7
  lockout_minutes: 30
  session_idle_minutes: 10
  session_absolute_hours: 8
  argon2_t_cost: 4
  argon2_m_cost_kib: 131072
  argon2_parallelism: 2
  totp_issuer: Example PAM
http:
  max_body_bytes: 2097152
  header_timeout_seconds: 5
  idle_timeout_seconds: 30
  io_threads: 4
  worker_threads: 8
log:
  level: debug
  file: "-"
ldap:
  enabled: true
  url: ldaps://dc1.example.com:636
  start_tls: false
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: s3cret
  user_base_dn: ou=people,dc=example,dc=com
  user_filter: (sAMAccountName={username})
  group_base_dn: ou=groups,dc=example,dc=com
  group_filter: (member={dn})
  group_name_attr: cn
  display_name_attr: displayName
  ca_file: /etc/ssl/certs/ca.pem
  timeout_ms: 2500
  group_roles:
    pam-admins: [admin, vault_admin]
    pam-audit: auditor
)";
  Config c = parseConfig(yaml);
  CHECK(c.data_dir == "/srv/vigil");
  CHECK(c.masterKeyPath() == "/etc/vigil/master.key");
  CHECK(c.web_root == "/usr/share/vigil/web");
  CHECK(c.sql_dir == "/usr/share/vigil/sql");
  CHECK(c.listen.address == "0.0.0.0");
  CHECK(c.listen.port == 9443);
  CHECK(c.publicUrl(9443) == "https://pam.example.com/");
  CHECK(c.certPath() == "/etc/vigil/fullchain.pem");
  CHECK(c.keyPath() == "/etc/vigil/privkey.pem");
  CHECK(c.database.url == "postgresql://vigil:secret@db1:5432/vigil");
  CHECK(c.database.pool_size == 16);
  CHECK(c.database.postgres_bin_dir == "/opt/pg/bin");
  CHECK(c.auth.lockout_threshold == 7);
  CHECK(c.auth.lockout_minutes == 30);
  CHECK(c.auth.session_idle_minutes == 10);
  CHECK(c.auth.session_absolute_hours == 8);
  CHECK(c.auth.argon2_t_cost == 4u);
  CHECK(c.auth.argon2_m_cost_kib == 131072u);
  CHECK(c.auth.argon2_parallelism == 2u);
  CHECK(c.auth.totp_issuer == "Example PAM");
  CHECK(c.http.max_body_bytes == 2097152u);
  CHECK(c.http.header_timeout_seconds == 5);
  CHECK(c.http.idle_timeout_seconds == 30);
  CHECK(c.http.io_threads == 4);
  CHECK(c.http.worker_threads == 8);
  CHECK(c.log.level == "debug");
  CHECK(c.log.file == "-");
  CHECK(c.ldap.enabled);
  CHECK(c.ldap.url == "ldaps://dc1.example.com:636");
  CHECK(c.ldap.bind_dn == "cn=svc,dc=example,dc=com");
  CHECK(c.ldap.bind_password == "s3cret");
  CHECK(c.ldap.user_base_dn == "ou=people,dc=example,dc=com");
  CHECK(c.ldap.user_filter == "(sAMAccountName={username})");
  CHECK(c.ldap.group_base_dn == "ou=groups,dc=example,dc=com");
  CHECK(c.ldap.group_filter == "(member={dn})");
  CHECK(c.ldap.display_name_attr == "displayName");
  CHECK(c.ldap.ca_file == "/etc/ssl/certs/ca.pem");
  CHECK(c.ldap.timeout == std::chrono::milliseconds(2500));
  CHECK(c.ldap.group_roles.at("pam-admins") == std::vector<std::string>{"admin", "vault_admin"});
  CHECK(c.ldap.group_roles.at("pam-audit") == std::vector<std::string>{"auditor"});
}

TEST_CASE("a relative data_dir becomes absolute", "[config]") {
  Config c = parseConfig("data_dir: relative/dir\n");
  CHECK(c.data_dir.is_absolute());
  CHECK(c.data_dir == std::filesystem::current_path() / "relative/dir");
}

TEST_CASE("loadConfig reads a file and names an unreadable one", "[config]") {
  char tmpl[] = "/tmp/vigil-config-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::filesystem::path dir = tmpl;
  {
    std::ofstream(dir / "vigil.yaml") << "listen: {port: 9000}\nauth: {lockout_threshold: 9}\n";
    Config c = vigil::loadConfig(dir / "vigil.yaml");
    CHECK(c.listen.port == 9000);
    CHECK(c.auth.lockout_threshold == 9);
  }
  CHECK(vigil::loadConfig("").listen.port == 8443);  // no file: the defaults
  try {
    vigil::loadConfig(dir / "missing.yaml");
    FAIL("loadConfig of a missing file did not throw");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Contains((dir / "missing.yaml").string()));
  }
  {
    std::ofstream(dir / "bad.yaml") << "auth:\n  lockout_threshold: 0\n";
    try {
      vigil::loadConfig(dir / "bad.yaml");
      FAIL("loadConfig of an invalid file did not throw");
    } catch (const ConfigError& e) {
      CHECK(e.key() == "auth.lockout_threshold");
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("risk.rules_file defaults to the shipped rules and can be set", "[config][risk]") {
  CHECK(parseConfig("").risk.rules_file == VIGIL_DEFAULT_RISK_RULES);
  Config c = parseConfig("risk: {rules_file: /etc/vigil/r.yaml, poll_interval_ms: 250}\n");
  CHECK(c.risk.rules_file == "/etc/vigil/r.yaml");
  CHECK(c.risk.poll_interval_ms == 250);
  expectKey("risk: {poll_interval_ms: 5}\n", "risk.poll_interval_ms");
  expectKey("risk: {rules_file: ''}\n", "risk.rules_file");
  expectKey("risk: {rulez: x}\n", "risk.rulez");
}
