#include "server/config.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "server/services/siem_transport.hpp"
#include "server/services/user_rules.hpp"

namespace vigil {
namespace {

using Setter = std::function<void(const YAML::Node&, const std::string& key)>;

std::string typeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "empty";
    default: return "a scalar";
  }
}

std::string asString(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw ConfigError(key, "expected a string, got " + typeName(n));
  return n.Scalar();
}

long long asInt(const YAML::Node& n, const std::string& key, long long lo, long long hi) {
  if (!n.IsScalar()) throw ConfigError(key, "expected an integer, got " + typeName(n));
  const std::string& s = n.Scalar();
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used, 10);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != s.size()) throw ConfigError(key, "expected an integer, got '" + s + "'");
  if (v < lo || v > hi)
    throw ConfigError(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                               ", got " + s);
  return v;
}

bool asBool(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw ConfigError(key, "expected true or false, got " + typeName(n));
  const std::string& s = n.Scalar();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  throw ConfigError(key, "expected true or false, got '" + s + "'");
}

// Applies a mapping node through a table of known keys; anything else is a typo and stops start-up.
void applyMap(const YAML::Node& node, const std::string& prefix,
              const std::map<std::string, Setter>& setters) {
  const std::string where = prefix.empty() ? "(top level)" : prefix;
  if (node.IsNull()) return;
  if (!node.IsMap()) throw ConfigError(where, "expected a mapping, got " + typeName(node));
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) throw ConfigError(where, "keys must be plain names");
    const std::string name = it->first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    // yaml-cpp keeps the last of two equal keys; a silently ignored setting is worse than an error.
    if (!seen.insert(name).second) throw ConfigError(key, "given twice");
    auto s = setters.find(name);
    if (s == setters.end()) throw ConfigError(key, "unknown key");
    s->second(it->second, key);
  }
}

std::filesystem::path defaultDataDir() {
  if (geteuid() == 0) return "/var/lib/vigil";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/tmp") / ".local/share/vigil";
}

void validateLevel(const std::string& level, const std::string& key) {
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  for (auto* l : levels)
    if (level == l) return;
  throw ConfigError(key, "must be one of trace, debug, info, warn, error; got '" + level + "'");
}

