#pragma once
// SIEM message formatting: RFC 5424 syslog messages carrying a CEF or JSON payload. Pure
// functions, no sockets (docs/siem.md lists every field).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vigil::services::siem {

/// One outbox row.
struct Event {
  std::int64_t id = 0;       // outbox id
  std::int64_t seq = 0;      // delivery order
  std::string at;            // RFC 3339 UTC, e.g. 2026-11-26T02:04:27.123456Z
  std::int64_t at_ms = 0;    // the same instant, milliseconds since the epoch
  std::string source;        // audit, alert, session_event
  std::int64_t source_id = 0;
  std::string kind;          // audit action, "alert", or the session event kind
  std::string session_id;    // empty when the event has no session
  std::int64_t offset_ms = 0;
  nlohmann::json payload;    // the source row (to_jsonb), plus session context
};

struct FormatOptions {
  std::string format = "cef";  // cef, json
  std::string hostname = "-";  // RFC 5424 HOSTNAME (the node name)
  std::string app_name = "vigil";
  std::string procid = "-";
  int facility = 13;
  std::size_t max_message_bytes = 8192;
  std::string portal_url;      // without a trailing slash
  std::string link_template = "{portal_url}/#/sessions/{session_id}?t={seconds}";
  std::string product_version = "1.0";
};

/// What kind of event this is for a SIEM: a stable signature id per kind, a name, a severity.
struct Classification {
  std::string signature_id;
  std::string name;
  std::string severity;  // info, low, medium, high, critical
};
Classification classify(const Event& e);

int cefSeverity(const std::string& severity);     // 0-10
int syslogSeverity(const std::string& severity);  // RFC 5424 0-7

/// The player at the event's moment; empty when the event has no session.
std::string deepLink(const Event& e, const FormatOptions& o);

/// CEF header field: `\` and `|` escaped, line breaks become spaces.
std::string cefEscapeHeader(std::string_view s);
/// CEF extension value: `\`, `=` escaped, CR/LF as \r / \n.
std::string cefEscapeExtension(std::string_view s);
/// RFC 5424 PARAM-VALUE: `"`, `\` and `]` escaped.
std::string sdEscape(std::string_view s);
/// RFC 5424 header field: printable US-ASCII (33-126) only (others become '_'), at most `max`
/// characters, "-" (NILVALUE) when empty.
std::string headerField(std::string_view s, std::size_t max);

std::string cefPayload(const Event& e, const FormatOptions& o);
nlohmann::json jsonPayload(const Event& e, const FormatOptions& o);

/// The whole RFC 5424 message (no framing), at most o.max_message_bytes: long values inside the
/// payload are shortened first (marked truncated), then the message is cut at a UTF-8 boundary.
std::string syslogMessage(const Event& e, const FormatOptions& o);

/// RFC 5425 / RFC 6587 octet counting: "<length> <message>".
std::string octetCounted(const std::string& message);

}  // namespace vigil::services::siem
