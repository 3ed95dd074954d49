// SIEM forwarding end to end: a real `vigil serve` (embedded PostgreSQL) forwarding to a real,
// private rsyslogd on loopback (UDP, TCP, TLS with a run-time certificate), CEF and JSON.
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/api_env.hpp"
#include "support/rsyslog_fixture.hpp"
#include "support/sshd_fixture.hpp"

using namespace api_test;
using vigil::test::Rsyslog;
using Catch::Matchers::Contains;

namespace {

const char* kNode = "siem-node-1";

struct Dest {
  std::string name, transport, format;
  std::string app() const { return "vigil-" + name; }
};
const std::vector<Dest> kDests = {{"udp-cef", "udp", "cef"}, {"udp-json", "udp", "json"},
                                  {"tcp-cef", "tcp", "cef"}, {"tcp-json", "tcp", "json"},
                                  {"tls-cef", "tls", "cef"}, {"tls-json", "tls", "json"}};

std::string destinationsYaml(const Rsyslog& rs) {
  std::string y = "node: {name: " + std::string(kNode) + "}\nsiem:\n  poll_ms: 200\n  destinations:\n";
  for (const auto& d : kDests) {
    const int port = d.transport == "udp" ? rs.udpPort() : d.transport == "tcp" ? rs.tcpPort() : rs.tlsPort();
    y += "    - {name: " + d.name + ", transport: " + d.transport + ", host: 127.0.0.1, port: " + std::to_string(port) +
         ", format: " + d.format + ", app_name: " + d.app() + ", retry_max_ms: 500" +
         (d.transport == "tls" ? ", ca_file: " + rs.caFile() : "") + "}\n";
  }
  // Receivers that must be refused: a CA that did not sign rsyslog's certificate, and a name the
  // certificate does not carry.
  y += "    - {name: tls-rogue, transport: tls, host: 127.0.0.1, port: " + std::to_string(rs.tlsPort()) +
       ", ca_file: " + rs.otherCaFile() + ", app_name: vigil-tls-rogue, retry_max_ms: 300}\n";
  y += "    - {name: tls-wrongname, transport: tls, host: 127.0.0.1, port: " + std::to_string(rs.tlsPort()) +
       ", ca_file: " + rs.caFile() + ", server_name: wrong.example.com, app_name: vigil-tls-wrongname, retry_max_ms: 300}\n";
  return y;
}

struct World {
  Rsyslog rs;
  Env env;
  World() : rs(true), env(destinationsYaml(rs)) {}
};
World& world() {
  static World w;
  return w;
}

/// One received RFC 5424 message, split into its header fields.
struct Msg {
  int pri = -1;
  std::string timestamp, hostname, app, procid, msgid, sd, body;
  std::map<std::string, std::string> params;  // SD-PARAMs of [vigil@32473 ...], unescaped
};

std::optional<Msg> parse(const std::string& line) {
  static const std::regex re(R"(^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[(?:[^\]\\]|\\.)*\])(?: (.*))?$)");
  std::smatch m;
  if (!std::regex_match(line, m, re)) return std::nullopt;
  Msg r;
  r.pri = std::stoi(m[1]);
  r.timestamp = m[2];
  r.hostname = m[3];
  r.app = m[4];
  r.procid = m[5];
  r.msgid = m[6];
  r.sd = m[7];
  r.body = m[8];
  static const std::regex param(R"re(([A-Za-z_]+)="((?:[^"\\]|\\.)*)")re");
  for (std::sregex_iterator it(r.sd.begin(), r.sd.end(), param), end; it != end; ++it) {
    std::string v, raw = (*it)[2];
    for (std::size_t i = 0; i < raw.size(); ++i) v += raw[i] == '\\' && i + 1 < raw.size() ? raw[++i] : raw[i];
    r.params[(*it)[1]] = v;
  }
  return r;
}

/// Messages of one destination (by app-name) received on its input, in arrival order.
std::vector<Msg> received(const Rsyslog& rs, const Dest& d) {
  std::vector<Msg> out;
  for (const auto& line : rs.messages(d.transport)) {
    auto m = parse(line);
    if (m && m->app == d.app()) out.push_back(*m);
  }
  return out;
}

std::optional<Msg> findMessage(const Rsyslog& rs, const Dest& d, const std::string& msgid, const std::string& needle) {
  for (auto& m : received(rs, d))
    if (m.msgid == msgid && contains(m.body + m.sd, needle)) return m;
  return std::nullopt;
}

std::optional<Msg> waitMessage(const Rsyslog& rs, const Dest& d, const std::string& msgid, const std::string& needle,
                               int seconds = 20) {
  std::optional<Msg> found;
  Rsyslog::waitUntil([&] { return (found = findMessage(rs, d, msgid, needle)).has_value(); }, seconds);
  return found;
}

void checkHeader(const Msg& m, const Dest& d, const std::string& msgid) {
  static const std::regex ts(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$)");
  CHECK(std::regex_match(m.timestamp, ts));
  CHECK(m.hostname == kNode);
  CHECK(m.app == d.app());
  CHECK(std::all_of(m.procid.begin(), m.procid.end(), ::isdigit));
  CHECK(m.msgid == msgid);
  CHECK(m.sd.rfind("[vigil@32473 ", 0) == 0);
  CHECK(m.params.count("event") == 1);
  CHECK(m.params.count("seq") == 1);
  CHECK(m.pri >= 13 * 8);
  CHECK(m.pri < 14 * 8);  // facility 13 (log audit)
}

void failedLogin(const std::string& user) {
  auto c = world().env.newClient();
  auto r = c->login(user, "wrong-password");
  REQUIRE(r.status == 401);
}

}  // namespace

TEST_CASE("A failed login reaches rsyslog as RFC 5424 with CEF and JSON over UDP, TCP and TLS", "[siem][e2e]") {
  auto& w = world();
  const std::string user = uniq("siem-login");
  failedLogin(user);
  for (const auto& d : kDests) {
    INFO("destination " << d.name);
    auto m = waitMessage(w.rs, d, "login", user);
    REQUIRE(m);
    checkHeader(*m, d, "login");
    CHECK(m->pri == 13 * 8 + 4);  // a failed login is a warning
    CHECK(m->params["user"] == user);
    CHECK(m->params["sig"] == "101");
    if (d.format == "cef") {
      CHECK(m->body.rfind("CEF:0|Vigil|Vigil PAM|", 0) == 0);
      CHECK_THAT(m->body, Contains("|101|Login failed|5|"));
      CHECK_THAT(m->body, Contains("suser=" + user));
      CHECK_THAT(m->body, Contains("outcome=failed"));
      CHECK_THAT(m->body, Contains("src=127.0.0.1"));
    } else {
      auto j = json::parse(m->body);
      CHECK(j["kind"] == "login");
      CHECK(j["user"] == user);
      CHECK(j["outcome"] == "failed");
      CHECK(j["source_addr"] == "127.0.0.1");
      CHECK(j["data"]["action"] == "login");
    }
  }
}

TEST_CASE("An audited administrative action reaches every destination", "[siem][e2e]") {
  auto& w = world();
  const std::string safe = uniq("siem-safe");
  auto r = w.env.admin().post("/api/v1/safes", {{"name", safe}});
  REQUIRE(r.status == 201);
  for (const auto& d : kDests) {
    INFO("destination " << d.name);
    auto m = waitMessage(w.rs, d, "safe_create", safe);
    REQUIRE(m);
    checkHeader(*m, d, "safe_create");
    CHECK(m->params["user"] == "admin");
    if (d.format == "cef") CHECK_THAT(m->body, Contains("act=safe_create"));
    else CHECK(json::parse(m->body)["data"]["details"]["name"] == safe);
  }
}

TEST_CASE("A risk alert and a command arrive with a deep link to the moment in the player; output lines do not",
          "[siem][e2e]") {
  auto& w = world();
  const std::string sid = w.env.psql("SELECT gen_random_uuid()");
  w.env.psql("INSERT INTO sessions(id, username, account_user, target_name, protocol, via, client_addr) VALUES ('" + sid +
             "', 'alice', 'root', 'db1', 'ssh', 'ssh', '127.0.0.1')");
  w.env.psql("INSERT INTO alerts(session_id, offset_ms, username, rule_id, severity, score, actions, message, matched) "
             "VALUES ('" + sid + "', 12345, 'alice', 'rm-rf', 'high', 50, ARRAY['alert','block'], "
             "'Recursive delete', 'rm -rf /tmp/x')");
  w.env.psql("INSERT INTO session_events(session_id, offset_ms, kind, text) VALUES ('" + sid +
             "', 61000, 'command', 'ls -la /etc'), ('" + sid + "', 61500, 'output', 'secret-output-line')");
  const std::string base = "https://127.0.0.1:" + std::to_string(w.env.port()) + "/#/sessions/" + sid;
  for (const auto& d : kDests) {
    INFO("destination " << d.name);
    auto a = waitMessage(w.rs, d, "alert", sid);
    REQUIRE(a);
    checkHeader(*a, d, "alert");
    CHECK(a->pri == 13 * 8 + 3);  // high -> error
    CHECK(a->params["link"] == base + "?t=12");
    CHECK(a->params["session"] == sid);
    if (d.format == "cef") {
      CHECK_THAT(a->body, Contains("|400|Risk alert rm-rf: Recursive delete|8|"));
      CHECK_THAT(a->body, Contains("cs2=" + base + "?t\\=12"));
      CHECK_THAT(a->body, Contains("cs4=rm -rf /tmp/x"));
      CHECK_THAT(a->body, Contains("suser=alice"));
      CHECK_THAT(a->body, Contains("dhost=db1"));
    } else {
      auto j = json::parse(a->body);
      CHECK(j["link"] == base + "?t=12");
      CHECK(j["severity"] == "high");
      CHECK(j["data"]["rule_id"] == "rm-rf");
    }
    auto c = waitMessage(w.rs, d, "command", sid);
    REQUIRE(c);
    CHECK(c->params["link"] == base + "?t=61");
    CHECK_THAT(c->body, Contains("ls -la /etc"));
  }
  // Output lines are not forwarded.
  for (const char* input : {"udp", "tcp", "tls"})
    for (const auto& line : w.rs.messages(input)) CHECK_FALSE(contains(line, "secret-output-line"));
}

TEST_CASE("A rolled-back event never reaches the SIEM; a transaction that commits late is not skipped",
          "[siem][outbox]") {
  auto& w = world();
  const std::string rolled = uniq("siem-rolled-back");
  const std::string late = uniq("siem-late");
  const std::string early = uniq("siem-early");
  // Alerts, not audit rows: audit inserts are serialised by the audit hash chain (one transaction at
  // a time), so they could not commit out of order.
  auto alert = [](const std::string& marker) {
    return "INSERT INTO alerts(username, rule_id, severity, message, matched) VALUES ('" + marker + "', 'probe', 'low', '" +
           marker + "', '" + marker + "')";
  };
  w.env.psql("BEGIN; " + alert(rolled) + "; ROLLBACK;");
  // The late transaction takes its outbox id first and commits after the early one was delivered:
  // ordering by id alone would have moved every cursor past it.
  const std::string cmd = "PGPASSWORD='" + w.env.pgPassword() + "' runuser -u postgres -- " + kPgBin +
                          "/psql -X -q -At -h " + w.env.server().dataDir() + "/pg/run -p 5432 -U vigil -d vigil -c \"" +
                          "BEGIN; " + alert(late) + "; SELECT pg_sleep(3); COMMIT;\"";
  std::thread slow([cmd] { vigil::test::runCommand(cmd); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  w.env.psql(alert(early));
  for (const auto& d : kDests) {
    if (d.transport == "udp") continue;
    INFO("destination " << d.name);
    REQUIRE(waitMessage(w.rs, d, "alert", early));
  }
  slow.join();
  const long long late_id = std::stoll(w.env.psql("SELECT id FROM alerts WHERE username = '" + late + "'"));
  const long long early_id = std::stoll(w.env.psql("SELECT id FROM alerts WHERE username = '" + early + "'"));
  CHECK(late_id < early_id);
  for (const auto& d : kDests) {
    if (d.transport == "udp") continue;
    INFO("destination " << d.name);
    auto m = waitMessage(w.rs, d, "alert", late);
    REQUIRE(m);
    CHECK(std::stoll(m->params["seq"]) > std::stoll(findMessage(w.rs, d, "alert", early)->params["seq"]));
    CHECK_FALSE(findMessage(w.rs, d, "alert", rolled));
  }
}

TEST_CASE("A TLS receiver whose certificate the configured CA did not sign, or that has another name, is refused and retried",
          "[siem][tls]") {
  auto& w = world();
  failedLogin(uniq("siem-rogue"));  // something to send
  for (const std::string name : {"tls-rogue", "tls-wrongname"}) {
    INFO(name);
    std::string row;
    CHECK(Rsyslog::waitUntil(
        [&] {
          row = w.env.psql("SELECT failures FROM siem_cursors WHERE destination = '" + name + "'");
          return !row.empty() && std::stoll(row) >= 3;  // retried, not given up
        },
        30));
    CHECK(w.env.psql("SELECT delivered FROM siem_cursors WHERE destination = '" + name + "'") == "0");
    CHECK_THAT(w.env.psql("SELECT last_error FROM siem_cursors WHERE destination = '" + name + "'"),
               Contains("certificate"));
  }
  CHECK_THAT(w.env.serverLogs(), Contains("siem destination=tls-rogue: TLS: receiver certificate refused"));
  CHECK_THAT(w.env.serverLogs(), Contains("siem destination=tls-wrongname: TLS: receiver certificate refused"));
  for (const auto& line : w.rs.messages("tls")) {
    CHECK_FALSE(contains(line, "vigil-tls-rogue"));
    CHECK_FALSE(contains(line, "vigil-tls-wrongname"));
  }
}

TEST_CASE("Receiver down for a while, then up: every event arrives exactly once and in order over TCP and TLS",
          "[siem][outage]") {
  auto& w = world();
  std::vector<Dest> streams;
  for (const auto& d : kDests)
    if (d.transport != "udp") streams.push_back(d);
  // Everything so far delivered, then the receiver goes away.
  const std::string before = uniq("siem-before");
  failedLogin(before);
  for (const auto& d : streams) REQUIRE(waitMessage(w.rs, d, "login", before));
  w.rs.stop();

  std::vector<std::string> users;
  for (int i = 0; i < 20; ++i) {
    users.push_back(uniq("siem-outage"));
    failedLogin(users.back());
    if (i == 10) std::this_thread::sleep_for(std::chrono::seconds(2));  // the forwarder retries meanwhile
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (const auto& d : streams)
    CHECK(std::stoll(w.env.psql("SELECT failures FROM siem_cursors WHERE destination = '" + d.name + "'")) > 0);
  w.rs.start();

  for (const auto& d : streams) {
    INFO("destination " << d.name);
    REQUIRE(waitMessage(w.rs, d, "login", users.back(), 30));
    auto all = received(w.rs, d);
    // Exactly once: no event id twice in everything this destination ever received.
    std::set<std::string> ids;
    long long last_seq = 0;
    for (auto& m : all) {
      INFO("event " << m.params["event"] << " seq " << m.params["seq"]);
      CHECK(ids.insert(m.params["event"]).second);
      const long long seq = std::stoll(m.params["seq"]);
      CHECK(seq > last_seq);  // in order
      last_seq = seq;
    }
    // Every login of the outage, in the order they happened.
    std::size_t next = 0;
    for (auto& m : all)
      if (next < users.size() && m.msgid == "login" && m.params["user"] == users[next]) ++next;
    CHECK(next == users.size());
  }
}

TEST_CASE("Over max_queue the oldest undelivered events are dropped, counted and reported", "[siem][queue]") {
  Rsyslog rs(false);  // ports chosen, not running yet: the destination is down
  Env env("siem:\n  max_queue: 5\n  poll_ms: 100\n  destinations:\n    - {name: bounded, transport: tcp, host: 127.0.0.1, port: " +
          std::to_string(rs.tcpPort()) + ", format: json, app_name: vigil-bounded, retry_max_ms: 300}\n");
  std::vector<std::string> users;
  for (int i = 0; i < 12; ++i) {
    users.push_back(uniq("siem-bound"));
    auto r = env.newClient()->login(users.back(), "wrong-password");
    REQUIRE(r.status == 401);
  }
  REQUIRE(Rsyslog::waitUntil([&] {
    return env.psql("SELECT count(*) FROM audit_log WHERE action = 'siem_dropped'") != "0" &&
           std::stoll(env.psql("SELECT count(*) FROM siem_outbox")) <= 5;
  }));
  const long long dropped = std::stoll(
      env.psql("SELECT coalesce(sum((details->>'dropped')::bigint), 0) FROM audit_log WHERE action = 'siem_dropped'"));
  // At least the 12 logins plus the admin's own start-up events went over the bound of 5.
  CHECK(dropped >= 7);
  CHECK(std::stoll(env.psql("SELECT dropped_total FROM siem_state")) == dropped);
  CHECK_THAT(env.serverLogs(), Contains("over max_queue 5: dropped"));
  CHECK(std::stoll(env.psql("SELECT count(*) FROM siem_outbox")) <= 5);

  rs.start();
  Dest d{"bounded", "tcp", "json"};
  auto m = waitMessage(rs, d, "siem_dropped", "dropped", 30);
  REQUIRE(m);
  CHECK(json::parse(m->body)["severity"] == "high");
  REQUIRE(waitMessage(rs, d, "login", users.back()));
  CHECK_FALSE(findMessage(rs, d, "login", users.front()));  // the oldest went
  CHECK(received(rs, d).size() <= 5);
}

TEST_CASE("A bad SIEM configuration stops start-up with an error naming the field", "[siem][config]") {
  const std::string dir = vigil::test::makeTempDir("vigil-siem-badcfg");
  struct Case {
    std::string yaml, field;
  };
  const std::vector<Case> cases = {
      {"siem: {destinations: [{name: a, transport: carrier-pigeon, host: 127.0.0.1}]}", "siem.destinations[0].transport"},
      {"siem: {destinations: [{name: a, transport: tcp}]}", "siem.destinations[0].host"},
      {"siem: {destinations: [{name: a, transport: tls, host: 127.0.0.1, ca_file: " + dir + "/missing.pem}]}",
       "siem.destinations[0].ca_file"},
      {"siem: {destinations: [{name: a, transport: tls, host: 127.0.0.1, ca_file: " + dir + "/junk.pem}]}",
       "siem.destinations[0].ca_file"},
  };
  std::ofstream(dir + "/junk.pem") << "not a certificate\n";
  for (const auto& c : cases) {
    INFO(c.yaml);
    std::ofstream(dir + "/vigil.yaml") << "data_dir: " << dir << "/data\n" << c.yaml << "\n";
    auto r = vigil::test::runCommand(std::string(VIGIL_BINARY_PATH) + " -c " + dir + "/vigil.yaml serve");
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains("config: " + c.field + ": "));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("A real SSH session's start, command, risk alert and end reach the SIEM with deep links into the player",
          "[siem][ssh][e2e]") {
  auto& w = world();
  auto& sshd = vigil::test::Sshd::instance();
  REQUIRE(sshd.ok());
  auto& admin = w.env.admin();
  auto safe = admin.post("/api/v1/safes", {{"name", uniq("siem-ssh-safe")}});
  REQUIRE(safe.status == 201);
  const auto safe_id = safe.json()["id"].get<std::int64_t>();
  auto member = admin.put("/api/v1/safes/" + std::to_string(safe_id) + "/members/" + std::to_string(w.env.su().id),
                          {{"permissions", {"connect"}}});
  INFO(member.body);
  REQUIRE(member.status == 200);
  auto target = admin.post("/api/v1/targets", {{"name", uniq("siem-web")}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                               {"port", sshd.port()}, {"host_key_fingerprint", sshd.hostKeyFingerprint()}});
  REQUIRE(target.status == 201);
  auto account = admin.post("/api/v1/accounts", {{"safe_id", safe_id}, {"target_id", target.json()["id"]},
                                                 {"username", sshd.user()}, {"secret_kind", "password"},
                                                 {"secret", sshd.password()}});
  INFO(account.body);
  REQUIRE(account.status == 201);
  auto launch = admin.post("/api/v1/accounts/" + std::to_string(account.json()["id"].get<std::int64_t>()) + "/launch",
                           json::object());
  INFO(launch.body);
  REQUIRE(launch.status == 201);
  const std::string token = launch.json()["token"];
  const std::string marker = uniq("siem-ssh-marker");
  // chmod 777 matches the default rule chmod-777 (alert): the risk engine's alert must reach the
  // SIEM as well, with the command it matched.
  const std::string victim = "/tmp/" + uniq("siem-chmod");
  auto r = vigil::test::runCommand("ssh -p " + std::to_string(w.env.server().sshPort()) +
                                   " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes "
                                   "-o ConnectTimeout=20 " + token + "@127.0.0.1 'echo " + marker + "; touch " + victim +
                                   "; chmod 777 " + victim + "; rm -f " + victim + "' < /dev/null");
  INFO(r.output);
  REQUIRE(contains(r.output, marker));
  for (const auto& d : kDests) {
    if (d.transport == "udp") continue;
    INFO("destination " << d.name);
    auto cmd = waitMessage(w.rs, d, "command", marker);
    REQUIRE(cmd);
    const std::string sid = cmd->params["session"];
    REQUIRE(sid.size() == 36);
    CHECK(contains(cmd->params["link"], "/#/sessions/" + sid + "?t="));
    auto start = waitMessage(w.rs, d, "session_start", sid);
    REQUIRE(start);
    CHECK(start->params["link"] == "https://127.0.0.1:" + std::to_string(w.env.port()) + "/#/sessions/" + sid + "?t=0");
    auto end = waitMessage(w.rs, d, "session_end", sid);
    REQUIRE(end);
    CHECK(contains(end->params["link"], "/#/sessions/" + sid + "?t="));
    CHECK(std::stoll(start->params["seq"]) < std::stoll(cmd->params["seq"]));
    auto alert = waitMessage(w.rs, d, "alert", victim);
    REQUIRE(alert);
    CHECK(alert->params["session"] == sid);
    CHECK(contains(alert->params["link"], "/#/sessions/" + sid + "?t="));
    CHECK_THAT(alert->body, Contains("chmod-777"));
    if (d.format == "cef") {
      CHECK_THAT(start->body, Contains("|200|Session started|3|"));
      CHECK_THAT(start->body, Contains("duser=" + sshd.user()));
      CHECK_THAT(end->body, Contains("|201|Session ended|3|"));
    } else {
      CHECK(json::parse(end->body)["session_id"] == sid);
    }
  }
}
