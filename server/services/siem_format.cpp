#include "server/services/siem_format.hpp"

#include <arpa/inet.h>

#include <array>

namespace vigil::services::siem {
namespace {

using json = nlohmann::json;

// Structured data id: "vigil@32473". 32473 is the private enterprise number RFC 5612 reserves for
// documentation; deployments with their own PEN can filter on the name before the '@'.
constexpr const char* kSdId = "vigil@32473";

std::string field(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& sub(const json& j, const char* key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

bool isIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// The user behind the event: the actor of an audit row, the session's user otherwise.
std::string userOf(const Event& e) {
  if (e.source == "audit") return field(e.payload, "actor");
  return field(e.payload, "username");
}
std::string sourceAddrOf(const Event& e) {
  if (e.source == "audit") return field(e.payload, "source_addr");
  return field(e.payload, "client_addr");
}
// The text of a command / statement / file operation / matched rule.
std::string textOf(const Event& e) {
  if (e.source == "alert") return field(e.payload, "matched");
  if (e.source == "session_event") return field(e.payload, "text");
  return {};
}
std::string accountOf(const Event& e) {
  if (e.source == "audit") return field(sub(e.payload, "details"), "account_user");
  return field(e.payload, "account_user");
}
std::string targetOf(const Event& e) {
  if (e.source == "audit") return field(sub(e.payload, "details"), "target");
  return field(e.payload, "target");
}

std::string normalSeverity(std::string s) {
  if (s == "low" || s == "medium" || s == "high" || s == "critical") return s;
  return "medium";
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string utf8Cut(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Every string inside `j` longer than `limit` bytes is cut; returns whether anything was.
bool shorten(json& j, std::size_t limit) {
  bool cut = false;
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    if (s.size() > limit) {
      s = utf8Cut(s, limit) + "...";
      cut = true;
    }
  } else if (j.is_object() || j.is_array()) {
    for (auto& v : j) cut = shorten(v, limit) || cut;
  }
  return cut;
}

std::string render(const Event& e, const FormatOptions& o) {
  const Classification c = classify(e);
  const int pri = o.facility * 8 + syslogSeverity(c.severity);
  std::string m = "<" + std::to_string(pri) + ">1 ";
  m += headerField(e.at, 64);
  m += ' ';
  m += headerField(o.hostname, 255);
  m += ' ';
  m += headerField(o.app_name, 48);
  m += ' ';
  m += headerField(o.procid, 128);
  m += ' ';
  m += headerField(e.kind, 32);
  m += ' ';
  m += '[';
  m += kSdId;
  auto param = [&m](const char* name, const std::string& value) {
    if (value.empty()) return;
    m += ' ';
    m += name;
    m += "=\"";
    // Control characters become spaces: receivers that store one message per line stay sane.
    std::string clean = value;
    for (char& ch : clean)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
    m += sdEscape(clean);
    m += '"';
  };
  param("event", e.source + ":" + std::to_string(e.source_id));
  param("seq", std::to_string(e.seq));
  param("sig", c.signature_id);
  param("severity", c.severity);
  param("user", userOf(e));
  param("session", e.session_id);
  param("link", deepLink(e, o));
  m += "] ";
  if (o.format == "json")
    m += jsonPayload(e, o).dump(-1, ' ', false, json::error_handler_t::replace);
  else
    m += cefPayload(e, o);
  return m;
}

}  // namespace

Classification classify(const Event& e) {
  const std::string& k = e.kind;
  if (e.source == "alert") {
    std::string name = field(e.payload, "rule_id");
    const std::string msg = field(e.payload, "message");
    if (!msg.empty()) name += ": " + msg;
    return {"400", "Risk alert " + name, normalSeverity(field(e.payload, "severity"))};
  }
  if (e.source == "session_event") {
    if (k == "command") return {"300", "Command", "info"};
    if (k == "sql") return {"301", "SQL statement", "info"};
    if (k == "file") return {"302", "File operation", "info"};
    if (k == "risk") return {"303", "Risk rule matched", normalSeverity(field(sub(e.payload, "details"), "severity"))};
    return {"399", "Session event " + k, "info"};
  }
  const std::string outcome = field(e.payload, "outcome");
  const bool ok = outcome == "ok" || outcome.empty();
  if (k == "login") return ok ? Classification{"100", "Login succeeded", "low"} : Classification{"101", "Login failed", "medium"};
  if (k == "logout") return {"102", "Logout", "info"};
  if (k == "session_start") return {"200", "Session started", "low"};
  if (k == "session_end") return {"201", "Session ended", "low"};
  if (k == "siem_dropped") return {"900", "SIEM events dropped (queue full)", "high"};
  // SOC actions on live sessions and users (the live-control work names them session_suspend,
  // session_terminate, user_lock, ...).
  if (contains(k, "suspend") || contains(k, "resume") || contains(k, "terminate") || contains(k, "lock") ||
      contains(k, "watch"))
    return {"500", "SOC action " + k, ok ? "medium" : "high"};
  if (contains(k, "review")) return {"600", "Review " + k, "low"};
  if (contains(k, "alert")) return {"410", "Alert " + k, "low"};
  return {"800", "Audit " + k, ok ? "info" : "medium"};
}

int cefSeverity(const std::string& s) {
  if (s == "critical") return 10;
  if (s == "high") return 8;
  if (s == "medium") return 5;
  if (s == "low") return 3;
  return 1;
}

int syslogSeverity(const std::string& s) {
  if (s == "critical") return 2;
  if (s == "high") return 3;
  if (s == "medium") return 4;
  if (s == "low") return 5;
  return 6;
}

std::string deepLink(const Event& e, const FormatOptions& o) {
  if (e.session_id.empty() || o.portal_url.empty()) return {};
  std::string url = o.link_template;
  auto replace = [&url](const std::string& what, const std::string& with) {
    for (auto p = url.find(what); p != std::string::npos; p = url.find(what, p + with.size()))
      url.replace(p, what.size(), with);
  };
  std::string portal = o.portal_url;
  while (!portal.empty() && portal.back() == '/') portal.pop_back();
  replace("{portal_url}", portal);
  replace("{session_id}", e.session_id);
  replace("{seconds}", std::to_string(e.offset_ms < 0 ? 0 : e.offset_ms / 1000));
  replace("{offset_ms}", std::to_string(e.offset_ms < 0 ? 0 : e.offset_ms));
  return url;
}

std::string cefEscapeHeader(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '\\' || ch == '|') {
      out += '\\';
      out += ch;
    } else if (ch == '\r' || ch == '\n') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string cefEscapeExtension(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '\\' || ch == '=') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string sdEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '"' || ch == '\\' || ch == ']') out += '\\';
    out += ch;
  }
  return out;
}

std::string headerField(std::string_view s, std::size_t max) {
  std::string out;
  for (char ch : s) {
    if (out.size() == max) break;
    const auto u = static_cast<unsigned char>(ch);
    out += (u >= 33 && u <= 126) ? ch : '_';
  }
  return out.empty() ? "-" : out;
}

std::string cefPayload(const Event& e, const FormatOptions& o) {
  const Classification c = classify(e);
  std::string m = "CEF:0|Vigil|Vigil PAM|" + cefEscapeHeader(o.product_version) + "|" +
                  cefEscapeHeader(c.signature_id) + "|" + cefEscapeHeader(c.name) + "|" +
                  std::to_string(cefSeverity(c.severity)) + "|";
  bool first = true;
  auto ext = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    if (!first) m += ' ';
    first = false;
    m += key;
    m += '=';
    m += cefEscapeExtension(value);
  };
  ext("rt", std::to_string(e.at_ms));
  ext("externalId", e.source + ":" + std::to_string(e.source_id));
  ext("dvchost", o.hostname == "-" ? "" : o.hostname);
  ext("act", e.kind);
  ext("outcome", e.source == "audit" ? field(e.payload, "outcome") : "");
  ext("suser", userOf(e));
  const std::string src = sourceAddrOf(e);
  ext(isIp(src) ? "src" : "shost", src);
  ext("duser", accountOf(e));
  ext("dhost", targetOf(e));
  ext("app", field(e.payload, "protocol"));
  if (!e.session_id.empty()) {
    ext("cs1Label", "sessionId");
    ext("cs1", e.session_id);
    ext("cs2Label", "deepLink");
    ext("cs2", deepLink(e, o));
    ext("cn1Label", "offsetSeconds");
    ext("cn1", std::to_string(e.offset_ms / 1000));
  }
  if (e.source == "alert") {
    ext("cs3Label", "rule");
    ext("cs3", field(e.payload, "rule_id"));
    ext("cn2Label", "score");
    ext("cn2", field(e.payload, "score"));
    std::string actions;
    const json& acts = sub(e.payload, "actions");
    if (acts.is_array())
      for (auto& a : acts)
        if (a.is_string()) actions += (actions.empty() ? "" : ",") + a.get<std::string>();
    ext("cs5Label", "actions");
    ext("cs5", actions);
  }
  const std::string text = textOf(e);
  if (!text.empty()) {
    ext("cs4Label", "command");
    ext("cs4", text);
  }
  if (e.source == "audit") {
    ext("cs6Label", "details");
    ext("cs6", sub(e.payload, "details").is_null() ? "" : sub(e.payload, "details").dump(-1, ' ', false, json::error_handler_t::replace));
  }
  ext("msg", e.source == "alert" ? field(e.payload, "message") : c.name);
  return m;
}

