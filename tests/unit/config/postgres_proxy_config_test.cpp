// postgres_proxy: defaults, the host shown in psql lines, and ranges.
#include <catch2/catch.hpp>
#include <string>

#include "server/config.hpp"

using vigil::ConfigError;
using vigil::parseConfig;

TEST_CASE("the PostgreSQL proxy is off by default and follows listen.address", "[unit][config][postgres]") {
  auto c = parseConfig("listen: {address: 10.0.0.5}\n");
  CHECK_FALSE(c.postgres_proxy.enabled);
  CHECK(c.postgres_proxy.address == "10.0.0.5");
  CHECK(c.postgres_proxy.port == 5433);
  CHECK_FALSE(c.postgres_proxy.allow_cleartext);
  CHECK(c.postgresPublicHost() == "10.0.0.5");
}

TEST_CASE("postgres_proxy keys are set and checked", "[unit][config][postgres]") {
  auto c = parseConfig("postgres_proxy: {enabled: true, address: 127.0.0.2, port: 0, public_host: db.example.com,"
                       " allow_cleartext: true, max_connections: 7, login_grace_seconds: 3, connect_timeout_seconds: 4}\n");
  CHECK(c.postgres_proxy.enabled);
  CHECK(c.postgres_proxy.address == "127.0.0.2");
  CHECK(c.postgres_proxy.port == 0);
  CHECK(c.postgres_proxy.allow_cleartext);
  CHECK(c.postgres_proxy.max_connections == 7);
  CHECK(c.postgresPublicHost() == "db.example.com");
  auto key = [](const std::string& yaml) {
    try {
      parseConfig(yaml);
    } catch (const ConfigError& e) {
      return e.key();
    }
    return std::string("(no error)");
  };
  CHECK(key("postgres_proxy: {port: 70000}\n") == "postgres_proxy.port");
  CHECK(key("postgres_proxy: {public_host: \"a b\"}\n") == "postgres_proxy.public_host");
  CHECK(key("postgres_proxy: {bogus: 1}\n") == "postgres_proxy.bogus");
  CHECK(key("postgres_proxy: {max_connections: 0}\n") == "postgres_proxy.max_connections");
}

TEST_CASE("the psql host follows the portal URL when no address is public", "[unit][config][postgres]") {
  CHECK(parseConfig("listen: {public_url: \"https://vigil.example.com/\"}\n").postgresPublicHost() == "vigil.example.com");
}