// siem: {destinations: [...], max_queue, portal_url, link_template, poll_ms}; each destination
// is checked here so a typo stops start-up with the field named ("siem.destinations[1].host").
void parseSiem(const YAML::Node& n, const std::string& k, SiemConfig& s) {
  auto str = [](std::string& dst) { return [&dst](const YAML::Node& v, const std::string& key) { dst = asString(v, key); }; };
  auto integer = [](auto& dst, long long lo, long long hi) {
    return [&dst, lo, hi](const YAML::Node& v, const std::string& key) {
      dst = static_cast<std::remove_reference_t<decltype(dst)>>(asInt(v, key, lo, hi));
    };
  };
  applyMap(n, k,
           {{"max_queue", integer(s.max_queue, 1, 100000000)},
            {"portal_url", str(s.portal_url)},
            {"link_template", str(s.link_template)},
            {"poll_ms", integer(s.poll_ms, 50, 60000)},
            {"destinations", [&](const YAML::Node& list, const std::string& lk) {
               if (list.IsNull()) return;
               if (!list.IsSequence()) throw ConfigError(lk, "expected a list of destinations, got " + typeName(list));
               std::set<std::string> names;
               for (std::size_t i = 0; i < list.size(); ++i) {
                 const std::string dk = lk + "[" + std::to_string(i) + "]";
                 SiemDestination d;
                 int port = -1;
                 applyMap(list[i], dk,
                          {{"name", str(d.name)},
                           {"transport", str(d.transport)},
                           {"host", str(d.host)},
                           {"port", integer(port, 1, 65535)},
                           {"format", str(d.format)},
                           {"ca_file", str(d.ca_file)},
                           {"server_name", str(d.server_name)},
                           {"app_name", str(d.app_name)},
                           {"facility", integer(d.facility, 0, 23)},
                           {"max_message_bytes", integer(d.max_message_bytes, 480, 65000)},
                           {"retry_max_ms", integer(d.retry_max_ms, 100, 3600000)}});
                 if (d.name.empty()) throw ConfigError(dk + ".name", "required");
                 if (d.name.size() > 64) throw ConfigError(dk + ".name", "at most 64 characters");
                 for (char ch : d.name)
                   if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
                     throw ConfigError(dk + ".name", "letters, digits, '-', '_' and '.' only");
                 if (!names.insert(d.name).second) throw ConfigError(dk + ".name", "'" + d.name + "' given twice");
                 if (d.transport.empty()) throw ConfigError(dk + ".transport", "required (udp, tcp or tls)");
                 if (d.transport != "udp" && d.transport != "tcp" && d.transport != "tls")
                   throw ConfigError(dk + ".transport", "must be udp, tcp or tls; got '" + d.transport + "'");
                 if (d.host.empty()) throw ConfigError(dk + ".host", "required");
                 if (d.format != "cef" && d.format != "json")
                   throw ConfigError(dk + ".format", "must be cef or json; got '" + d.format + "'");
                 if (d.app_name.empty() || d.app_name.size() > 48)
                   throw ConfigError(dk + ".app_name", "1 to 48 characters (RFC 5424 APP-NAME)");
                 for (char ch : d.app_name)
                   if (ch < 33 || ch > 126) throw ConfigError(dk + ".app_name", "printable ASCII without spaces");
                 d.port = static_cast<std::uint16_t>(port > 0 ? port : d.transport == "tls" ? 6514 : 514);
                 if (d.transport == "tls") {
                   if (d.ca_file.empty()) throw ConfigError(dk + ".ca_file", "required for transport tls");
                   if (auto err = services::siem::checkCaFile(d.ca_file); !err.empty())
                     throw ConfigError(dk + ".ca_file", err);
                 } else if (!d.ca_file.empty()) {
                   throw ConfigError(dk + ".ca_file", "only for transport tls");
                 }
                 s.destinations.push_back(std::move(d));
               }
             }}});
  if (!s.portal_url.empty() && s.portal_url.rfind("https://", 0) != 0 && s.portal_url.rfind("http://", 0) != 0)
    throw ConfigError(k + ".portal_url", "must start with https:// or http://");
  if (s.link_template.find("{session_id}") == std::string::npos)
    throw ConfigError(k + ".link_template", "must contain {session_id}");
}

