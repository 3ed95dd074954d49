#include "server/services/risk_monitor.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace vigil::services {
namespace {

using json = nlohmann::json;

std::shared_ptr<spdlog::logger> riskLog() {
  if (auto l = spdlog::get("risk")) return l;
  auto l = spdlog::default_logger()->clone("risk");
  try {
    spdlog::register_logger(l);
  } catch (const spdlog::spdlog_ex&) {
    if (auto other = spdlog::get("risk")) return other;
  }
  return l;
}

std::string nowUtc() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// ---- SessionRisk

SessionRisk::SessionRisk(RiskService& service, Identity who) : service_(service), who_(std::move(who)) {}

std::int64_t SessionRisk::elapsedMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
}

void SessionRisk::setControl(proto::SessionControl* control) {
  std::lock_guard lk(mu_);
  control_ = control;
}

SessionRisk::Verdict SessionRisk::evaluate(risk::MatchType type, std::string_view text, std::int64_t offset_ms,
                                           bool only_if_blocking) {
  Verdict v;
  v.rules = service_.rules();
  if (!v.rules || text.empty()) return v;
  const auto matched = v.rules->match(type, text);
  for (const auto* r : matched)
    if (r->has(risk::kBlock) && !v.rule) v.rule = r;
  v.block = only_if_blocking && v.rule != nullptr;
  if (only_if_blocking && !v.block) return v;
  for (const auto* r : matched) act(*r, type, text, offset_ms, v.block && r->has(risk::kBlock));
  return v;
}

void SessionRisk::checkDuration() {
  auto rules = service_.rules();
  if (!rules) return;
  const std::int64_t ms = elapsedMs();
  for (const auto* r : rules->durationRules()) {
    if (ms < r->seconds * 1000) break;  // shortest first
    {
      std::lock_guard lk(mu_);
      if (!fired_durations_.insert(r->id).second) continue;
    }
    act(*r, risk::MatchType::Duration, "session longer than " + std::to_string(r->seconds) + " s", ms, false);
  }
}

void SessionRisk::act(const risk::Rule& rule, risk::MatchType type, std::string_view text, std::int64_t offset_ms,
                      bool blocked) {
  // What was done, in the order it is done: the alert row and the event say the same.
  std::vector<std::string> done;
  if (rule.has(risk::kAlert)) done.push_back("alert");
  if (rule.has(risk::kScore)) done.push_back("score");
  if (blocked) done.push_back("block");
  if (rule.has(risk::kSuspend)) done.push_back("suspend");
  if (rule.has(risk::kTerminate)) done.push_back("terminate");
  if (rule.has(risk::kLockUser)) done.push_back("lock_user");
  const std::string matched(text.substr(0, 2000));
  riskLog()->warn("session={} risk rule {} ({}) matched a {}{}", who_.session_id, rule.id, rule.severity,
                  risk::matchTypeName(type), blocked ? "; blocked" : "");

  store::SessionEvent e;
  e.session_id = who_.session_id;
  e.offset_ms = offset_ms;
  e.kind = "risk";
  e.text = rule.id + ": " + rule.description;
  e.details_json = dump(json{{"rule", rule.id},
                             {"severity", rule.severity},
                             {"score", rule.has(risk::kScore) ? rule.score : 0},
                             {"actions", done},
                             {"match", risk::matchTypeName(type)},
                             {"matched", matched},
                             {"blocked", blocked}});
  if (!service_.events_.push(std::move(e)))
    riskLog()->error("session={} the event queue is full; a risk event was dropped", who_.session_id);

  const bool alert = rule.actions & (risk::kAlert | risk::kBlock | risk::kSuspend | risk::kTerminate | risk::kLockUser);
  store::Alert a;
  a.session_id = who_.session_id;
  a.offset_ms = offset_ms;
  if (who_.user_id) a.user_id = who_.user_id;
  a.username = who_.username;
  a.rule_id = rule.id;
  a.severity = rule.severity;
  a.score = rule.has(risk::kScore) ? rule.score : 0;
  a.actions = done;
  a.message = rule.description;
  a.matched = matched;
  const int score = rule.has(risk::kScore) ? rule.score : 0;
  const bool lock = rule.has(risk::kLockUser) && who_.user_id != 0;
  // After the risk event (same writer, in order), so a reader sees the event before the alert.
  service_.events_.pushTask([&store = service_.store_, a, alert, score, lock, id = who_.session_id]() {
    try {
      if (score > 0) store.addSessionRiskScore(id, score);
      if (alert) store.insertAlert(a);
      if (lock && a.user_id) {
        store.setUserLocked(*a.user_id, true);
        store::AuditEntry au;
        au.actor = "vigil";
        au.action = "user_lock";
        au.object_type = "user";
        au.object_id = std::to_string(*a.user_id);
        au.outcome = "ok";
        au.details_json = dump(json{{"reason", "risk_rule"}, {"rule", a.rule_id}, {"session_id", id},
                                    {"username", a.username}});
        store.audit(au);
      }
    } catch (const std::exception& ex) {
      riskLog()->error("session={} writing the risk match of rule {} failed: {}", id, a.rule_id, ex.what());
    }
  });

  const std::string why = rule.description + " [rule " + rule.id + "]";
  if (rule.has(risk::kSuspend) || rule.has(risk::kTerminate) || lock) {
    std::lock_guard lk(mu_);
    if (control_) {
      if (rule.has(risk::kTerminate) || lock) control_->terminate("risk rule: " + why);
      else control_->suspend("risk rule: " + why);
    } else {
      riskLog()->warn("session={} rule {} wants to act on the session, which has no control yet", who_.session_id,
                      rule.id);
    }
  }
  if (lock && service_.terminate_user_sessions) {
    try {
      service_.terminate_user_sessions(who_.user_id, "user locked by risk rule " + rule.id);
    } catch (const std::exception& ex) {
      riskLog()->error("session={} ending the user's other sessions failed: {}", who_.session_id, ex.what());
    }
  }
}

