#pragma once
// Risk rules: parsed from a YAML rules file, validated as a whole (one bad rule rejects the file,
// naming the rule and the reason), and compiled into one RE2::Set per match type so that
// evaluation is linear in the input whatever the rules (no backtracking; no rule or input can
// stall a session). A RuleSet is immutable once compiled: the service swaps a shared_ptr to a
// new one on reload and sessions read whichever is current.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::risk {

enum class MatchType { Command, Sql, WindowTitle, Process, Keystrokes, Duration };
inline constexpr int kMatchTypes = 6;

const char* matchTypeName(MatchType t);

/// What a match does; several per rule.
enum Action : unsigned {
  kAlert = 1u << 0,
  kScore = 1u << 1,
  kBlock = 1u << 2,
  kSuspend = 1u << 3,
  kTerminate = 1u << 4,
  kLockUser = 1u << 5,
};

struct Rule {
  std::string id;
  std::string description;
  MatchType match = MatchType::Command;
  std::vector<std::string> patterns;  // RE2 syntax; empty for duration rules
  std::string severity;               // low, medium, high, critical
  int score = 0;
  unsigned actions = 0;               // Action bits
  std::int64_t seconds = 0;           // duration rules: a session longer than this

  bool has(Action a) const { return (actions & a) != 0; }
  std::vector<std::string> actionNames() const;
};

/// A rules file that cannot be used: which rule (id, or "#<n>" when it has none) and why.
struct RuleError {
  std::string rule;
  std::string reason;
  std::string message() const { return rule.empty() ? reason : "rule " + rule + ": " + reason; }
};

class RuleSet {
 public:
  /// Parses and compiles YAML text. Null with `error` set when any rule is invalid.
  static std::shared_ptr<const RuleSet> parse(std::string_view yaml_text, RuleError& error);
  /// Reads and parses a file.
  static std::shared_ptr<const RuleSet> load(const std::string& path, RuleError& error);
  ~RuleSet();

  const std::vector<Rule>& rules() const { return rules_; }
  /// Rules of `type` matching `text` (each rule at most once, file order). For Command the text
  /// is normalised first (shell_normalizer.hpp) and each form is tried.
  std::vector<const Rule*> match(MatchType type, std::string_view text) const;
  /// Duration rules, shortest first.
  const std::vector<const Rule*>& durationRules() const { return duration_; }
  /// sha256-free fingerprint of the file text (FNV-1a, hex): tells the portal which version runs.
  const std::string& version() const { return version_; }
  /// Set matches that failed (RE2's DFA out of memory): such a match is retried rule by rule.
  std::uint64_t matchErrors() const { return match_errors_.load(std::memory_order_relaxed); }

 private:
  RuleSet() = default;
  bool compile(RuleError& error);
  void matchInto(int type, std::string_view text, std::vector<char>& hit) const;

  std::vector<Rule> rules_;
  struct Compiled;  // one RE2::Set per match type (re2 stays out of this header)
  std::unique_ptr<Compiled> compiled_;
  std::vector<const Rule*> duration_;
  std::string version_;
  mutable std::atomic<std::uint64_t> match_errors_{0};
};

}  // namespace vigil::risk
