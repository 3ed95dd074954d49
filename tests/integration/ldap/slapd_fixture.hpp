#pragma once
// One private slapd per test process (tests/fixtures/slapd.sh), started on first use and
// stopped at exit. The script's watchdog covers a process that dies without running exit
// handlers.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace vigil::test {

class Slapd {
 public:
  static Slapd& instance() {
    static Slapd s;
    return s;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string get(const std::string& key) const {
    auto it = env_.find(key);
    if (it == env_.end()) throw std::runtime_error("slapd env has no " + key);
    return it->second;
  }

  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

 private:
  Slapd() {
    char tmpl[] = "/tmp/vigil-slapd-XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    if (std::system(command("start").c_str()) != 0) {
      error_ = "slapd.sh start failed (see stderr)";
      return;
    }
    std::ifstream in(dir_ / "env");
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'')
        value = value.substr(1, value.size() - 2);
      env_[line.substr(0, eq)] = value;
    }
    if (!env_.count("LDAP_URL")) error_ = "slapd.sh wrote no LDAP_URL";
  }

  ~Slapd() {
    if (dir_.empty()) return;
    (void)std::system(command("stop").c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string command(const char* verb) const {
    return "VIGIL_SLAPD_OWNER_PID=" + std::to_string(getpid()) + " bash '" VIGIL_SOURCE_DIR
           "/tests/fixtures/slapd.sh' " + verb + " '" + dir_.string() + "'";
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
  std::string error_;
};

}  // namespace vigil::test
