#pragma once
// SIEM forwarding (docs/siem.md): the outbox in PostgreSQL (sql/0005_siem.sql) is fed by
// triggers; this service numbers committed rows in delivery order (the sequencer), keeps the
// outbox within siem.max_queue (dropping the oldest with a `siem_dropped` audit event, never
// silently), and runs one thread per destination that sends rows in order from its cursor.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/config.hpp"

namespace vigil::services {

class SiemForwarder {
 public:
  /// `db_url`: the libpq URL (each thread holds its own connection, for LISTEN and the
  /// per-destination advisory lock). `portal_url`: the base of the deep links.
  SiemForwarder(const Config& cfg, std::string db_url, std::string portal_url);
  ~SiemForwarder();
  SiemForwarder(const SiemForwarder&) = delete;
  SiemForwarder& operator=(const SiemForwarder&) = delete;

  void start();
  void stop();

  /// Outbox rows dropped by this process because the queue was full.
  std::uint64_t dropped() const { return dropped_.load(); }

 private:
  void housekeeping();
  void deliver(std::size_t index);
  bool sleepFor(int ms);  // false when stopping

  Config cfg_;
  std::string db_url_;
  std::string portal_url_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

}  // namespace vigil::services