Config fromNode(const YAML::Node& root) {
  Config c;
  std::string data_dir;
  auto str = [](std::string& dst) { return [&dst](const YAML::Node& n, const std::string& k) { dst = asString(n, k); }; };
  auto integer = [](auto& dst, long long lo, long long hi) {
    return [&dst, lo, hi](const YAML::Node& n, const std::string& k) {
      dst = static_cast<std::remove_reference_t<decltype(dst)>>(asInt(n, k, lo, hi));
    };
  };
  auto boolean = [](bool& dst) { return [&dst](const YAML::Node& n, const std::string& k) { dst = asBool(n, k); }; };

  auto& L = c.ldap;
  applyMap(root, "",
           {{"data_dir", str(data_dir)},
            {"master_key_file", str(c.master_key_file)},
            {"web_root", str(c.web_root)},
            {"sql_dir", str(c.sql_dir)},
            {"listen",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"address", str(c.listen.address)},
                         {"port", integer(c.listen.port, 0, 65535)},
                         {"public_url", str(c.listen.public_url)}});
             }},
            {"tls",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k, {{"cert_file", str(c.tls.cert_file)}, {"key_file", str(c.tls.key_file)}});
             }},
            {"database",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"url", str(c.database.url)},
                         {"pool_size", integer(c.database.pool_size, 1, 256)},
                         {"postgres_bin_dir", str(c.database.postgres_bin_dir)}});
             }},
            {"auth",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"lockout_threshold", integer(c.auth.lockout_threshold, 1, 100)},
                         {"lockout_minutes", integer(c.auth.lockout_minutes, 1, 525600)},
                         {"session_idle_minutes", integer(c.auth.session_idle_minutes, 1, 1440)},
                         {"session_absolute_hours", integer(c.auth.session_absolute_hours, 1, 168)},
                         {"argon2_t_cost", integer(c.auth.argon2_t_cost, 1, 20)},
                         {"argon2_m_cost_kib", integer(c.auth.argon2_m_cost_kib, 8192, 4194304)},
                         {"argon2_parallelism", integer(c.auth.argon2_parallelism, 1, 16)},
                         {"totp_issuer", str(c.auth.totp_issuer)}});
             }},
            {"http",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"max_body_bytes", integer(c.http.max_body_bytes, 1024, 64LL << 20)},
                         {"header_timeout_seconds", integer(c.http.header_timeout_seconds, 1, 600)},
                         {"idle_timeout_seconds", integer(c.http.idle_timeout_seconds, 1, 3600)},
                         {"io_threads", integer(c.http.io_threads, 1, 64)},
                         {"worker_threads", integer(c.http.worker_threads, 1, 256)}});
             }},
            {"log",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k, {{"level", str(c.log.level)}, {"file", str(c.log.file)}});
               validateLevel(c.log.level, k + ".level");
             }},
            {"ssh",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"enabled", boolean(c.ssh.enabled)},
                         {"address", str(c.ssh.address)},
                         {"port", integer(c.ssh.port, 0, 65535)},
                         {"host_key_file", str(c.ssh.host_key_file)},
                         {"public_host", str(c.ssh.public_host)},
                         {"max_sessions", integer(c.ssh.max_sessions, 1, 100000)},
                         {"max_unauthenticated", integer(c.ssh.max_unauthenticated, 1, 10000)},
                         {"login_grace_seconds", integer(c.ssh.login_grace_seconds, 1, 600)},
                         {"connect_timeout_seconds", integer(c.ssh.connect_timeout_seconds, 1, 300)}});
               for (char ch : c.ssh.public_host)
                 if (ch == ' ' || ch == '@' || ch == '/' || static_cast<unsigned char>(ch) < 0x21)
                   throw ConfigError(k + ".public_host", "must be a host name or address");
             }},
            {"tds_proxy",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"enabled", boolean(c.tds_proxy.enabled)},
                         {"address", str(c.tds_proxy.address)},
                         {"port", integer(c.tds_proxy.port, 0, 65535)},
                         {"public_host", str(c.tds_proxy.public_host)},
                         {"login_grace_seconds", integer(c.tds_proxy.login_grace_seconds, 1, 600)},
                         {"connect_timeout_seconds", integer(c.tds_proxy.connect_timeout_seconds, 1, 300)}});
               for (char ch : c.tds_proxy.public_host)
                 if (ch == ' ' || ch == '@' || ch == '/' || static_cast<unsigned char>(ch) < 0x21)
                   throw ConfigError(k + ".public_host", "must be a host name or address");
             }},
            {"postgres_proxy",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"enabled", boolean(c.postgres_proxy.enabled)},
                         {"address", str(c.postgres_proxy.address)},
                         {"port", integer(c.postgres_proxy.port, 0, 65535)},
                         {"public_host", str(c.postgres_proxy.public_host)},
                         {"allow_cleartext", boolean(c.postgres_proxy.allow_cleartext)},
                         {"max_connections", integer(c.postgres_proxy.max_connections, 1, 100000)},
                         {"login_grace_seconds", integer(c.postgres_proxy.login_grace_seconds, 1, 600)},
                         {"connect_timeout_seconds", integer(c.postgres_proxy.connect_timeout_seconds, 1, 300)}});
               for (char ch : c.postgres_proxy.public_host)
                 if (ch == ' ' || ch == '@' || ch == '/' || ch == '"' || ch == '\'' || static_cast<unsigned char>(ch) < 0x21)
                   throw ConfigError(k + ".public_host", "must be a host name or address");
             }},
            {"rdp",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"enabled", boolean(c.rdp.enabled)},
                         {"address", str(c.rdp.address)},
                         {"port", integer(c.rdp.port, 0, 65535)},
                         {"public_host", str(c.rdp.public_host)},
                         {"max_sessions", integer(c.rdp.max_sessions, 1, 100000)},
                         {"connect_timeout_seconds", integer(c.rdp.connect_timeout_seconds, 1, 300)}});
               for (char ch : c.rdp.public_host)
                 if (ch == ' ' || ch == '@' || ch == '/' || static_cast<unsigned char>(ch) < 0x21)
                   throw ConfigError(k + ".public_host", "must be a host name or address");
             }},
            {"recordings",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"dir", str(c.recordings.dir)},
                         {"flush_interval_ms", integer(c.recordings.flush_interval_ms, 50, 60000)}});
             }},
            {"sessions",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k, {{"launch_token_ttl_seconds", integer(c.sessions.launch_token_ttl_seconds, 1, 3600)},
                               {"moderation_wait_seconds", integer(c.sessions.moderation_wait_seconds, 1, 86400)}});
             }},
            {"risk",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"rules_file", str(c.risk.rules_file)},
                         {"poll_interval_ms", integer(c.risk.poll_interval_ms, 100, 60000)}});
               if (c.risk.rules_file.empty()) throw ConfigError(k + ".rules_file", "must name a file");
             }},
            {"siem", [&](const YAML::Node& n, const std::string& k) { parseSiem(n, k, c.siem); }},
            {"retention",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k,
                        {{"enabled", boolean(c.retention.enabled)},
                         {"interval_seconds", integer(c.retention.interval_seconds, 1, 604800)},
                         {"batch_size", integer(c.retention.batch_size, 1, 10000)},
                         {"max_batches", integer(c.retention.max_batches, 1, 100000)},
                         {"cold_dir", str(c.retention.cold_dir)}});
             }},
            {"node",
             [&](const YAML::Node& n, const std::string& k) {
               applyMap(n, k, {{"name", str(c.node.name)}});
               if (c.node.name.size() > 128) throw ConfigError(k + ".name", "at most 128 characters");
             }},
            {"ldap", [&](const YAML::Node& n, const std::string& k) {
               // group_roles is a free-form map; check its keys the same way.
               int timeout_ms = static_cast<int>(L.timeout.count());
               applyMap(n, k,
                        {{"enabled", boolean(L.enabled)},
                         {"url", str(L.url)},
                         {"start_tls", boolean(L.start_tls)},
                         {"bind_dn", str(L.bind_dn)},
                         {"bind_password", str(L.bind_password)},
                         {"user_base_dn", str(L.user_base_dn)},
                         {"user_filter", str(L.user_filter)},
                         {"group_base_dn", str(L.group_base_dn)},
                         {"group_filter", str(L.group_filter)},
                         {"group_name_attr", str(L.group_name_attr)},
                         {"display_name_attr", str(L.display_name_attr)},
                         {"ca_file", str(L.ca_file)},
                         {"timeout_ms", integer(timeout_ms, 100, 60000)},
                         {"group_roles", [&](const YAML::Node& m, const std::string& mk) {
                            if (!m.IsMap()) throw ConfigError(mk, "expected a mapping of group name to a list of roles");
                            std::set<std::string> groups;
                            for (auto g = m.begin(); g != m.end(); ++g) {
                              if (!g->first.IsScalar()) throw ConfigError(mk, "group names must be plain names");
                              const std::string gname = g->first.Scalar();
                              if (!groups.insert(gname).second) throw ConfigError(mk + "." + gname, "given twice");
                              const std::string gk = mk + "." + gname;
                              std::vector<std::string> roles;
                              // A copy: `g->second` lives in a temporary that a range-for would
                              // outlive (yaml-cpp's iterator proxy).
                              const YAML::Node value = g->second;
                              if (value.IsScalar()) roles.push_back(value.Scalar());
                              else if (value.IsSequence())
                                for (const auto& r : value) roles.push_back(asString(r, gk));
                              else throw ConfigError(gk, "expected a role or a list of roles");
                              for (const auto& r : roles)
                                if (!services::isRole(r))
                                  throw ConfigError(gk, "unknown role '" + r + "' (superuser, vault_admin, admin, auditor, soc)");
                              L.group_roles[gname] = roles;
                            }
                          }}});
               L.timeout = std::chrono::milliseconds(timeout_ms);
               if (L.enabled) {
                 if (L.url.rfind("ldap://", 0) != 0 && L.url.rfind("ldaps://", 0) != 0)
                   throw ConfigError(k + ".url", "must start with ldap:// or ldaps:// when ldap.enabled is true");
                 if (L.user_base_dn.empty()) throw ConfigError(k + ".user_base_dn", "required when ldap.enabled is true");
                 if (L.user_filter.find("{username}") == std::string::npos)
                   throw ConfigError(k + ".user_filter", "must contain {username}");
               }
             }}});

  c.data_dir = data_dir.empty() ? defaultDataDir() : std::filesystem::path(data_dir);
  if (!c.data_dir.is_absolute()) c.data_dir = std::filesystem::absolute(c.data_dir);
  if (c.database.url.empty() && !std::filesystem::exists(c.database.postgres_bin_dir + "/initdb"))
    throw ConfigError("database.postgres_bin_dir",
                      "no initdb in '" + c.database.postgres_bin_dir + "' (install Debian's postgresql package or set database.url)");
  if (!c.database.url.empty() && c.database.url.rfind("postgres", 0) != 0)
    throw ConfigError("database.url", "must be a postgresql:// URL");
  if (!c.listen.public_url.empty() && c.listen.public_url.rfind("https://", 0) != 0)
    throw ConfigError("listen.public_url", "must start with https://");
  if (c.ssh.address.empty()) c.ssh.address = c.listen.address;
  if (c.tds_proxy.address.empty()) c.tds_proxy.address = c.listen.address;
  if (c.postgres_proxy.address.empty()) c.postgres_proxy.address = c.listen.address;
  if (c.rdp.address.empty()) c.rdp.address = c.listen.address;
  if (c.node.name.empty()) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    c.node.name = host;
  }
  if (c.tls.cert_file.empty() != c.tls.key_file.empty())
    throw ConfigError(c.tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
                      "tls.cert_file and tls.key_file must be set together");
  return c;
}

}  // namespace

