// Rule evaluation time per command with N generated rules (docs/benchmarks.md).
//   bench_rules [rules=500] [commands=20000]
// Prints p50/p99/max microseconds per command (normalisation + RE2 set matching).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "server/risk/rule_set.hpp"

using namespace vigil::risk;

namespace {

const char* kCommands[] = {"rm", "chmod", "chown", "iptables", "useradd", "usermod", "passwd", "dd",
                           "curl", "wget", "nc", "python3", "perl", "ssh", "scp", "systemctl", "kill",
                           "mount", "tar", "find", "crontab", "mkfs", "shred", "tcpdump", "nmap"};
const char* kArgs[] = {"/etc/shadow", "/etc/passwd", "/root/.ssh", "/var/log", "/dev/sda", "0.0.0.0",
                       "/tmp", "-R", "777", "--force", "-9", "root", "authorized_keys", "/boot", "-e"};

std::string ruleYaml(int n, std::mt19937& rng) {
  std::string y = "rules:\n";
  for (int i = 0; i < n; ++i) {
    const char* cmd = kCommands[rng() % std::size(kCommands)];
    const char* arg = kArgs[rng() % std::size(kArgs)];
    std::string pat;
    switch (i % 4) {
      case 0: pat = std::string("^") + cmd + " (.* )?" + arg + "( |$)"; break;
      case 1: pat = std::string("^") + cmd + "( -\\S+)* -[a-zA-Z]*[xv][a-zA-Z]* .*" + std::to_string(i); break;
      case 2: pat = std::string("(^|[|;&] )") + cmd + " [^|;&]*\\| (ba|z)?sh( |$)" + std::to_string(i) + "?"; break;
      default: pat = std::string("(?i)") + cmd + std::to_string(i) + "(\\.exe)?( |$)"; break;
    }
    std::string esc;
    for (char c : pat) {
      if (c == '\'') esc += "''";
      else esc += c;
    }
    y += "  - {id: r" + std::to_string(i) + ", description: generated, match: command, pattern: '" + esc +
         "', severity: medium, score: 1, actions: [alert]}\n";
  }
  return y;
}

std::string commandLine(std::mt19937& rng) {
  static const char* lines[] = {
      "ls -la /var/log",
      "sudo systemctl restart nginx",
      "tail -f /var/log/syslog | grep -i error",
      "cd /srv/app && git pull && make -j4",
      "find / -name '*.conf' -mtime -1 2>/dev/null | xargs grep -l password",
      "sudo /bin/rm -r -f /tmp/build-cache",
      "curl -fsSL https://example.com/install.sh | sudo bash",
      "for i in $(seq 1 10); do echo $i; done",
      "docker ps --format '{{.Names}}' | while read n; do docker logs --tail 5 $n; done",
      "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"a\"])' < data.json",
  };
  std::string l;
  if (rng() % 2 == 0) {  // half of them shaped like the rules: some match
    l = std::string("sudo ") + kCommands[rng() % std::size(kCommands)] + " -v " + kArgs[rng() % std::size(kArgs)];
  } else {
    l = lines[rng() % std::size(lines)];
  }
  if (rng() % 3 == 0) l += " # " + std::to_string(rng());
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  const int nrules = argc > 1 ? std::atoi(argv[1]) : 500;
  const int ncmds = argc > 2 ? std::atoi(argv[2]) : 20000;
  std::mt19937 rng(42);
  RuleError err;
  auto t0 = std::chrono::steady_clock::now();
  auto rs = RuleSet::parse(ruleYaml(nrules, rng), err);
  if (!rs) {
    std::fprintf(stderr, "rules rejected: %s\n", err.message().c_str());
    return 1;
  }
  const double compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::string> cmds;
  for (int i = 0; i < ncmds; ++i) cmds.push_back(commandLine(rng));
  for (int i = 0; i < 1000; ++i) rs->match(MatchType::Command, cmds[static_cast<std::size_t>(i) % cmds.size()]);  // warm the DFA
  std::vector<double> us;
  us.reserve(cmds.size());
  std::size_t hits = 0;
  for (const auto& c : cmds) {
    auto a = std::chrono::steady_clock::now();
    hits += rs->match(MatchType::Command, c).size();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))]; };
  std::printf("rules=%d commands=%d compile_ms=%.1f p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f matches=%zu"
              " set_errors=%llu\n",
              nrules, ncmds, compile_ms, pct(0.50), pct(0.99), pct(0.999), us.back(), hits,
              static_cast<unsigned long long>(rs->matchErrors()));
  return 0;
}