json jsonPayload(const Event& e, const FormatOptions& o) {
  const Classification c = classify(e);
  json j{{"vendor", "Vigil"},
         {"event_id", e.source + ":" + std::to_string(e.source_id)},
         {"seq", e.seq},
         {"time", e.at},
         {"node", o.hostname},
         {"source", e.source},
         {"kind", e.kind},
         {"signature_id", c.signature_id},
         {"name", c.name},
         {"severity", c.severity},
         {"user", userOf(e)},
         {"source_addr", sourceAddrOf(e)}};
  if (e.source == "audit") j["outcome"] = field(e.payload, "outcome");
  if (!e.session_id.empty()) {
    j["session_id"] = e.session_id;
    j["offset_seconds"] = e.offset_ms / 1000;
    j["link"] = deepLink(e, o);
  }
  if (const std::string t = textOf(e); !t.empty()) j["text"] = t;
  j["data"] = e.payload;
  return j;
}

std::string syslogMessage(const Event& e, const FormatOptions& o) {
  std::string m = render(e, o);
  if (m.size() <= o.max_message_bytes) return m;
  // Too long (a huge command, say): shorten the values, keeping the structure valid.
  Event shortened = e;
  for (std::size_t limit : {std::size_t{1024}, std::size_t{256}, std::size_t{64}}) {
    if (!shorten(shortened.payload, limit)) continue;
    shortened.payload["truncated"] = true;
    m = render(shortened, o);
    if (m.size() <= o.max_message_bytes) return m;
  }
  return utf8Cut(m, o.max_message_bytes);
}

std::string octetCounted(const std::string& message) {
  return std::to_string(message.size()) + " " + message;
}

}  // namespace vigil::services::siem