std::filesystem::path Config::masterKeyPath() const {
  return master_key_file.empty() ? data_dir / "master.key" : std::filesystem::path(master_key_file);
}
std::filesystem::path Config::certPath() const {
  return tls.cert_file.empty() ? data_dir / "tls/cert.pem" : std::filesystem::path(tls.cert_file);
}
std::filesystem::path Config::keyPath() const {
  return tls.key_file.empty() ? data_dir / "tls/key.pem" : std::filesystem::path(tls.key_file);
}
std::string Config::publicUrl(std::uint16_t bound_port) const {
  if (!listen.public_url.empty()) return listen.public_url;
  std::string host = listen.address == "0.0.0.0" || listen.address == "::" ? "127.0.0.1" : listen.address;
  return "https://" + host + ":" + std::to_string(bound_port) + "/";
}

std::filesystem::path Config::sshHostKeyPath() const {
  return ssh.host_key_file.empty() ? data_dir / "ssh/ssh_host_ed25519_key" : std::filesystem::path(ssh.host_key_file);
}
std::filesystem::path Config::recordingsDir() const {
  return recordings.dir.empty() ? data_dir / "recordings" : std::filesystem::path(recordings.dir);
}
std::string Config::postgresPublicHost() const {
  if (!postgres_proxy.public_host.empty()) return postgres_proxy.public_host;
  if (!ssh.public_host.empty() || !listen.public_url.empty()) return sshPublicHost();
  if (postgres_proxy.address == "0.0.0.0" || postgres_proxy.address == "::" || postgres_proxy.address.empty())
    return sshPublicHost();
  return postgres_proxy.address;
}

std::string Config::sshPublicHost() const {
  if (!ssh.public_host.empty()) return ssh.public_host;
  if (!listen.public_url.empty()) {
    // https://host[:port][/path]; an IPv6 literal keeps its brackets out of the ssh command.
    std::string rest = listen.public_url.substr(8);
    rest = rest.substr(0, rest.find('/'));
    if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
    return rest.substr(0, rest.find(':'));
  }
  if (ssh.address == "0.0.0.0" || ssh.address == "::" || ssh.address.empty()) {
    // Listening everywhere: the machine's name is the best guess at what people can reach.
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    return host;
  }
  return ssh.address;
}

Config parseConfig(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("(file)", std::string("YAML syntax error at line ") + std::to_string(e.mark.line + 1) +
                                    ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  try {
    return fromNode(root);
  } catch (const YAML::Exception& e) {
    throw ConfigError("(file)", std::string("invalid YAML: ") + e.what());
  }
}

Config loadConfig(const std::filesystem::path& file) {
  if (file.empty()) return parseConfig("");
  std::ifstream in(file);
  if (!in) throw ConfigError("(file)", "cannot read '" + file.string() + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parseConfig(ss.str());
}

}  // namespace vigil
