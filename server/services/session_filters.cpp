#include "server/services/session_filters.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <cwctype>
#include <regex>

#include "server/services/ids.hpp"

namespace vigil::services {
namespace {

bool isDigits(const std::string& s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::optional<std::int64_t> parseInt(const std::string& v) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += digits[c >> 4], out += digits[c & 15];
  return out;
}

std::optional<std::string> unhex(const std::string& s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

std::u32string toU32(const std::string& s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
      out += U'\uFFFD';
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (d & 0x3F);
    }
    out += ok ? cp : U'\uFFFD';
    i += ok ? n : 1;
  }
  return out;
}

std::string toUtf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) out += static_cast<char>(c);
    else if (c < 0x800) out += static_cast<char>(0xC0 | (c >> 6)), out += static_cast<char>(0x80 | (c & 0x3F));
    else if (c < 0x10000)
      out += static_cast<char>(0xE0 | (c >> 12)), out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
          out += static_cast<char>(0x80 | (c & 0x3F));
    else
      out += static_cast<char>(0xF0 | (c >> 18)), out += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
          out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::u32string fold(std::u32string s) {
  for (auto& c : s) c = static_cast<char32_t>(std::towlower(static_cast<wint_t>(c)));
  return s;
}

std::vector<std::pair<int, int>> findAll(const std::u32string& hay, const std::u32string& needle) {
  std::vector<std::pair<int, int>> out;
  if (needle.empty()) return out;
  for (std::size_t p = hay.find(needle); p != std::u32string::npos; p = hay.find(needle, p + needle.size()))
    out.emplace_back(static_cast<int>(p), static_cast<int>(p + needle.size()));
  return out;
}

}  // namespace

std::optional<TimeBound> parseTimeBound(const std::string& v, bool is_to, std::string& error) {
  error = "must be a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM:SSZ)";
  if (v.size() < 10 || !isDigits(v, 0, 4) || v[4] != '-' || !isDigits(v, 5, 2) || v[7] != '-' || !isDigits(v, 8, 2))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(v.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(v.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(v.substr(8, 2));
  std::string rest = v.substr(10);
  std::string zone = "Z";
  bool date_only = rest.empty();
  if (!date_only) {
    static const std::regex time_re(R"([T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})?)");
    std::smatch m;
    if (!std::regex_match(rest, m, time_re)) return std::nullopt;
    tm.tm_hour = std::stoi(m[1]);
    tm.tm_min = std::stoi(m[2]);
    tm.tm_sec = m[3].matched ? std::stoi(m[3]) : 0;
    if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59) return std::nullopt;
    if (m[5].matched && m[5] != "Z" && m[5] != "z") {
      zone = m[5];
      if (std::stoi(zone.substr(1, 2)) > 14) return std::nullopt;
    }
    rest = std::string(m[4].matched ? m[4].str() : "");
  }
  // The calendar check: timegm normalises 02-30 to 03-02, which then differs from the input.
  std::tm check = tm;
  const std::time_t t = timegm(&check);
  if (t == static_cast<std::time_t>(-1) || check.tm_mday != tm.tm_mday || check.tm_mon != tm.tm_mon ||
      tm.tm_year < 0 || tm.tm_year > 8000)
    return std::nullopt;
  error.clear();
  TimeBound b;
  char buf[40];
  if (date_only && is_to) {
    std::time_t next = t + 86400;
    std::tm n{};
    gmtime_r(&next, &n);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &n);
    b.rfc3339 = buf;
    b.exclusive = true;
    return b;
  }
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  b.rfc3339 = std::string(buf) + rest + zone;
  return b;
}

std::string encodeCursor(const std::string& sort, const store::SessionQuery::Key& key) {
  return hex("v1|" + sort + "|" + std::to_string(key.a) + "|" + std::to_string(key.b) + "|" + key.id);
}

std::optional<store::SessionQuery::Key> decodeCursor(const std::string& sort, const std::string& cursor,
                                                     std::string& error) {
  error = "not a cursor from next_cursor";
  auto plain = cursor.size() <= 400 ? unhex(cursor) : std::nullopt;
  if (!plain) return std::nullopt;
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t p; (p = plain->find('|', start)) != std::string::npos; start = p + 1)
    parts.push_back(plain->substr(start, p - start));
  parts.push_back(plain->substr(start));
  if (parts.size() != 5 || parts[0] != "v1") return std::nullopt;
  if (parts[1] != sort) {
    error = "this cursor belongs to sort " + parts[1] + ", not " + sort;
    return std::nullopt;
  }
  auto a = parseInt(parts[2]), b = parseInt(parts[3]);
  if (!a || !b || !isUuid(parts[4])) return std::nullopt;
  error.clear();
  return store::SessionQuery::Key{*a, *b, parts[4]};
}

