#pragma once
// Vigil's configuration: one YAML file, every key optional with a default (docs/config.md).
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/auth/ldap_auth.hpp"

namespace vigil {

/// An invalid configuration: `key()` is the dotted path ("auth.lockout_threshold"), what() the
/// whole message "config: auth.lockout_threshold: must be between 1 and 100".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, const std::string& reason)
      : std::runtime_error("config: " + key + ": " + reason), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;
  std::string public_url;  // e.g. https://vigil.example.com; default https://<address>:<port>
};

struct TlsConfig {
  std::string cert_file;  // default <data_dir>/tls/cert.pem (generated when missing)
  std::string key_file;   // default <data_dir>/tls/key.pem
};

struct DatabaseConfig {
  std::string url;         // empty: the embedded cluster under <data_dir>/pg
  int pool_size = 8;
  std::string postgres_bin_dir = "/usr/lib/postgresql/15/bin";
};

struct AuthConfig {
  int lockout_threshold = 5;
  int lockout_minutes = 15;
  int session_idle_minutes = 30;
  int session_absolute_hours = 12;
  unsigned argon2_t_cost = 3;
  unsigned argon2_m_cost_kib = 65536;
  unsigned argon2_parallelism = 1;
  std::string totp_issuer = "Vigil";
};

struct HttpConfig {
  std::size_t max_body_bytes = 1 << 20;
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int io_threads = 2;
  int worker_threads = 8;  // handlers block on the database: as many as pooled connections
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error
  std::string file;            // default <data_dir>/logs/vigil.log; "-" for stderr only
};

struct SshConfig {
  bool enabled = true;
  std::string address;  // default: listen.address
  /// 0 picks a free port; `vigil serve` writes the bound port back here at start.
  std::uint16_t port = 2222;
  std::string host_key_file;  // default <data_dir>/ssh/ssh_host_ed25519_key (generated)
  std::string public_host;    // shown in ssh commands; default: host of listen.public_url, else address
  int max_sessions = 1000;
  int max_unauthenticated = 64;
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 10;
};

/// The SQL Server (TDS) proxy (protocols/tds).
struct TdsProxyConfig {
  bool enabled = false;
  std::string address;  // default: listen.address
  /// 0 picks a free port; `vigil serve` writes the bound port back here at start.
  std::uint16_t port = 1433;
  std::string public_host;  // shown in tsql command lines; default: like ssh.public_host
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 10;
};

/// The PostgreSQL proxy (protocols/postgres): database clients connect here with a launch token.
struct PostgresProxyConfig {
  /// Off by default: a fixed port would collide with a local PostgreSQL or a second Vigil.
  bool enabled = false;
  std::string address;  // default: listen.address
  /// 0 picks a free port; `vigil serve` writes the bound port back here at start.
  std::uint16_t port = 5433;
  std::string public_host;  // shown in psql command lines; default as ssh.public_host
  /// Accept the launch token without TLS (sslmode=disable): the token would cross the network in clear.
  bool allow_cleartext = false;
  int max_connections = 1000;
  int login_grace_seconds = 30;
  int connect_timeout_seconds = 10;
};

/// Vigil's RDP listener (protocols/rdp): TLS with the portal's certificate.
struct RdpConfig {
  bool enabled = false;
  std::string address;  // default: listen.address
  /// 0 picks a free port; `vigil serve` writes the bound port back here at start.
  std::uint16_t port = 3389;
  std::string public_host;  // the host put in .rdp files; default: as for ssh.public_host
  int max_sessions = 200;
  int connect_timeout_seconds = 15;
};

struct RecordingsConfig {
  std::string dir;  // default <data_dir>/recordings
  int flush_interval_ms = 1000;
};

struct SessionsConfig {
  int launch_token_ttl_seconds = 60;
  int moderation_wait_seconds = 300;  // moderated safes: how long a session waits for a moderator
};

struct RiskConfig {
  /// The risk rules (YAML, docs/risk.md); reloaded on SIGHUP, when its mtime changes, and by
  /// POST /api/v1/risk/rules/reload.
  std::string rules_file = VIGIL_DEFAULT_RISK_RULES;
  int poll_interval_ms = 1000;  // mtime and session-duration checks
};

/// Retention of recordings (issue 8, docs/config.md): the background job of `vigil serve`.
struct RetentionConfig {
  bool enabled = true;
  int interval_seconds = 3600;  // between runs (access-request expiry runs every 30 s regardless)
  int batch_size = 100;         // sessions per batch (one transaction each)
  int max_batches = 50;         // per run; the rest waits for the next run
  std::string cold_dir;         // the cold tier; '' = recordings stay in recordings.dir
};

struct NodeConfig {
  std::string name;  // default: the host name
};

/// One SIEM receiver (docs/siem.md). Defaults: port 514 (udp, tcp) or 6514 (tls).
struct SiemDestination {
  std::string name;        // unique; keys its delivery cursor in the database
  std::string transport;   // udp, tcp, tls
  std::string host;
  std::uint16_t port = 0;
  std::string format = "cef";  // cef, json
  std::string ca_file;         // tls: the CA that signed the receiver's certificate (required)
  std::string server_name;     // tls: the name checked in the receiver's certificate; default host
  std::string app_name = "vigil";
  int facility = 13;           // RFC 5424 facility 13: log audit
  int max_message_bytes = 8192;
  int retry_max_ms = 30000;    // back-off ceiling while the receiver is down
};

struct SiemConfig {
  std::vector<SiemDestination> destinations;
  long long max_queue = 100000;  // outbox rows kept undelivered; beyond it the oldest are dropped
  std::string portal_url;        // deep links; default: listen.public_url, else the bound portal URL
  std::string link_template = "{portal_url}/#/sessions/{session_id}?t={seconds}";
  int poll_ms = 1000;            // polling interval besides LISTEN/NOTIFY
};

struct Config {
  std::filesystem::path data_dir;  // default /var/lib/vigil as root, else ~/.local/share/vigil
  std::string master_key_file;     // default <data_dir>/master.key
  std::string web_root = VIGIL_DEFAULT_WEB_ROOT;
  std::string sql_dir = VIGIL_DEFAULT_SQL_DIR;
  ListenConfig listen;
  TlsConfig tls;
  DatabaseConfig database;
  AuthConfig auth;
  HttpConfig http;
  LogConfig log;
  auth::LdapConfig ldap;
  SshConfig ssh;
  TdsProxyConfig tds_proxy;
  PostgresProxyConfig postgres_proxy;
  RdpConfig rdp;
  RecordingsConfig recordings;
  SessionsConfig sessions;
  NodeConfig node;
  RiskConfig risk;
  SiemConfig siem;
  RetentionConfig retention;

  std::filesystem::path masterKeyPath() const;
  std::filesystem::path certPath() const;
  std::filesystem::path keyPath() const;
  std::filesystem::path embeddedPgDir() const { return data_dir / "pg"; }
  std::string publicUrl(std::uint16_t bound_port) const;
  std::filesystem::path sshHostKeyPath() const;
  std::filesystem::path recordingsDir() const;
  /// The host name people put in their psql command line.
  std::string postgresPublicHost() const;
  /// The host name people put in their ssh command line.
  std::string sshPublicHost() const;
};

/// Loads a YAML file (an empty path gives all defaults). Unknown keys, wrong types and out-of-range
/// values throw ConfigError naming the key.
Config loadConfig(const std::filesystem::path& file);
/// Parses YAML text (tests).
Config parseConfig(const std::string& yaml_text);

}  // namespace vigil
