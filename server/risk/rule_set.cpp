#include "server/risk/rule_set.hpp"

#include <re2/re2.h>
#include <re2/set.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "server/risk/shell_normalizer.hpp"

namespace vigil::risk {

struct RuleSet::Compiled {
  std::vector<std::unique_ptr<RE2::Set>> sets;     // per match type; null when no rule
  std::vector<std::vector<std::size_t>> set_rule;  // per match type: set index -> rule index
  // Each pattern alone, per match type in set order: the fallback when a set's DFA runs out of
  // memory (a match must never be silently lost).
  std::vector<std::vector<std::unique_ptr<RE2>>> single;
};

namespace {

constexpr std::size_t kMaxPatternBytes = 2000;
constexpr std::size_t kMaxRules = 5000;
constexpr std::int64_t kSetMaxMem = 64 << 20;  // DFA memory for a set of many rules

struct TypeName {
  MatchType type;
  const char* name;
};
constexpr TypeName kTypes[] = {{MatchType::Command, "command"},         {MatchType::Sql, "sql"},
                               {MatchType::WindowTitle, "window_title"}, {MatchType::Process, "process"},
                               {MatchType::Keystrokes, "keystrokes"},    {MatchType::Duration, "duration"}};

struct ActionName {
  Action action;
  const char* name;
};
constexpr ActionName kActions[] = {{kAlert, "alert"},         {kScore, "score"},         {kBlock, "block"},
                                   {kSuspend, "suspend"},     {kTerminate, "terminate"}, {kLockUser, "lock_user"}};

const std::set<std::string> kRuleKeys = {"id",       "description", "match",   "pattern", "patterns",
                                         "severity", "score",       "actions", "seconds"};

RE2::Options reOptions() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kSetMaxMem);
  return o;
}

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

std::string hexFnv(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// Parses one rule; throws RuleError.
Rule parseRule(const YAML::Node& n, std::size_t index) {
  RuleError err{"#" + std::to_string(index + 1), ""};
  auto fail = [&](const std::string& reason) {
    err.reason = reason;
    throw err;
  };
  if (!n.IsMap()) fail("a rule must be a mapping");
  if (n["id"] && n["id"].IsScalar()) err.rule = n["id"].Scalar();
  for (auto it = n.begin(); it != n.end(); ++it)
    if (!it->first.IsScalar() || !kRuleKeys.count(it->first.Scalar()))
      fail("unknown key '" + (it->first.IsScalar() ? it->first.Scalar() : std::string("?")) + "'");
  auto text = [&](const char* key, bool required) -> std::string {
    const YAML::Node v = n[key];
    if (!v || v.IsNull()) {
      if (required) fail(std::string("missing field '") + key + "'");
      return {};
    }
    if (!v.IsScalar()) fail(std::string("'") + key + "' must be text");
    return v.Scalar();
  };
  Rule r;
  r.id = text("id", true);
  if (!validId(r.id)) fail("id must be 1-64 letters, digits, '-', '_' or '.'");
  r.description = text("description", true);
  if (r.description.empty()) fail("missing field 'description'");
  const std::string match = text("match", true);
  bool known = false;
  for (auto& t : kTypes)
    if (match == t.name) r.match = t.type, known = true;
  if (!known) fail("unknown match type '" + match + "' (command, sql, window_title, process, keystrokes, duration)");

  r.severity = text("severity", true);
  if (r.severity != "low" && r.severity != "medium" && r.severity != "high" && r.severity != "critical")
    fail("severity must be low, medium, high or critical, got '" + r.severity + "'");
  if (n["score"]) {
    try {
      r.score = n["score"].as<int>();
    } catch (const YAML::Exception&) {
      fail("score must be an integer");
    }
    if (r.score < 0 || r.score > 1000) fail("score must be between 0 and 1000");
  }

  const YAML::Node actions = n["actions"];
  if (!actions) fail("missing field 'actions'");
  if (!actions.IsSequence() || actions.size() == 0) fail("actions must be a non-empty list");
  for (const auto& a : actions) {
    const std::string name = a.IsScalar() ? a.Scalar() : "";
    bool ok = false;
    for (auto& k : kActions)
      if (name == k.name) r.actions |= k.action, ok = true;
    if (!ok) fail("unknown action '" + name + "' (alert, score, block, suspend, terminate, lock_user)");
  }

  if (r.match == MatchType::Duration) {
    if (n["pattern"] || n["patterns"]) fail("a duration rule has no patterns");
    if (!n["seconds"]) fail("missing field 'seconds'");
    try {
      r.seconds = n["seconds"].as<std::int64_t>();
    } catch (const YAML::Exception&) {
      fail("seconds must be an integer");
    }
    if (r.seconds <= 0) fail("seconds must be positive");
    if (r.has(kBlock)) fail("a duration rule cannot block (nothing is submitted)");
    return r;
  }
  if (n["seconds"]) fail("'seconds' is only for duration rules");
  if (n["pattern"] && n["patterns"]) fail("give 'pattern' or 'patterns', not both");
  if (n["pattern"]) {
    r.patterns.push_back(text("pattern", true));
  } else if (n["patterns"]) {
    if (!n["patterns"].IsSequence()) fail("patterns must be a list");
    for (const auto& p : n["patterns"]) {
      if (!p.IsScalar()) fail("each pattern must be text");
      r.patterns.push_back(p.Scalar());
    }
  }
  if (r.patterns.empty()) fail("missing field 'pattern' (or 'patterns')");
  if (r.has(kBlock) && r.match != MatchType::Command && r.match != MatchType::Sql && r.match != MatchType::Keystrokes)
    fail("block applies to command, sql and keystrokes rules only");
  for (const auto& p : r.patterns) {
    if (p.empty()) fail("an empty pattern matches everything");
    if (p.size() > kMaxPatternBytes) fail("a pattern is longer than 2000 bytes");
    RE2 re(p, reOptions());
    if (!re.ok()) fail("invalid regular expression '" + p + "': " + re.error());
  }
  return r;
}

}  // namespace

