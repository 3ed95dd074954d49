#include "server/services/siem_forwarder.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "server/services/siem_format.hpp"
#include "server/services/siem_transport.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr long long kSequencerLock = 0x7369656d;  // "siem": one sequencer/pruner at a time
constexpr int kDestinationLockSpace = 0x5349;     // pg_try_advisory_lock(space, hashtext(name))
constexpr int kBatch = 100;
constexpr int kSequenceBatch = 5000;
constexpr int kInitialBackoffMs = 200;

std::shared_ptr<spdlog::logger> siemLog() {
  if (auto l = spdlog::get("siem")) return l;
  auto l = spdlog::default_logger()->clone("siem");
  try {
    spdlog::register_logger(l);
  } catch (const spdlog::spdlog_ex&) {
    if (auto other = spdlog::get("siem")) return other;
  }
  return l;
}

struct Wake : pqxx::notification_receiver {
  using pqxx::notification_receiver::notification_receiver;
  void operator()(const std::string&, int) override {}
};

// Numbers the committed, not yet numbered rows in id order (see sql/0005_siem.sql). Runs under
// the advisory lock, so a fresh statement snapshot sees every earlier sequencer's work.
const char* kSequenceSql = R"SQL(
WITH t AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM siem_outbox
           WHERE seq IS NULL ORDER BY id LIMIT $1),
     st AS (SELECT next_seq FROM siem_state WHERE id = 1),
     upd AS (UPDATE siem_outbox o SET seq = st.next_seq + t.rn - 1 FROM t, st WHERE o.id = t.id RETURNING 1)
UPDATE siem_state SET next_seq = next_seq + (SELECT count(*) FROM upd) WHERE id = 1
RETURNING (SELECT count(*) FROM upd)
)SQL";

const char* kFetchSql = R"SQL(
SELECT id, seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       (extract(epoch FROM at) * 1000)::bigint, source, source_id, kind,
       coalesce(session_id::text, ''), offset_ms, payload::text
FROM siem_outbox WHERE seq > $1 ORDER BY seq LIMIT $2
)SQL";

std::string namesArray(const std::vector<SiemDestination>& ds) {
  // Names are [A-Za-z0-9._-] (config validation): safe inside an array literal.
  std::string a = "{";
  for (std::size_t i = 0; i < ds.size(); ++i) a += (i ? ",\"" : "\"") + ds[i].name + "\"";
  return a + "}";
}

}  // namespace

SiemForwarder::SiemForwarder(const Config& cfg, std::string db_url, std::string portal_url)
    : cfg_(cfg), db_url_(std::move(db_url)), portal_url_(std::move(portal_url)) {}

SiemForwarder::~SiemForwarder() { stop(); }

void SiemForwarder::start() {
  stop_ = false;
  // The housekeeper runs even without destinations: it keeps the outbox empty then.
  threads_.emplace_back([this] { housekeeping(); });
  for (std::size_t i = 0; i < cfg_.siem.destinations.size(); ++i) threads_.emplace_back([this, i] { deliver(i); });
  siemLog()->info("siem: {} destination(s), max_queue {}", cfg_.siem.destinations.size(), cfg_.siem.max_queue);
}

