// siem: the destinations list is validated at start-up; every error names the offending field
// (siem.destinations[<i>].<field>).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/config.hpp"

using vigil::ConfigError;
using vigil::parseConfig;
using Catch::Matchers::Contains;

namespace {

std::string siemErrorKey(const std::string& yaml, std::string* what = nullptr) {
  try {
    parseConfig(yaml);
  } catch (const ConfigError& e) {
    if (what) *what = e.what();
    return e.key();
  }
  FAIL("expected a ConfigError for:\n" << yaml);
  return {};
}

}  // namespace

TEST_CASE("A SIEM destination gets the documented defaults", "[config][siem]") {
  auto c = parseConfig(
      "siem:\n  destinations:\n    - {name: a, transport: udp, host: 127.0.0.1}\n"
      "    - {name: b, transport: tcp, host: siem.example.com, port: 1514, format: json}\n");
  REQUIRE(c.siem.destinations.size() == 2);
  CHECK(c.siem.destinations[0].port == 514);
  CHECK(c.siem.destinations[0].format == "cef");
  CHECK(c.siem.destinations[0].app_name == "vigil");
  CHECK(c.siem.destinations[0].facility == 13);
  CHECK(c.siem.destinations[1].port == 1514);
  CHECK(c.siem.destinations[1].format == "json");
  CHECK(c.siem.max_queue == 100000);
  CHECK(parseConfig("").siem.destinations.empty());
}

TEST_CASE("An unknown SIEM transport is refused naming the destination's transport field", "[config][siem]") {
  std::string what;
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: http, host: x}]}", &what) ==
        "siem.destinations[0].transport");
  CHECK_THAT(what, Contains("udp, tcp or tls"));
  CHECK(siemErrorKey("siem: {destinations: [{name: a, host: x}]}") == "siem.destinations[0].transport");
}

TEST_CASE("A SIEM destination without host, name or with a bad format is refused naming the field", "[config][siem]") {
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x}, {name: b, transport: tcp}]}") ==
        "siem.destinations[1].host");
  CHECK(siemErrorKey("siem: {destinations: [{transport: udp, host: x}]}") == "siem.destinations[0].name");
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x, format: xml}]}") ==
        "siem.destinations[0].format");
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x}, {name: a, transport: udp, host: y}]}") ==
        "siem.destinations[1].name");
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x, port: 70000}]}") ==
        "siem.destinations[0].port");
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x, colour: red}]}") ==
        "siem.destinations[0].colour");
  CHECK(siemErrorKey("siem: {destinations: {name: a}}") == "siem.destinations");
  CHECK(siemErrorKey("siem: {max_queue: 0}") == "siem.max_queue");
  CHECK(siemErrorKey("siem: {link_template: 'https://x/'}") == "siem.link_template");
}

TEST_CASE("A TLS destination needs a CA file holding a PEM certificate", "[config][siem]") {
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: tls, host: x}]}") == "siem.destinations[0].ca_file");
  std::string what;
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: tls, host: x, ca_file: /nonexistent/ca.pem}]}", &what) ==
        "siem.destinations[0].ca_file");
  CHECK_THAT(what, Contains("cannot read"));
  const auto junk = std::filesystem::temp_directory_path() / ("siem-junk-ca-" + std::to_string(getpid()) + ".pem");
  std::ofstream(junk) << "this is not a certificate\n";
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: tls, host: x, ca_file: " + junk.string() + "}]}", &what) ==
        "siem.destinations[0].ca_file");
  CHECK_THAT(what, Contains("no PEM certificate"));
  std::filesystem::remove(junk);
  CHECK(siemErrorKey("siem: {destinations: [{name: a, transport: udp, host: x, ca_file: /etc/hosts}]}") ==
        "siem.destinations[0].ca_file");
}