std::string applySessionFilter(store::SessionQuery& q, const std::string& name, const std::string& value) {
  auto intIn = [&](std::int64_t lo, std::int64_t hi) -> std::optional<std::int64_t> {
    auto n = parseInt(value);
    if (!n || *n < lo || *n > hi) return std::nullopt;
    return n;
  };
  auto intError = [&](std::int64_t lo, std::int64_t hi) {
    return name + ": must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  };
  auto oneOf = [&](const std::vector<std::string>& allowed) -> std::string {
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return "";
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return name + ": must be one of " + list;
  };
  if (name == "user_id" || name == "account_id" || name == "target_id" || name == "safe_id") {
    auto n = intIn(1, INT64_MAX);
    if (!n) return intError(1, INT64_MAX);
    (name == "user_id" ? q.user_id : name == "account_id" ? q.account_id : name == "target_id" ? q.target_id : q.safe_id) = n;
  } else if (name == "min_risk" || name == "max_risk") {
    auto n = intIn(0, 1000000);
    if (!n) return intError(0, 1000000);
    (name == "min_risk" ? q.min_risk : q.max_risk) = n;
  } else if (name == "min_duration" || name == "max_duration") {
    auto n = intIn(0, 100LL * 365 * 86400);
    if (!n) return intError(0, 100LL * 365 * 86400);
    (name == "min_duration" ? q.min_duration_ms : q.max_duration_ms) = *n * 1000;
  } else if (name == "user") {
    if (value.empty() || value.size() > 128) return "user: 1 to 128 characters";
    q.username = value;
  } else if (name == "protocol") {
    if (auto e = oneOf(kSessionProtocols); !e.empty()) return e;
    q.protocol = value;
  } else if (name == "review_status") {
    if (auto e = oneOf(kReviewStatuses); !e.empty()) return e;
    q.review_status = value;
  } else if (name == "status") {
    if (value != "active" && value != "ended") return "status: must be active or ended";
    q.status = value;
  } else if (name == "sort") {
    if (auto e = oneOf(kSessionSorts); !e.empty()) return e;
    q.sort = value;
  } else if (name == "limit") {
    auto n = intIn(1, 200);
    if (!n) return intError(1, 200);
    q.limit = static_cast<int>(*n);
  } else if (name == "from" || name == "to") {
    std::string why;
    auto b = parseTimeBound(value, name == "to", why);
    if (!b) return name + ": " + why;
    if (name == "from") q.from = b->rfc3339;
    else (b->exclusive ? q.to_before : q.to) = b->rfc3339;
  } else if (name == "q" || name == "match" || name == "text") {
    if (value.empty() || value.size() > 200) return name + ": 1 to 200 characters";
    if (value.find('\0') != std::string::npos) return name + ": must not contain NUL";
    (name == "q" ? q.text : name == "match" ? q.words : q.search) = value;
  } else if (name == "before") {
    if (!isUuid(value)) return "before: must be a session id";
    q.before = value;
  }
  return "";
}

Snippet makeSnippet(const std::string& text, const std::string& query, int context) {
  const std::u32string t = toU32(text);
  const std::u32string lt = fold(t);
  auto matches = findAll(lt, fold(toU32(query)));
  if (matches.empty()) {
    // Full-text hit: highlight each word of the query.
    std::u32string word;
    const std::u32string lq = fold(toU32(query)) + U' ';
    for (char32_t c : lq) {
      if (std::iswalnum(static_cast<wint_t>(c)) || c == U'_' || c == U'-' || c == U'.' || c == U'/') {
        word += c;
        continue;
      }
      for (auto& m : findAll(lt, word)) matches.push_back(m);
      word.clear();
    }
    std::sort(matches.begin(), matches.end());
  }
  const int n = static_cast<int>(t.size());
  int first = matches.empty() ? 0 : matches.front().first;
  // The line of the first match, then at most `context` code points either side of it.
  int ls = first, le = first;
  while (ls > 0 && t[ls - 1] != U'\n') --ls;
  while (le < n && t[le] != U'\n') ++le;
  const int firstEnd = matches.empty() ? first : matches.front().second;
  int start = std::max(ls, first - context);
  int end = std::min(le, std::max(firstEnd, first) + context);
  if (end < firstEnd) end = firstEnd;
  Snippet s;
  std::u32string piece = t.substr(start, end - start);
  for (auto& c : piece)
    if (c < 0x20 || c == 0x7f) c = U' ';
  s.text = toUtf8(piece);
  for (auto& [a, b] : matches) {
    if (a < start || b > end) continue;
    if (s.highlights.size() >= 20) break;
    s.highlights.emplace_back(a - start, b - start);
  }
  return s;
}

}  // namespace vigil::services
