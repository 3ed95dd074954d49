#pragma once
// Shell command normalisation for risk rules: the forms of one command line that rules are
// matched against, so that trivial obfuscation does not bypass a rule.
//
// Defended (tests/unit/risk shows each):
//   quotes and escapes        r'm' -"rf" \/  ->  rm -rf /
//   $IFS as a blank           rm${IFS}-rf${IFS}/
//   command substitution      $(...) and `...` are normalised and matched on their own too
//   command lists/pipelines   split on | || && ; & and newlines; each segment matched alone,
//                             plus the whole line (segments joined by " | ", " ; ", ...) so rules
//                             can see pipes (curl ... | bash)
//   wrappers                  sudo, doas, env (and VAR=value), command, builtin, exec, nohup,
//                             nice, time, timeout, stdbuf, ionice, setsid, chroot-free prefixes
//   nested shells             sh|bash|zsh|dash|ksh -c '...' and su -c '...': the string is
//                             normalised as a command line of its own
//   absolute/relative paths   /bin/rm, /usr/bin/rm, ./rm -> rm (the command word only)
//   whitespace                runs of blanks/tabs collapse to one space
//   split short flags         rm -r -f / , rm -f -r /, rm -fr /  ->  also "rm -fr /" (short
//                             flags merged, de-duplicated and sorted after the command word)
// Not defended (documented in docs/risk.md): variables and aliases (a=rm; $a -rf /), eval of
// built strings, base64/hex-decoded payloads, globbing (/bin/r? -rf /), brace expansion,
// here-documents, scripts written to a file and run later, long options spelled differently
// (rm --recursive --force: rules must list them), interpreters other than sh -c (python -c with
// os.system), and commands typed into a program that is not a shell.
#include <string>
#include <string_view>
#include <vector>

namespace vigil::risk {

struct NormalizedCommand {
  /// The whole line, normalised, segments joined by their (spaced) operators.
  std::string line;
  /// Every simple command (also those inside $(...), backticks and sh -c strings), normalised,
  /// followed by its merged-short-flags form when that differs. De-duplicated.
  std::vector<std::string> segments;
};

/// Never throws on any input; the input length is capped (kMaxCommandBytes) before parsing.
NormalizedCommand normalizeCommand(std::string_view command);

inline constexpr std::size_t kMaxCommandBytes = 16 * 1024;

}  // namespace vigil::risk
