#pragma once
// Internal to server/store: the connection pool and row helpers. Includes <pqxx>.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "server/store/store.hpp"


namespace vigil::store {

struct Store::Pool {
  std::string url;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<pqxx::connection>> idle;

  Pool(const std::string& u, int size);

  /// Borrows a connection; returns it (or a fresh one if it broke) when destroyed.
  class Lease {
   public:
    Lease(Pool& p, std::unique_ptr<pqxx::connection> c) : pool_(p), conn_(std::move(c)) {}
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
   private:
    Pool& pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };
  Lease lease();
};

/// Runs `fn(pqxx::work&)` in a transaction and commits; translates constraint violations.
template <class Fn>
auto inTx(Store::Pool& pool, Fn&& fn) {
  auto lease = pool.lease();
  try {
    pqxx::work tx(*lease);
    if constexpr (std::is_void_v<decltype(fn(tx))>) {
      fn(tx);
      tx.commit();
    } else {
      auto r = fn(tx);
      tx.commit();
      return r;
    }
  } catch (const pqxx::unique_violation& e) {
    throw Conflict(e.what());
  } catch (const pqxx::foreign_key_violation& e) {
    throw InUse(e.what());
  }
}

/// Runs `fn(pqxx::nontransaction&)` for reads: one statement, no BEGIN/COMMIT round trips.
template <class Fn>
auto inRead(Store::Pool& pool, Fn&& fn) {
  auto lease = pool.lease();
  pqxx::nontransaction tx(*lease);
  return fn(tx);
}

// Values cross the wire as text: bytea as hex, arrays as JSON (libpqxx 6 has no array binding).
std::string toPgArray(const std::vector<std::string>& v);
std::vector<std::string> fromJsonArray(const pqxx::field& f);
std::string toPgBytea(const Bytes& b);
Bytes fromHex(const pqxx::field& f);
/// SQL expression rendering a timestamptz column as RFC 3339 UTC.
std::string rfc3339(const std::string& column);

}  // namespace vigil::store