const char* matchTypeName(MatchType t) {
  for (auto& k : kTypes)
    if (k.type == t) return k.name;
  return "?";
}

std::vector<std::string> Rule::actionNames() const {
  std::vector<std::string> out;
  for (auto& k : kActions)
    if (actions & k.action) out.emplace_back(k.name);
  return out;
}

RuleSet::~RuleSet() = default;

std::shared_ptr<const RuleSet> RuleSet::parse(std::string_view yaml_text, RuleError& error) {
  std::shared_ptr<RuleSet> rs(new RuleSet());
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap() || !root["rules"]) {
      error = {"", "the rules file must be a mapping with a 'rules' list"};
      return nullptr;
    }
    for (auto it = root.begin(); it != root.end(); ++it)
      if (!it->first.IsScalar() || (it->first.Scalar() != "rules" && it->first.Scalar() != "version")) {
        error = {"", "unknown top-level key '" + (it->first.IsScalar() ? it->first.Scalar() : "?") + "'"};
        return nullptr;
      }
    const YAML::Node list = root["rules"];
    if (!list.IsSequence() && !list.IsNull()) {
      error = {"", "'rules' must be a list"};
      return nullptr;
    }
    if (list.IsSequence() && list.size() > kMaxRules) {
      error = {"", "more than 5000 rules"};
      return nullptr;
    }
    std::set<std::string> ids;
    if (list.IsSequence())
      for (std::size_t i = 0; i < list.size(); ++i) {
        Rule r = parseRule(list[i], i);
        if (!ids.insert(r.id).second) {
          error = {r.id, "duplicate rule id"};
          return nullptr;
        }
        rs->rules_.push_back(std::move(r));
      }
  } catch (const RuleError& e) {
    error = e;
    return nullptr;
  } catch (const YAML::Exception& e) {
    error = {"", std::string("not valid YAML: ") + e.what()};
    return nullptr;
  }
  rs->version_ = hexFnv(yaml_text);
  if (!rs->compile(error)) return nullptr;
  return rs;
}

std::shared_ptr<const RuleSet> RuleSet::load(const std::string& path, RuleError& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = {"", "cannot read the rules file '" + path + "'"};
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), error);
}

bool RuleSet::compile(RuleError& error) {
  compiled_ = std::make_unique<Compiled>();
  compiled_->sets.resize(kMatchTypes);
  compiled_->set_rule.resize(kMatchTypes);
  compiled_->single.resize(kMatchTypes);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (r.match == MatchType::Duration) {
      duration_.push_back(&r);
      continue;
    }
    const int t = static_cast<int>(r.match);
    auto& set = compiled_->sets[t];
    if (!set) set = std::make_unique<RE2::Set>(reOptions(), RE2::UNANCHORED);
    for (const auto& p : r.patterns) {
      std::string err;
      if (set->Add(p, &err) < 0) {
        error = {r.id, "invalid regular expression '" + p + "': " + err};
        return false;
      }
      compiled_->set_rule[t].push_back(i);
      compiled_->single[t].push_back(std::make_unique<RE2>(p, reOptions()));
    }
  }
  for (int t = 0; t < kMatchTypes; ++t)
    if (compiled_->sets[t] && !compiled_->sets[t]->Compile()) {
      error = {"", std::string("the ") + matchTypeName(static_cast<MatchType>(t)) +
                       " rules are too large to compile together"};
      return false;
    }
  std::sort(duration_.begin(), duration_.end(), [](const Rule* a, const Rule* b) { return a->seconds < b->seconds; });
  return true;
}

void RuleSet::matchInto(int type, std::string_view text, std::vector<char>& hit) const {
  const auto& set = compiled_->sets[type];
  if (!set) return;
  std::vector<int> idx;
  RE2::Set::ErrorInfo info{};
  const re2::StringPiece sp(text.data(), text.size());
  if (!set->Match(sp, &idx, &info) && info.kind != RE2::Set::kNoError) {
    match_errors_.fetch_add(1, std::memory_order_relaxed);
    const auto& single = compiled_->single[type];
    for (std::size_t k = 0; k < single.size(); ++k)
      if (RE2::PartialMatch(sp, *single[k])) hit[compiled_->set_rule[type][k]] = 1;
    return;
  }
  for (int k : idx) hit[compiled_->set_rule[type][static_cast<std::size_t>(k)]] = 1;
}

std::vector<const Rule*> RuleSet::match(MatchType type, std::string_view text) const {
  std::vector<const Rule*> out;
  const int t = static_cast<int>(type);
  if (type == MatchType::Duration || !compiled_->sets[t]) return out;
  std::vector<char> hit(rules_.size(), 0);
  if (text.size() > kMaxCommandBytes) text = text.substr(0, kMaxCommandBytes);
  if (type == MatchType::Command) {
    const NormalizedCommand nc = normalizeCommand(text);
    matchInto(t, nc.line, hit);
    for (const auto& s : nc.segments) matchInto(t, s, hit);
  } else {
    matchInto(t, text, hit);
  }
  for (std::size_t i = 0; i < rules_.size(); ++i)
    if (hit[i]) out.push_back(&rules_[i]);
  return out;
}

}  // namespace vigil::risk
