// The SIEM formatters: CEF escaping, RFC 5424 header limits and SD-PARAM escaping, deep links,
// size caps. The integration tests (tests/integration/siem) check the same messages through a
// real rsyslog.
#include <catch2/catch.hpp>
#include <regex>
#include <string>

#include "server/services/siem_format.hpp"

using namespace vigil::services::siem;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

Event loginEvent() {
  Event e;
  e.id = 7;
  e.seq = 3;
  e.at = "2026-11-26T02:04:27.123456Z";
  e.at_ms = 1795658667123;
  e.source = "audit";
  e.source_id = 42;
  e.kind = "login";
  e.payload = json{{"actor", "alice"}, {"source_addr", "10.0.0.5"}, {"outcome", "ok"}, {"action", "login"},
                   {"details", {{"reason", ""}}}};
  return e;
}

Event alertEvent() {
  Event e;
  e.id = 8;
  e.seq = 4;
  e.at = "2026-11-26T02:04:28.000000Z";
  e.at_ms = 1795658668000;
  e.source = "alert";
  e.source_id = 5;
  e.kind = "alert";
  e.session_id = "01890a5d-ac96-774b-bcce-b302099a8057";
  e.offset_ms = 12345;
  e.payload = json{{"rule_id", "rm-rf-root"}, {"severity", "high"}, {"score", 50}, {"actions", {"alert", "block"}},
                   {"message", "Recursive delete of /"}, {"matched", "rm -rf /tmp/x"}, {"username", "alice"}};
  return e;
}

FormatOptions options(const std::string& format) {
  FormatOptions o;
  o.format = format;
  o.hostname = "node-1";
  o.procid = "1234";
  o.portal_url = "https://vigil.example.com/";
  return o;
}

// RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
const std::regex kSyslog(R"(^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[(?:[^\]\\]|\\.)*\])(?: (.*))?$)");

}  // namespace

TEST_CASE("CEF header fields escape pipes and backslashes and flatten line breaks", "[siem][cef]") {
  CHECK(cefEscapeHeader("a|b\\c") == "a\\|b\\\\c");
  CHECK(cefEscapeHeader("line1\nline2\r") == "line1 line2 ");
  CHECK(cefEscapeHeader("a=b") == "a=b");
}

TEST_CASE("CEF extension values escape backslash, equals and line breaks but not pipes", "[siem][cef]") {
  CHECK(cefEscapeExtension("a=b") == "a\\=b");
  CHECK(cefEscapeExtension("c:\\dir") == "c:\\\\dir");
  CHECK(cefEscapeExtension("one\ntwo\rthree") == "one\\ntwo\\rthree");
  CHECK(cefEscapeExtension("a|b") == "a|b");
}

TEST_CASE("RFC 5424 SD-PARAM values escape quote, backslash and closing bracket", "[siem][rfc5424]") {
  CHECK(sdEscape(R"(say "hi")") == R"(say \"hi\")");
  CHECK(sdEscape(R"(a\b)") == R"(a\\b)");
  CHECK(sdEscape("x]y") == "x\\]y");
  CHECK(sdEscape("plain [text]") == "plain [text\\]");
}

TEST_CASE("RFC 5424 header fields are printable ASCII within their length limits", "[siem][rfc5424]") {
  CHECK(headerField("", 48) == "-");
  CHECK(headerField("my app", 48) == "my_app");
  CHECK(headerField("h\xc3\xa9llo", 255) == "h__llo");
  CHECK(headerField(std::string(100, 'a'), 48) == std::string(48, 'a'));
  Event e = loginEvent();
  e.kind = "a_very_long_audit_action_name_that_exceeds_thirty_two";
  FormatOptions o = options("cef");
  o.app_name = std::string(60, 'x');
  o.hostname = "host with spaces";
  std::smatch m;
  const std::string msg = syslogMessage(e, o);
  REQUIRE(std::regex_match(msg, m, kSyslog));
  CHECK(m[3].str() == "host_with_spaces");
  CHECK(m[4].str().size() == 48);
  CHECK(m[6].str().size() == 32);
}

TEST_CASE("A login becomes an RFC 5424 message with the event's time, node, app, msgid and structured data",
          "[siem][rfc5424]") {
  const std::string msg = syslogMessage(loginEvent(), options("cef"));
  std::smatch m;
  REQUIRE(std::regex_match(msg, m, kSyslog));
  CHECK(m[1].str() == std::to_string(13 * 8 + 5));  // facility log audit, severity notice (low)
  CHECK(m[2].str() == "2026-11-26T02:04:27.123456Z");
  CHECK(m[3].str() == "node-1");
  CHECK(m[4].str() == "vigil");
  CHECK(m[5].str() == "1234");
  CHECK(m[6].str() == "login");
  CHECK_THAT(m[7].str(), Contains("[vigil@32473 event=\"audit:42\" seq=\"3\" sig=\"100\""));
  CHECK_THAT(m[7].str(), Contains("user=\"alice\""));
  CHECK(m[8].str().rfind("CEF:0|Vigil|Vigil PAM|", 0) == 0);
  CHECK_THAT(m[8].str(), Contains("|100|Login succeeded|3|"));
  CHECK_THAT(m[8].str(), Contains("suser=alice"));
  CHECK_THAT(m[8].str(), Contains("src=10.0.0.5"));
  CHECK_THAT(m[8].str(), Contains("rt=1795658667123"));
  CHECK_THAT(m[8].str(), Contains("outcome=ok"));
}

