#include <catch2/catch.hpp>

#include "web/api/session_cookie.hpp"

using namespace vigil::web;

TEST_CASE("the session cookie is found among other cookies", "[api][cookie]") {
  CHECK(cookieValue("vigil_session=abc", "vigil_session") == "abc");
  CHECK(cookieValue("theme=dark; vigil_session=abc; x=1", "vigil_session") == "abc");
  CHECK(cookieValue("theme=dark;vigil_session=abc", "vigil_session") == "abc");
}

TEST_CASE("a cookie whose name merely starts like the session cookie is ignored", "[api][cookie]") {
  CHECK(cookieValue("vigil_session_old=abc", "vigil_session").empty());
  CHECK(cookieValue("xvigil_session=abc", "vigil_session").empty());
  CHECK(cookieValue("", "vigil_session").empty());
  CHECK(cookieValue(";;;", "vigil_session").empty());
  CHECK(cookieValue("vigil_session", "vigil_session").empty());
}

TEST_CASE("the session cookie is HttpOnly, Secure, SameSite=Strict and site-wide", "[api][cookie]") {
  auto c = sessionSetCookie("tok", false);
  CHECK(c.rfind("vigil_session=tok;", 0) == 0);
  CHECK(c.find("HttpOnly") != std::string::npos);
  CHECK(c.find("Secure") != std::string::npos);
  CHECK(c.find("SameSite=Strict") != std::string::npos);
  CHECK(c.find("Path=/") != std::string::npos);
  CHECK(c.find("Max-Age") == std::string::npos);
  CHECK(sessionSetCookie("", true).find("Max-Age=0") != std::string::npos);
}

TEST_CASE("state-changing requests need the session's CSRF token", "[api][csrf]") {
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) {
    CHECK_FALSE(csrfAllows(m, std::nullopt, "secret-token"));
    CHECK_FALSE(csrfAllows(m, std::string_view("wrong"), "secret-token"));
    CHECK_FALSE(csrfAllows(m, std::string_view("secret-toke"), "secret-token"));
    CHECK_FALSE(csrfAllows(m, std::string_view(""), ""));
    CHECK(csrfAllows(m, std::string_view("secret-token"), "secret-token"));
  }
}

TEST_CASE("safe methods pass without a CSRF token", "[api][csrf]") {
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) CHECK(csrfAllows(m, std::nullopt, "secret-token"));
}
