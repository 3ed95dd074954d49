// The session keys: ssh, recordings, sessions, node — defaults, derived values, and ranges.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "server/config.hpp"

using vigil::ConfigError;
using vigil::parseConfig;

namespace {

std::string errorKey(const std::string& yaml) {
  try {
    parseConfig(yaml);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("session keys have their documented defaults", "[unit][config][sessions]") {
  auto c = parseConfig("data_dir: /srv/vigil\nlisten: {address: 10.0.0.5}\n");
  CHECK(c.ssh.enabled);
  CHECK(c.ssh.address == "10.0.0.5");  // follows listen.address
  CHECK(c.ssh.port == 2222);
  CHECK(c.sshHostKeyPath() == "/srv/vigil/ssh/ssh_host_ed25519_key");
  CHECK(c.ssh.max_sessions == 1000);
  CHECK(c.ssh.max_unauthenticated == 64);
  CHECK(c.ssh.login_grace_seconds == 30);
  CHECK(c.ssh.connect_timeout_seconds == 10);
  CHECK(c.recordingsDir() == "/srv/vigil/recordings");
  CHECK(c.recordings.flush_interval_ms == 1000);
  CHECK(c.sessions.launch_token_ttl_seconds == 60);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  CHECK(c.node.name == host);
  CHECK(c.sshPublicHost() == "10.0.0.5");
}

TEST_CASE("the host shown in ssh commands comes from ssh.public_host, else the portal URL, else the address",
          "[unit][config][sessions]") {
  CHECK(parseConfig("ssh: {public_host: bastion.example.com}\n").sshPublicHost() == "bastion.example.com");
  CHECK(parseConfig("listen: {public_url: \"https://vigil.example.com:8443/portal\"}\n").sshPublicHost() ==
        "vigil.example.com");
  CHECK(parseConfig("listen: {public_url: \"https://[2001:db8::1]:8443/\"}\n").sshPublicHost() == "2001:db8::1");
  CHECK(parseConfig("ssh: {address: 192.0.2.10}\n").sshPublicHost() == "192.0.2.10");
  auto any = parseConfig("ssh: {address: 0.0.0.0}\n");
  CHECK(any.sshPublicHost() != "0.0.0.0");
  CHECK_FALSE(any.sshPublicHost().empty());
}

TEST_CASE("session keys are set and checked", "[unit][config][sessions]") {
  auto c = parseConfig(
      "ssh: {enabled: false, address: 127.0.0.2, port: 0, host_key_file: /k, max_sessions: 5,"
      " max_unauthenticated: 2, login_grace_seconds: 3, connect_timeout_seconds: 4}\n"
      "recordings: {dir: /rec, flush_interval_ms: 250}\n"
      "sessions: {launch_token_ttl_seconds: 5}\n"
      "node: {name: node-a}\n");
  CHECK_FALSE(c.ssh.enabled);
  CHECK(c.ssh.port == 0);
  CHECK(c.sshHostKeyPath() == "/k");
  CHECK(c.ssh.max_sessions == 5);
  CHECK(c.recordingsDir() == "/rec");
  CHECK(c.recordings.flush_interval_ms == 250);
  CHECK(c.sessions.launch_token_ttl_seconds == 5);
  CHECK(c.node.name == "node-a");

  CHECK(errorKey("ssh: {port: 70000}\n") == "ssh.port");
  CHECK(errorKey("ssh: {port: -1}\n") == "ssh.port");
  CHECK(errorKey("ssh: {max_sessions: 0}\n") == "ssh.max_sessions");
  CHECK(errorKey("ssh: {max_unauthenticated: 0}\n") == "ssh.max_unauthenticated");
  CHECK(errorKey("ssh: {login_grace_seconds: 0}\n") == "ssh.login_grace_seconds");
  CHECK(errorKey("ssh: {connect_timeout_seconds: 1000}\n") == "ssh.connect_timeout_seconds");
  CHECK(errorKey("ssh: {enabled: maybe}\n") == "ssh.enabled");
  CHECK(errorKey("ssh: {public_host: \"a b\"}\n") == "ssh.public_host");
  CHECK(errorKey("ssh: {public_host: \"me@host\"}\n") == "ssh.public_host");
  CHECK(errorKey("ssh: {prot: 22}\n") == "ssh.prot");
  CHECK(errorKey("recordings: {flush_interval_ms: 10}\n") == "recordings.flush_interval_ms");
  CHECK(errorKey("recordings: {directory: /x}\n") == "recordings.directory");
  CHECK(errorKey("sessions: {launch_token_ttl_seconds: 0}\n") == "sessions.launch_token_ttl_seconds");
  CHECK(errorKey("sessions: {launch_token_ttl_seconds: 3601}\n") == "sessions.launch_token_ttl_seconds");
  CHECK(errorKey("node: {name: [a]}\n") == "node.name");
  CHECK(errorKey("node: {name: " + std::string(200, 'n') + "}\n") == "node.name");
  CHECK(errorKey("ssh: [1]\n") == "ssh");
}
