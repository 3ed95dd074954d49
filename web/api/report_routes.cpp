// GET /api/v1/reports/access (issue 8): for a date range and a set of safes, who accessed which
// account on which target, when, for how long, under which approval, with risk events and review
// status — as CSV (default) or a printable HTML page. Superusers and auditors; audited.
#include <cstdio>
#include <ctime>
#include <sstream>

#include "web/api/context.hpp"

namespace vigil::web {
namespace {

/// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]Z" as seconds since the epoch; `date_only` tells which.
std::optional<long long> parseWhen(const std::string& s, bool& date_only) {
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

std::string iso(long long t) {
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

std::string html(const std::string& v) {
  std::string out;
  for (char c : v) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

const std::vector<std::string> kColumns{
    "session_id", "started_at", "ended_at", "duration_s", "user", "account", "target", "target_address", "safe",
    "protocol", "client_addr", "access_request_id", "request_reason", "request_ticket", "approved_by", "risk_score",
    "risk_events", "review_status", "reviewer", "recording_deleted"};

std::vector<std::string> cells(const store::AccessReportRow& r) {
  return {r.session_id, r.started_at, r.ended_at, std::to_string(r.duration_s), r.username, r.account_user,
          r.target_name, r.target_address, r.safe_name, r.protocol, r.client_addr,
          r.access_request_id ? std::to_string(*r.access_request_id) : "", r.request_reason, r.request_ticket,
          r.approvers, std::to_string(r.risk_score), std::to_string(r.risk_events), r.review_status, r.reviewer,
          r.purged ? "yes" : "no"};
}

HttpResponse accessReport(RequestContext& c) {
  if (!hasAnyRole(c.user(), {"superuser", "auditor"}))
    throw ApiError(403, "forbidden", "reports need the superuser or auditor role");
  bool from_date = false, to_date = false;
  auto from_s = c.queryParam("from"), to_s = c.queryParam("to");
  if (!from_s || !to_s) throw ApiError(400, "validation_failed", "from and to are required (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
  auto from = parseWhen(*from_s, from_date);
  if (!from) throw ApiError(400, "validation_failed", "from: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  auto to = parseWhen(*to_s, to_date);
  if (!to) throw ApiError(400, "validation_failed", "to: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  if (to_date) *to += 86400;  // a date `to` includes that whole day
  if (*to <= *from) throw ApiError(400, "validation_failed", "to: must be after from");
  store::AccessReportQuery q;
  q.from = iso(*from);
  q.to = iso(*to);
  if (auto safes = c.queryParam("safe"); safes && !safes->empty()) {
    std::stringstream ss(*safes);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos)
        throw ApiError(400, "validation_failed", "safe: must be safe ids separated by commas");
      q.safe_ids.push_back(std::stoll(part));
    }
  }
  const std::string format = c.queryParam("format").value_or("csv");
  if (format != "csv" && format != "html") throw ApiError(400, "validation_failed", "format: must be csv or html");
  auto rows = c.deps.store.accessReport(q);
  c.audit("report_access", "report", "access", "ok",
          {{"from", q.from}, {"to", q.to}, {"safe_ids", q.safe_ids}, {"format", format}, {"rows", rows.size()}});
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Cache-Control", "no-store");
  if (format == "csv") {
    std::string body;
    for (std::size_t i = 0; i < kColumns.size(); ++i) body += (i ? "," : "") + kColumns[i];
    body += "\r\n";
    for (auto& row : rows) {
      auto v = cells(row);
      for (std::size_t i = 0; i < v.size(); ++i) body += (i ? "," : "") + csvCell(v[i]);
      body += "\r\n";
    }
    r.content_type = "text/csv; charset=utf-8";
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"vigil-access-report.csv\"");
    r.body = std::move(body);
    return r;
  }
  std::string b = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vigil access report " +
                  html(q.from) + " – " + html(q.to) +
                  "</title><link rel=\"stylesheet\" href=\"/css/report.css\"></head><body><h1>Privileged access report</h1>"
                  "<p class=\"meta\">Sessions started from " + html(q.from) + " to " + html(q.to) + " · " +
                  std::to_string(rows.size()) + " session(s) · generated by " + html(c.user().username) +
                  "</p><table id=\"access-report\"><thead><tr>";
  for (auto& col : kColumns) b += "<th scope=\"col\">" + html(col) + "</th>";
  b += "</tr></thead><tbody>";
  for (auto& row : rows) {
    b += "<tr>";
    for (auto& v : cells(row)) b += "<td>" + html(v) + "</td>";
    b += "</tr>";
  }
  if (rows.empty()) b += "<tr><td colspan=\"" + std::to_string(kColumns.size()) + "\">No sessions in this range.</td></tr>";
  b += "</tbody></table></body></html>";
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(b);
  return r;
}

}  // namespace

void addReportRoutes(std::vector<Route>& r) { r.push_back({"GET", "/api/v1/reports/access", true, accessReport}); }

}  // namespace vigil::web
