#pragma once
// Byte fixtures of PostgreSQL protocol 3 conversations, built message by message as psql and
// pgbench send them (the framing follows the protocol documentation, chapter 55.7).
#include <cstdint>
#include <string>
#include <vector>

namespace pgfix {

inline std::string i32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
}
inline std::string i16(std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  return {static_cast<char>(u >> 8), static_cast<char>(u)};
}
inline std::string z(const std::string& s) { return s + std::string(1, '\0'); }
inline std::string msg(char t, const std::string& body) { return std::string(1, t) + i32(static_cast<std::int32_t>(body.size() + 4)) + body; }

inline std::string startup(const std::string& user, const std::string& db) {
  std::string body = i32(196608) + z("user") + z(user) + z("database") + z(db) + z("application_name") + z("psql") + std::string(1, '\0');
  return i32(static_cast<std::int32_t>(body.size() + 4)) + body;
}
inline std::string sslRequest() { return i32(8) + i32(80877103); }
inline std::string cancel(std::int32_t pid, std::int32_t key) { return i32(16) + i32(80877102) + i32(pid) + i32(key); }

// Frontend
inline std::string query(const std::string& sql) { return msg('Q', z(sql)); }
inline std::string parse(const std::string& name, const std::string& sql) { return msg('P', z(name) + z(sql) + i16(0)); }
/// Bind with text parameters ("\x01NULL" for a NULL).
inline std::string bind(const std::string& portal, const std::string& stmt, const std::vector<std::string>& params) {
  std::string b = z(portal) + z(stmt) + i16(0) + i16(static_cast<std::int16_t>(params.size()));
  for (const auto& p : params) {
    if (p == "\x01NULL") b += i32(-1);
    else b += i32(static_cast<std::int32_t>(p.size())) + p;
  }
  return msg('B', b + i16(0));
}
inline std::string describePortal(const std::string& portal) { return msg('D', "P" + z(portal)); }
inline std::string execute(const std::string& portal, std::int32_t max_rows = 0) { return msg('E', z(portal) + i32(max_rows)); }
inline std::string sync() { return msg('S', ""); }
inline std::string closeStmt(const std::string& name) { return msg('C', "S" + z(name)); }
inline std::string terminate() { return msg('X', ""); }
inline std::string password(const std::string& pw) { return msg('p', z(pw)); }
inline std::string copyData(const std::string& d) { return msg('d', d); }
inline std::string copyDone() { return msg('c', ""); }

// Backend
inline std::string authOk() { return msg('R', i32(0)); }
inline std::string authCleartext() { return msg('R', i32(3)); }
inline std::string paramStatus(const std::string& k, const std::string& v) { return msg('S', z(k) + z(v)); }
inline std::string backendKey(std::int32_t pid, std::int32_t key) { return msg('K', i32(pid) + i32(key)); }
inline std::string ready(char s = 'I') { return msg('Z', std::string(1, s)); }
inline std::string rowDesc1() { return msg('T', i16(1) + z("x") + i32(0) + i16(0) + i32(23) + i16(4) + i32(-1) + i16(0)); }
inline std::string dataRow(const std::string& v) { return msg('D', i16(1) + i32(static_cast<std::int32_t>(v.size())) + v); }
inline std::string complete(const std::string& tag) { return msg('C', z(tag)); }
inline std::string error(const std::string& code, const std::string& m) {
  return msg('E', "S" + z("ERROR") + "V" + z("ERROR") + "C" + z(code) + "M" + z(m) + std::string(1, '\0'));
}
inline std::string parseComplete() { return msg('1', ""); }
inline std::string bindComplete() { return msg('2', ""); }
inline std::string noData() { return msg('n', ""); }
inline std::string copyIn() { return msg('G', std::string(1, '\0') + i16(1) + i16(0)); }
inline std::string copyOut() { return msg('H', std::string(1, '\0') + i16(1) + i16(0)); }
inline std::string emptyQuery() { return msg('I', ""); }
inline std::string portalSuspended() { return msg('s', ""); }

}  // namespace pgfix