// ---- RiskService

RiskService::RiskService(store::Store& store, SessionEventWriter& events, Options options)
    : store_(store), events_(events), options_(std::move(options)) {}

RiskService::~RiskService() { stop(); }

RiskService::ReloadResult RiskService::reload() {
  std::lock_guard serial(reload_mu_);
  ReloadResult r;
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(options_.rules_file, ec);
  auto next = risk::RuleSet::load(options_.rules_file, r.error);
  std::lock_guard lk(mu_);
  if (!ec) mtime_ = mtime;  // a bad file is not retried until it changes again
  if (!next) {
    last_error_ = r.error.message();
    riskLog()->error("risk rules {} rejected, the previous rules stay active: {}", options_.rules_file, last_error_);
    if (rules_) r.version = rules_->version(), r.rules = rules_->rules().size();
    return r;
  }
  r.ok = true;
  r.changed = !rules_ || rules_->version() != next->version();
  r.version = next->version();
  r.rules = next->rules().size();
  last_error_.clear();
  loaded_at_ = nowUtc();
  std::atomic_store(&rules_, std::move(next));
  riskLog()->info("risk rules loaded from {}: {} rules, version {}", options_.rules_file, r.rules, r.version);
  return r;
}

std::string RiskService::lastError() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

std::string RiskService::loadedAt() const {
  std::lock_guard lk(mu_);
  return loaded_at_;
}

void RiskService::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void RiskService::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SessionRisk> RiskService::openSession(SessionRisk::Identity who) {
  auto s = std::make_shared<SessionRisk>(*this, std::move(who));
  std::lock_guard lk(mu_);
  sessions_.push_back(s);
  return s;
}

void RiskService::closeSession(const std::shared_ptr<SessionRisk>& s) {
  std::lock_guard lk(mu_);
  std::erase_if(sessions_, [&](const std::weak_ptr<SessionRisk>& w) {
    auto p = w.lock();
    return !p || p == s;
  });
}

void RiskService::run() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    wake_.wait_for(lk, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) break;
    const auto known = mtime_;
    std::vector<std::shared_ptr<SessionRisk>> live;
    for (auto& w : sessions_)
      if (auto p = w.lock()) live.push_back(std::move(p));
    lk.unlock();
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(options_.rules_file, ec);
    if (!ec && mtime != known) reload();
    for (auto& s : live) s->checkDuration();
    live.clear();
    lk.lock();
  }
}

}  // namespace vigil::services