TEST_CASE("A failed login is a different signature with a higher severity", "[siem][cef]") {
  Event e = loginEvent();
  e.payload["outcome"] = "failed";
  const std::string cef = cefPayload(e, options("cef"));
  CHECK_THAT(cef, Contains("|101|Login failed|5|"));
}

TEST_CASE("An alert carries its rule, severity and a deep link to the moment in the player", "[siem][cef]") {
  const Event e = alertEvent();
  CHECK(deepLink(e, options("cef")) ==
        "https://vigil.example.com/#/sessions/01890a5d-ac96-774b-bcce-b302099a8057?t=12");
  const std::string cef = cefPayload(e, options("cef"));
  CHECK_THAT(cef, Contains("|400|Risk alert rm-rf-root: Recursive delete of /|8|"));
  // '=' inside an extension value is escaped: the link's query survives CEF parsing.
  CHECK_THAT(cef, Contains("cs2Label=deepLink cs2=https://vigil.example.com/#/sessions/01890a5d-ac96-774b-bcce-b302099a8057?t\\=12"));
  CHECK_THAT(cef, Contains("cs3=rm-rf-root"));
  CHECK_THAT(cef, Contains("cs4=rm -rf /tmp/x"));
  CHECK_THAT(cef, Contains("cs5=alert,block"));
  const std::string msg = syslogMessage(e, options("cef"));
  std::smatch m;
  REQUIRE(std::regex_match(msg, m, kSyslog));
  CHECK(m[1].str() == std::to_string(13 * 8 + 3));  // high -> error
}

TEST_CASE("The JSON payload is one object with the common fields and the source row", "[siem][json]") {
  const std::string msg = syslogMessage(alertEvent(), options("json"));
  std::smatch m;
  REQUIRE(std::regex_match(msg, m, kSyslog));
  auto j = json::parse(m[8].str());
  CHECK(j["vendor"] == "Vigil");
  CHECK(j["kind"] == "alert");
  CHECK(j["severity"] == "high");
  CHECK(j["signature_id"] == "400");
  CHECK(j["event_id"] == "alert:5");
  CHECK(j["session_id"] == "01890a5d-ac96-774b-bcce-b302099a8057");
  CHECK(j["offset_seconds"] == 12);
  CHECK(j["link"] == "https://vigil.example.com/#/sessions/01890a5d-ac96-774b-bcce-b302099a8057?t=12");
  CHECK(j["text"] == "rm -rf /tmp/x");
  CHECK(j["data"]["rule_id"] == "rm-rf-root");
}

TEST_CASE("Values with quotes, brackets and newlines keep the syslog structure intact", "[siem][rfc5424]") {
  Event e = loginEvent();
  e.payload["actor"] = "ev\"il] \\user\nx";
  const std::string msg = syslogMessage(e, options("json"));
  std::smatch m;
  REQUIRE(std::regex_match(msg, m, kSyslog));
  CHECK_THAT(m[7].str(), Contains(R"(user="ev\"il\] \\user)"));
  CHECK(json::parse(m[8].str())["user"] == "ev\"il] \\user\nx");
}

TEST_CASE("A message over the size cap is shortened and stays valid JSON", "[siem][json]") {
  Event e = alertEvent();
  e.payload["matched"] = "echo " + std::string(100000, 'y');
  FormatOptions o = options("json");
  o.max_message_bytes = 2048;
  const std::string msg = syslogMessage(e, o);
  CHECK(msg.size() <= 2048);
  std::smatch m;
  REQUIRE(std::regex_match(msg, m, kSyslog));
  auto j = json::parse(m[8].str());
  CHECK(j["data"]["truncated"] == true);
  CHECK(j["data"]["rule_id"] == "rm-rf-root");
}

TEST_CASE("The last resort cut never splits a UTF-8 character", "[siem][rfc5424]") {
  Event e = loginEvent();
  e.kind = "login";
  FormatOptions o = options("cef");
  o.max_message_bytes = 480;
  o.hostname = std::string(255, 'h');
  e.payload["actor"] = std::string(20, 'a');
  e.payload["details"] = json{{"k", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}};
  const std::string msg = syslogMessage(e, o);
  CHECK(msg.size() <= 480);
  const auto last = static_cast<unsigned char>(msg.back());
  CHECK((last & 0xC0) != 0xC0);  // does not end with a lead byte
}

TEST_CASE("Commands are session events with their own signature and the session's user", "[siem][cef]") {
  Event e;
  e.source = "session_event";
  e.source_id = 9;
  e.kind = "command";
  e.session_id = "01890a5d-ac96-774b-bcce-b302099a8057";
  e.offset_ms = 61500;
  e.at = "2026-11-26T02:04:28.000000Z";
  e.payload = json{{"text", "ls -la | grep x=1"}, {"username", "bob"}, {"account_user", "root"}, {"target", "db1"},
                   {"client_addr", "127.0.0.1"}, {"protocol", "ssh"}};
  const std::string cef = cefPayload(e, options("cef"));
  CHECK_THAT(cef, Contains("|300|Command|1|"));
  CHECK_THAT(cef, Contains("suser=bob"));
  CHECK_THAT(cef, Contains("duser=root"));
  CHECK_THAT(cef, Contains("dhost=db1"));
  CHECK_THAT(cef, Contains("cs4=ls -la | grep x\\=1"));
  CHECK_THAT(cef, Contains("cn1=61"));
  CHECK(octetCounted("abc") == "3 abc");
}
