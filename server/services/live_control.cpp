#include "server/services/live_control.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "server/services/live_registry.hpp"
#include "server/services/session_log.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;

std::shared_ptr<spdlog::logger> liveLog() {
  if (auto l = spdlog::get("live")) return l;
  auto l = spdlog::default_logger()->clone("live");
  try {
    spdlog::register_logger(l);
  } catch (const spdlog::spdlog_ex&) {
    if (auto other = spdlog::get("live")) return other;
  }
  return l;
}

bool applyLocal(LiveSession& s, const std::string& action, const std::string& text) {
  if (action == "suspend") return s.suspend(text);
  if (action == "resume") return s.resume();
  if (action == "terminate") return s.terminate(text);
  return false;
}

/// Collects notifications on the LISTEN connection (libpqxx 6).
class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, std::function<void(const std::string&)> fn)
      : pqxx::notification_receiver(c, channel), fn_(std::move(fn)) {}
  void operator()(const std::string& payload, int) override { fn_(payload); }

 private:
  std::function<void(const std::string&)> fn_;
};

}  // namespace

const char* LiveControl::name(Action a) {
  switch (a) {
    case Action::Suspend: return "suspend";
    case Action::Resume: return "resume";
    case Action::Terminate: return "terminate";
  }
  return "";
}

LiveControl::LiveControl(store::Store& store, std::string node) : store_(store), node_(std::move(node)) {}

LiveControl::~LiveControl() { stop(); }

void LiveControl::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LiveControl::stop() {
  std::lock_guard lk(mu_);
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void LiveControl::run() {
  auto log = liveLog();
  while (!stopping_) {
    try {
      pqxx::connection conn(store_.url());
      Receiver receiver(conn, kChannel, [this](const std::string& p) { handle(p); });
      listening_ = true;
      log->info("node={} listening for live controls", node_);
      while (!stopping_) conn.await_notification(0, 250000);  // wakes to see stopping_
    } catch (const std::exception& e) {
      listening_ = false;
      if (stopping_) break;
      log->warn("node={} live-control listener lost its connection ({}); reconnecting", node_, e.what());
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  listening_ = false;
}

void LiveControl::handle(const std::string& payload) {
  // Runs inside libpqxx's notification dispatch: nothing may escape.
  try {
    json m = json::parse(payload, nullptr, false);
    if (!m.is_object()) return;
    const std::string action = m.value("action", "");
    const std::string text = m.value("text", "");
    if (action == "terminate_user") {
      if (m.value("from", "") == node_) return;  // the sender has done its own
      int n = LiveRegistry::instance().terminateUser(m.value("user_id", std::int64_t{0}), text);
      if (n > 0) liveLog()->info("node={} terminated {} session(s) of user {}", node_, n, m.value("user_id", 0));
      return;
    }
    if (m.value("node", "") != node_) return;
    const std::string id = m.value("session", "");
    auto s = LiveRegistry::instance().find(id);
    if (!s) {
      liveLog()->warn("node={} session={} {} from another node: not running here", node_, id, action);
      return;
    }
    applyLocal(*s, action, text);
    liveLog()->info("session={} {} applied (requested by node {})", id, action, m.value("from", ""));
  } catch (const std::exception& e) {
    liveLog()->error("node={} bad live-control notification: {}", node_, e.what());
  }
}

LiveControl::Result LiveControl::apply(const store::SessionRecord& s, Action action, const std::string& text,
                                       std::chrono::milliseconds timeout) {
  if (!s.ended_at.empty()) return Result::Ended;
  const std::string act = name(action);
  const std::int64_t marker = store_.lastSessionEventId(s.id);
  if (auto local = LiveRegistry::instance().find(s.id)) {
    if (!applyLocal(*local, act, text)) return Result::NotLive;
  } else if (s.node != node_) {
    store_.notify(kChannel,
                  json{{"node", s.node}, {"session", s.id}, {"action", act}, {"text", text}, {"from", node_}}.dump(
                      -1, ' ', false, json::error_handler_t::replace));
  } else {
    return Result::NotLive;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (action == Action::Terminate) {
      auto now = store_.sessionById(s.id);
      if (!now || !now->ended_at.empty()) return Result::Applied;
    } else if (store_.lifecycleActionAfter(s.id, marker, act)) {
      return Result::Applied;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Result::Timeout;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int LiveControl::terminateUserSessions(std::int64_t user_id, const std::string& reason) {
  int n = LiveRegistry::instance().terminateUser(user_id, reason);
  try {
    store_.notify(kChannel, json{{"action", "terminate_user"}, {"user_id", user_id}, {"text", reason}, {"from", node_}}
                                .dump(-1, ' ', false, json::error_handler_t::replace));
  } catch (const std::exception& e) {
    liveLog()->error("node={} cannot tell the other nodes to end user {}'s sessions: {}", node_, user_id, e.what());
  }
  return n;
}

}  // namespace vigil::services
