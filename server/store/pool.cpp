#include "server/store/pool.hpp"

#include <nlohmann/json.hpp>

#include "server/crypto/random.hpp"

namespace vigil::store {

Store::Pool::Pool(const std::string& u, int size) : url(u) {
  for (int i = 0; i < size; ++i) idle.push_back(std::make_unique<pqxx::connection>(url));
}

Store::Pool::Lease Store::Pool::lease() {
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return !idle.empty(); });
  auto c = std::move(idle.back());
  idle.pop_back();
  lk.unlock();
  if (!c->is_open()) {
    // A broken connection (server restart) is replaced; a failure here propagates to the caller.
    try {
      c = std::make_unique<pqxx::connection>(url);
    } catch (...) {
      std::lock_guard g(mu);
      idle.push_back(std::move(c));
      cv.notify_one();
      throw;
    }
  }
  return Lease(*this, std::move(c));
}

Store::Pool::Lease::~Lease() {
  std::lock_guard g(pool_.mu);
  pool_.idle.push_back(std::move(conn_));
  pool_.cv.notify_one();
}

std::string toPgArray(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::vector<std::string> fromJsonArray(const pqxx::field& f) {
  if (f.is_null()) return {};
  return nlohmann::json::parse(f.c_str()).get<std::vector<std::string>>();
}

std::string toPgBytea(const Bytes& b) { return "\\x" + crypto::hexEncode(b.data(), b.size()); }

Bytes fromHex(const pqxx::field& f) {
  if (f.is_null()) return {};
  return crypto::hexDecode(f.c_str());
}

std::string rfc3339(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
}

Store::Store(const std::string& url, int pool_size) : pool_(std::make_unique<Pool>(url, pool_size)) {}
Store::~Store() = default;

}  // namespace vigil::store

namespace vigil::store {
void ensureDatabase(const std::string& conninfo, const std::string& name) {
  std::string maint = conninfo;
  auto pos = maint.find("dbname=");
  if (pos != std::string::npos) maint = maint.substr(0, pos);
  maint += " dbname=postgres";
  pqxx::connection c(maint);
  pqxx::nontransaction tx(c);
  if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty())
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
}
}  // namespace vigil::store
