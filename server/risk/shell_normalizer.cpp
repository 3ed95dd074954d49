#include "server/risk/shell_normalizer.hpp"

#include <algorithm>
#include <set>

namespace vigil::risk {
namespace {

constexpr int kMaxDepth = 4;  // nested $(...) / sh -c levels followed

using Words = std::vector<std::string>;

struct Parser {
  std::string_view s;
  int depth;
  std::vector<std::string>& segs_out;  // every normalised segment, nested ones included

  std::string run();

 private:
  std::size_t matchParen(std::size_t open) const;  // index of the ')' closing s[open] == '('
};

std::string normalizeLine(std::string_view text, int depth, std::vector<std::string>& segs_out) {
  Parser p{text, depth, segs_out};
  return p.run();
}

std::string basename(const std::string& w) {
  auto slash = w.find_last_of('/');
  if (slash == std::string::npos || slash + 1 == w.size()) return w;
  return w.substr(slash + 1);
}

bool isAssignment(const std::string& w) {
  if (w.empty() || !(std::isalpha(static_cast<unsigned char>(w[0])) || w[0] == '_')) return false;
  for (std::size_t i = 1; i < w.size(); ++i) {
    if (w[i] == '=') return true;
    if (!(std::isalnum(static_cast<unsigned char>(w[i])) || w[i] == '_')) return false;
  }
  return false;
}

bool isShortFlags(const std::string& w) {
  if (w.size() < 2 || w[0] != '-' || w[1] == '-') return false;
  return std::all_of(w.begin() + 1, w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

bool in(const std::string& w, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return w == n; });
}

/// Skips options of a wrapper; `with_arg` are the options that take the next word.
std::size_t skipOptions(const Words& w, std::size_t i, std::initializer_list<const char*> with_arg) {
  while (i < w.size() && w[i].size() > 1 && w[i][0] == '-') {
    if (w[i] == "--") return i + 1;
    const bool takes = in(w[i], with_arg);
    ++i;
    if (takes && i < w.size()) ++i;
  }
  return i;
}

/// Drops wrapper commands and assignments; returns the index of the real command word.
std::size_t realCommand(const Words& w) {
  std::size_t i = 0;
  for (int guard = 0; guard < 16 && i < w.size(); ++guard) {
    while (i < w.size() && isAssignment(w[i])) ++i;
    if (i >= w.size()) break;
    const std::string cmd = basename(w[i]);
    if (in(cmd, {"sudo", "doas"})) {
      i = skipOptions(w, i + 1, {"-u", "-g", "-C", "-h", "-p", "-U", "-r", "-t", "-T", "-D", "-R"});
    } else if (cmd == "env") {
      i = skipOptions(w, i + 1, {"-u", "-C", "-S", "--unset", "--chdir"});
    } else if (in(cmd, {"command", "builtin", "exec", "nohup", "time", "setsid", "noglob", "nocorrect"})) {
      i = skipOptions(w, i + 1, {"-a"});
    } else if (in(cmd, {"nice", "ionice", "stdbuf", "chrt", "taskset"})) {
      i = skipOptions(w, i + 1, {"-n", "-c", "-p", "-o", "-e", "-i", "--adjustment"});
      if (in(cmd, {"chrt", "taskset"}) && i < w.size()) ++i;  // priority / CPU mask
    } else if (cmd == "timeout") {
      i = skipOptions(w, i + 1, {"-s", "-k", "--signal", "--kill-after"});
      if (i < w.size()) ++i;  // the duration
    } else if (cmd == "xargs") {
      i = skipOptions(w, i + 1, {"-I", "-i", "-n", "-P", "-d", "-E", "-L", "-s", "-a"});
    } else {
      break;
    }
  }
  return i;
}

std::string join(const Words& w, std::size_t from = 0) {
  std::string out;
  for (std::size_t i = from; i < w.size(); ++i) {
    if (w[i].empty()) continue;
    if (!out.empty()) out += ' ';
    out += w[i];
  }
  return out;
}

/// "rm -r -f --one x" -> "rm -fr --one x": short flags merged, unique, sorted after the command.
std::string mergedFlags(const Words& w) {
  if (w.size() < 2) return {};
  std::set<char> flags;
  Words rest;
  int flag_words = 0;
  bool after_dashdash = false;
  for (std::size_t i = 1; i < w.size(); ++i) {
    if (!after_dashdash && w[i] == "--") after_dashdash = true;
    if (!after_dashdash && isShortFlags(w[i])) {
      ++flag_words;
      flags.insert(w[i].begin() + 1, w[i].end());
    } else {
      rest.push_back(w[i]);
    }
  }
  if (flag_words == 0) return {};
  Words out{w[0], "-" + std::string(flags.begin(), flags.end())};
  out.insert(out.end(), rest.begin(), rest.end());
  return join(out);
}

/// Adds the segment's forms to `segs_out`; returns its primary (unmerged) form.
std::string addSegment(Words words, int depth, std::vector<std::string>& segs_out) {
  std::size_t i = realCommand(words);
  if (i >= words.size()) return {};
  Words w(words.begin() + static_cast<long>(i), words.end());
  w[0] = basename(w[0]);
  // A nested shell's command string is a command line of its own.
  if (depth < kMaxDepth) {
    const bool shell = in(w[0], {"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "busybox"});
    const bool su = in(w[0], {"su", "runuser"});
    if (shell || su) {
      for (std::size_t k = 1; k + 1 < w.size(); ++k) {
        const bool c_flag = w[k] == "-c" || w[k] == "--command" ||
                            (shell && isShortFlags(w[k]) && w[k].find('c') != std::string::npos);
        if (c_flag) {
          w[k + 1] = normalizeLine(w[k + 1], depth + 1, segs_out);
          break;
        }
      }
    }
  }
  std::string primary = join(w);
  segs_out.push_back(primary);
  if (auto m = mergedFlags(w); !m.empty() && m != primary) segs_out.push_back(std::move(m));
  return primary;
}

std::size_t Parser::matchParen(std::size_t open) const {
  int level = 0;
  char quote = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"') ++i;
      continue;
    }
    if (c == '\\') { ++i; continue; }
    if (c == '\'' || c == '"') quote = c;
    else if (c == '(') ++level;
    else if (c == ')' && --level == 0) return i;
  }
  return std::string_view::npos;
}

std::string Parser::run() {
  std::vector<Words> segs(1);
  std::vector<std::string> ops;
  std::string word;
  bool in_word = false;
  enum class Q { None, Single, Double } q = Q::None;
  auto endWord = [&] {
    if (in_word) segs.back().push_back(word);
    word.clear();
    in_word = false;
  };
  auto substitute = [&](std::string_view inner) {
    word += depth < kMaxDepth ? normalizeLine(inner, depth + 1, segs_out) : std::string(inner);
    in_word = true;
  };
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const char c = s[i];
    if (q == Q::Single) {
      if (c == '\'') q = Q::None;
      else word += c;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 < n && s[i + 1] != '\n') {
        if (q == Q::Double && std::string_view("\"\\$`").find(s[i + 1]) == std::string_view::npos) word += '\\';
        word += s[i + 1];
        in_word = true;
      }
      i += 2;
      continue;
    }
    if (c == '$' && i + 1 < n && s[i + 1] == '(') {
      std::size_t close = matchParen(i + 1);
      if (close == std::string_view::npos) close = n;
      std::string_view inner = s.substr(i + 2, close - (i + 2));
      if (inner.starts_with("(")) inner.remove_prefix(1);  // $(( arithmetic ))
      substitute(inner);
      i = close == n ? n : close + 1;
      continue;
    }
    if (c == '`') {
      std::size_t close = s.find('`', i + 1);
      if (close == std::string_view::npos) close = n;
      substitute(s.substr(i + 1, close - (i + 1)));
      i = close == n ? n : close + 1;
      continue;
    }
    if (c == '$' && (s.substr(i).starts_with("${IFS}") || s.substr(i).starts_with("$IFS"))) {
      const std::size_t len = s.substr(i).starts_with("${IFS}") ? 6 : 4;
      if (q == Q::Double) word += ' ';
      else endWord();
      i += len;
      continue;
    }
    if (q == Q::Double) {
      if (c == '"') q = Q::None;
      else word += c;
      ++i;
      continue;
    }
    if (c == '\'') { q = Q::Single; in_word = true; ++i; continue; }
    if (c == '"') { q = Q::Double; in_word = true; ++i; continue; }
    if (c == ' ' || c == '\t' || c == '\r') { endWord(); ++i; continue; }
    if (c == '#' && !in_word) break;  // a comment
    if (c == '|' || c == '&' || c == ';' || c == '\n') {
      endWord();
      std::string op(1, c == '\n' ? ';' : c);
      if (i + 1 < n && (s[i + 1] == c) && c != ';' && c != '\n') op += c, ++i;  // || &&
      else if (c == '|' && i + 1 < n && s[i + 1] == '&') ++i;                    // |& is a pipe
      else if (c == '&' && i + 1 < n && s[i + 1] == '>') {                        // &> is a redirection
        segs.back().push_back("&>");
        i += 2;
        continue;
      }
      ++i;
      ops.push_back(op);
      segs.emplace_back();
      continue;
    }
    if (c == '(' || c == ')' || ((c == '{' || c == '}') && !in_word)) { endWord(); ++i; continue; }
    if (c == '<' || c == '>') {
      endWord();
      std::string r;
      while (i < n && (s[i] == '<' || s[i] == '>' || s[i] == '&')) r += s[i++];
      segs.back().push_back(r);
      continue;
    }
    word += c;
    in_word = true;
    ++i;
  }
  endWord();

  std::string line;
  for (std::size_t k = 0; k < segs.size(); ++k) {
    const std::string seg = addSegment(segs[k], depth, segs_out);
    if (!seg.empty()) {
      if (!line.empty()) line += ' ';
      line += seg;
    }
    if (k < ops.size() && !line.empty()) line += " " + ops[k];
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == ';' || line.back() == '&' || line.back() == '|'))
    line.pop_back();
  return line;
}

}  // namespace

NormalizedCommand normalizeCommand(std::string_view command) {
  if (command.size() > kMaxCommandBytes) command = command.substr(0, kMaxCommandBytes);
  NormalizedCommand out;
  std::vector<std::string> segs;
  out.line = normalizeLine(command, 0, segs);
  std::set<std::string> seen;
  for (auto& s : segs)
    if (!s.empty() && seen.insert(s).second) out.segments.push_back(std::move(s));
  return out;
}

}  // namespace vigil::risk
