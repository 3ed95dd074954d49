#include "web/api/live_feed.hpp"

#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/services/live_registry.hpp"

namespace vigil::web {
namespace {

using json = nlohmann::json;

/// "waiting" (held for a moderator), "moderated" (one watches), null: not moderated, or hosted
/// by another node (moderation is tracked where the session runs).
json moderationOf(const std::string& id) {
  auto live = services::LiveRegistry::instance().find(id);
  if (!live || !live->info().moderated) return nullptr;
  return live->moderatorCount() > 0 ? "moderated" : "waiting";
}

json liveSessionJson(const store::SessionRecord& s) {
  return json{{"id", s.id},
              {"moderation", moderationOf(s.id)},
              {"node", s.node},
              {"user_id", s.user_id ? json(*s.user_id) : json(nullptr)},
              {"username", s.username},
              {"account_user", s.account_user},
              {"target_name", s.target_name},
              {"target_address", s.target_address},
              {"safe_id", s.safe_id ? json(*s.safe_id) : json(nullptr)},
              {"safe_name", s.safe_name},
              {"protocol", s.protocol},
              {"via", s.via},
              {"client_addr", s.client_addr},
              {"started_at", s.started_at},
              {"risk_score", s.risk_score}};
}

bool sees(const LiveFeed::Viewer& v, const std::optional<std::int64_t>& safe_id) {
  return v.all || (safe_id && v.safes.count(*safe_id));
}

}  // namespace

LiveFeed::LiveFeed(store::Store& store) : store_(store) {}

LiveFeed::~LiveFeed() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LiveFeed::subscribe(std::shared_ptr<WebSocketConnection> conn, Viewer viewer) {
  auto sub = std::make_shared<Sub>();
  sub->conn = conn;
  sub->viewer = std::move(viewer);
  {
    std::lock_guard lk(mu_);
    subs_.push_back(sub);
    woken_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  cv_.notify_all();
}

void LiveFeed::run() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    lk.unlock();
    try {
      tick();
    } catch (const std::exception& e) {
      spdlog::error("live feed: polling the database failed: {}", e.what());
    }
    lk.lock();
  }
}

void LiveFeed::tick() {
  std::vector<std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(mu_);
    std::erase_if(subs_, [](auto& s) { return s->conn.expired(); });
    subs = subs_;
  }
  if (last_alert_ < 0) last_alert_ = store_.lastAlertId();
  if (subs.empty()) return;

  store::Store::SessionFilter f;
  f.status = "active";
  f.limit = 1000;
  auto sessions = store_.listSessions(f);
  auto alerts = store_.alertsSince(last_alert_, 200);
  if (!alerts.empty()) last_alert_ = alerts.back().id;
  std::map<std::string, std::optional<std::int64_t>> safe_of;
  for (auto& s : sessions) safe_of[s.id] = s.safe_id;
  for (auto& a : alerts)  // an alert of a session that has ended meanwhile
    if (!a.session_id.empty() && !safe_of.count(a.session_id))
      if (auto s = store_.sessionById(a.session_id)) safe_of[a.session_id] = s->safe_id;

  for (auto& sub : subs) {
    auto conn = sub->conn.lock();
    if (!conn) continue;
    json items = json::array();
    for (auto& s : sessions)
      if (sees(sub->viewer, s.safe_id)) items.push_back(liveSessionJson(s));
    std::string dumped = items.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!sub->sent || dumped != sub->last_items) {
      sub->sent = true;
      sub->last_items = dumped;
      conn->sendText(R"({"type":"sessions","items":)" + dumped + "}");
    }
    for (auto& a : alerts) {
      auto it = safe_of.find(a.session_id);
      if (!sub->viewer.all && (it == safe_of.end() || !sees(sub->viewer, it->second))) continue;
      conn->sendText(json{{"type", "alert"},
                          {"id", a.id},
                          {"at", a.at},
                          {"session_id", a.session_id},
                          {"offset_ms", a.offset_ms},
                          {"username", a.username},
                          {"rule_id", a.rule_id},
                          {"severity", a.severity},
                          {"score", a.score},
                          {"message", a.message},
                          {"matched", a.matched},
                          {"link", "/#/sessions/" + a.session_id + "?t=" + std::to_string(a.offset_ms / 1000)}}
                         .dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
}

}  // namespace vigil::web
