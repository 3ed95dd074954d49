#include "server/services/access_report.hpp"

#include <cstdio>
#include <ctime>

namespace vigil::services {

/// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]Z" as seconds since the epoch; `date_only` tells which.
std::optional<long long> parseReportTime(const std::string& s, bool& date_only) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  char z = 0;
  std::tm tm{};
  if (s.size() == 10 && std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &mo, &d) == 3) {
    date_only = true;
  } else if ((s.size() == 20 && std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) == 7 && z == 'Z') ||
             (s.size() == 17 && std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &z) == 6 && z == 'Z')) {
    date_only = false;
  } else {
    return std::nullopt;
  }
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<long long>(timegm(&tm));
}

std::string isoTime(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// RFC 4180 quoting; a cell starting with = + - @ is prefixed with ' so spreadsheets do not run it.
std::string csvCell(const std::string& v) {
  std::string s = v;
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
    s = "'" + s;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const std::vector<std::string>& accessReportColumns() {
  static const std::vector<std::string> kColumns{
    "session_id", "started_at", "ended_at", "duration_s", "user", "account", "target", "target_address", "safe",
    "protocol", "client_addr", "access_request_id", "request_reason", "request_ticket", "approved_by", "risk_score",
    "risk_events", "review_status", "reviewer", "recording_deleted"};
  return kColumns;
}

std::vector<std::string> accessReportCells(const store::AccessReportRow& r) {
  return {r.session_id, r.started_at, r.ended_at, std::to_string(r.duration_s), r.username, r.account_user,
          r.target_name, r.target_address, r.safe_name, r.protocol, r.client_addr,
          r.access_request_id ? std::to_string(*r.access_request_id) : "", r.request_reason, r.request_ticket,
          r.approvers, std::to_string(r.risk_score), std::to_string(r.risk_events), r.review_status, r.reviewer,
          r.purged ? "yes" : "no"};
}

std::string accessReportCsv(const std::vector<store::AccessReportRow>& rows) {
  const auto& columns = accessReportColumns();
  std::string body;
  for (std::size_t i = 0; i < columns.size(); ++i) body += (i ? "," : "") + columns[i];
  body += "\r\n";
  for (auto& row : rows) {
    auto v = accessReportCells(row);
    for (std::size_t i = 0; i < v.size(); ++i) body += (i ? "," : "") + csvCell(v[i]);
    body += "\r\n";
  }
  return body;
}

}  // namespace vigil::services