void SiemForwarder::stop() {
  {
    std::lock_guard g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool SiemForwarder::sleepFor(int ms) {
  std::unique_lock g(mu_);
  cv_.wait_for(g, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

namespace {
// Waits up to `ms` for a notification, in slices so that stop() is quick.
void awaitNotification(pqxx::connection& db, int ms, const std::atomic<bool>& stop) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (!stop && Clock::now() < until) {
    if (db.await_notification(0, 200 * 1000) > 0) return;
  }
}
}  // namespace

void SiemForwarder::housekeeping() {
  auto log = siemLog();
  std::unique_ptr<pqxx::connection> db;
  std::unique_ptr<Wake> wake;
  const std::string names = namesArray(cfg_.siem.destinations);
  while (!stop_) {
    try {
      if (!db) {
        db = std::make_unique<pqxx::connection>(db_url_);
        wake = std::make_unique<Wake>(*db, "vigil_siem");
        // The triggers fill the outbox only while a destination is configured (nodes of one
        // cluster share the siem configuration, see docs/siem.md).
        pqxx::work tx(*db);
        tx.exec_params0("UPDATE siem_state SET enabled = $1 WHERE id = 1", !cfg_.siem.destinations.empty());
        tx.commit();
      }
      long long numbered = 0;
      {
        pqxx::work tx(*db);
        tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kSequencerLock) + ")");
        numbered = tx.exec_params1(kSequenceSql, kSequenceBatch)[0].as<long long>();
        // Rows every destination has received are done.
        if (cfg_.siem.destinations.empty())
          tx.exec0("DELETE FROM siem_outbox WHERE seq IS NOT NULL");
        else
          tx.exec_params0(
              "DELETE FROM siem_outbox WHERE seq <= (SELECT min(coalesce(c.delivered, 0)) FROM unnest($1::text[]) "
              "AS n(name) LEFT JOIN siem_cursors c ON c.destination = n.name)",
              names);
        // The bound: beyond max_queue the oldest undelivered rows go, with one more slot for the
        // siem_dropped audit row that says so (itself forwarded once the receiver is back).
        const long long count = tx.exec1("SELECT count(*) FROM siem_outbox")[0].as<long long>();
        if (count > cfg_.siem.max_queue) {
          const long long excess = count - cfg_.siem.max_queue + 1;
          auto d = tx.exec_params1(
              "WITH d AS (DELETE FROM siem_outbox WHERE id IN (SELECT id FROM siem_outbox ORDER BY seq NULLS LAST, id "
              "LIMIT $1) RETURNING id, source, source_id) "
              "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM d",
              excess);
          const auto n = d[0].as<long long>();
          // A running total: a later siem_dropped event may itself drop an earlier one, and the
          // SIEM still learns how many were lost in all.
          const auto total = tx.exec_params1(
              "UPDATE siem_state SET dropped_total = dropped_total + $1 WHERE id = 1 RETURNING dropped_total", n)[0]
                                 .as<long long>();
          json details{{"dropped", n}, {"dropped_total", total}, {"first_outbox_id", d[1].as<long long>()},
                       {"last_outbox_id", d[2].as<long long>()}, {"max_queue", cfg_.siem.max_queue}};
          tx.exec_params0(
              "INSERT INTO audit_log(actor, action, object_type, object_id, outcome, details) "
              "VALUES ('vigil', 'siem_dropped', 'siem', '', 'failed', $1::jsonb)",
              details.dump());
          dropped_ += static_cast<std::uint64_t>(n);
          log->warn("siem: outbox over max_queue {}: dropped the {} oldest undelivered event(s) (total {})",
                    cfg_.siem.max_queue, n, dropped_.load());
        }
        if (numbered > 0) tx.exec("SELECT pg_notify('vigil_siem_seq', '')");
        tx.commit();
      }
      if (numbered < kSequenceBatch) awaitNotification(*db, cfg_.siem.poll_ms, stop_);
    } catch (const std::exception& e) {
      log->warn("siem: sequencer: {}", e.what());
      wake.reset();
      db.reset();
      sleepFor(1000);
    }
  }
  wake.reset();
}

void SiemForwarder::deliver(std::size_t index) {
  const SiemDestination& d = cfg_.siem.destinations[index];
  auto log = siemLog();
  siem::FormatOptions fo;
  fo.format = d.format;
  fo.hostname = cfg_.node.name;
  fo.app_name = d.app_name;
  fo.procid = std::to_string(getpid());
  fo.facility = d.facility;
  fo.max_message_bytes = static_cast<std::size_t>(d.max_message_bytes);
  fo.portal_url = portal_url_;
  fo.link_template = cfg_.siem.link_template;
  fo.product_version = VIGIL_VERSION;
  siem::Transport transport({d.transport, d.host, d.port, d.ca_file, d.server_name});

  std::unique_ptr<pqxx::connection> db;
  std::unique_ptr<Wake> wake;
  bool locked = false;
  bool down = false;  // the outage is logged once, at warn; its retries at debug
  std::int64_t cursor = 0;
  int backoff = kInitialBackoffMs;
  auto failed = [&](const std::string& why) {
    if (!down) log->warn("siem destination={}: {} (retrying)", d.name, why);
    else log->debug("siem destination={}: {}", d.name, why);
    down = true;
    try {
      if (db && locked) {
        pqxx::nontransaction tx(*db);
        tx.exec_params0("UPDATE siem_cursors SET failures = failures + 1, last_error = $2, last_error_at = now() "
                        "WHERE destination = $1", d.name, why.substr(0, 500));
      }
    } catch (const std::exception&) {
      // The database being down is reported by the main loop.
    }
    sleepFor(backoff);
    backoff = std::min(backoff * 2, d.retry_max_ms);
  };

  while (!stop_) {
    try {
      if (!db) {
        db = std::make_unique<pqxx::connection>(db_url_);
        wake = std::make_unique<Wake>(*db, "vigil_siem_seq");
        locked = false;
      }
      if (!locked) {
        pqxx::nontransaction tx(*db);
        // One node forwards to a destination at a time (nodes share the database and the cursor).
        locked = tx.exec_params1("SELECT pg_try_advisory_lock($1, hashtext($2))", kDestinationLockSpace, d.name)[0]
                     .as<bool>();
        if (!locked) {
          awaitNotification(*db, cfg_.siem.poll_ms, stop_);
          continue;
        }
        tx.exec_params0("INSERT INTO siem_cursors(destination) VALUES ($1) ON CONFLICT DO NOTHING", d.name);
        cursor = tx.exec_params1("SELECT delivered FROM siem_cursors WHERE destination = $1", d.name)[0]
                     .as<std::int64_t>();
      }
      std::vector<siem::Event> events;
      {
        pqxx::nontransaction tx(*db);
        for (const auto& r : tx.exec_params(kFetchSql, cursor, kBatch)) {
          siem::Event e;
          e.id = r[0].as<std::int64_t>();
          e.seq = r[1].as<std::int64_t>();
          e.at = r[2].as<std::string>();
          e.at_ms = r[3].as<std::int64_t>();
          e.source = r[4].as<std::string>();
          e.source_id = r[5].as<std::int64_t>();
          e.kind = r[6].as<std::string>();
          e.session_id = r[7].as<std::string>();
          e.offset_ms = r[8].as<std::int64_t>();
          e.payload = json::parse(r[9].as<std::string>(), nullptr, false);
          events.push_back(std::move(e));
        }
      }
      if (events.empty()) {
        awaitNotification(*db, cfg_.siem.poll_ms, stop_);
        continue;
      }
      if (transport.connected() && transport.peerClosed()) transport.close();
      if (!transport.connected()) {
        std::string err;
        if (!transport.connect(err)) {
          failed(err);
          continue;
        }
        log->info("siem destination={}: connected to {}:{} ({}, {})", d.name, d.host, d.port, d.transport, d.format);
      }

      // Sent messages with the stream offset of their last byte: the cursor passes a message
      // only once the receiver's TCP has acknowledged that byte.
      std::deque<std::pair<std::int64_t, std::uint64_t>> inflight;
      std::int64_t delivered = cursor;
      std::string err;
      for (const auto& e : events) {
        if (transport.stream() && transport.peerClosed()) {
          err = "the receiver closed the connection";
          break;
        }
        if (!transport.send(siem::syslogMessage(e, fo), err)) break;
        if (transport.stream()) inflight.emplace_back(e.seq, transport.bytesWritten());
        else delivered = e.seq;
        err.clear();
      }
      if (transport.stream()) {
        auto last_progress = Clock::now();
        std::uint64_t last_acked = 0;
        while (!inflight.empty()) {
          const std::uint64_t acked = transport.bytesAcknowledged();
          while (!inflight.empty() && inflight.front().second <= acked) {
            delivered = inflight.front().first;
            inflight.pop_front();
          }
          if (inflight.empty() || !err.empty() || transport.peerClosed() || stop_) break;
          if (acked != last_acked) last_acked = acked, last_progress = Clock::now();
          if (Clock::now() - last_progress > std::chrono::seconds(60)) {
            err = "no acknowledgement for 60 s";
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!inflight.empty() && err.empty()) err = "the receiver closed the connection";
      }
      if (delivered != cursor) {
        pqxx::nontransaction tx(*db);
        tx.exec_params0("UPDATE siem_cursors SET delivered = $2, updated_at = now() WHERE destination = $1", d.name,
                        delivered);
        cursor = delivered;
      }
      if (!err.empty()) {
        // Unacknowledged messages are sent again after reconnecting (the duplicate window).
        transport.close();
        failed(err);
        continue;
      }
      if (down) log->info("siem destination={}: delivering again (cursor {})", d.name, cursor);
      down = false;
      backoff = kInitialBackoffMs;
    } catch (const std::exception& e) {
      log->warn("siem destination={}: database: {}", d.name, e.what());
      wake.reset();
      db.reset();
      sleepFor(1000);
    }
  }
  wake.reset();
}

}  // namespace vigil::services
