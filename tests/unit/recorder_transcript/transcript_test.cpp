// TerminalTranscript: commands read from the emulated screen, fed with the bytes a bash with
// readline on a tty in echo mode would send back for each keystroke.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "recorder/terminal_transcript.hpp"

using vigil::recorder::Command;
using vigil::recorder::TerminalTranscript;

namespace {

/// A tiny readline-like shell: returns for each input chunk the output a real bash would send.
struct FakeBash {
  std::string prompt = "$ ";
  std::map<std::string, std::string> completions;             // word -> suffix added by Tab
  std::function<std::string(const std::string&)> run = [](const std::string&) { return ""; };

  std::string start() const { return prompt; }

  std::string feed(std::string_view in) {
    std::string out;
    for (char c : in) key(c, out);
    return out;
  }

 private:
  std::vector<std::string> line_;  // one UTF-8 character per element
  std::size_t cur_ = 0;
  std::vector<std::string> history_;
  std::size_t hist_ = 0;
  bool echo_ = true;
  std::string esc_, utf8_;

  std::string text() const {
    std::string s;
    for (auto& ch : line_) s += ch;
    return s;
  }
  std::string rest() const {
    std::string s;
    for (std::size_t i = cur_; i < line_.size(); ++i) s += line_[i];
    return s;
  }
  void clear() {
    line_.clear();
    cur_ = 0;
  }

  void key(char c, std::string& out) {
    if (!esc_.empty() || c == '\x1b') {
      esc_ += c;
      if (esc_.size() < 3) return;
      const char k = esc_[2];
      esc_.clear();
      if (k == 'A' && !history_.empty()) {  // history: readline redraws the whole line
        hist_ = hist_ > 0 ? hist_ - 1 : 0;
        clear();
        for (char h : history_[hist_]) line_.push_back(std::string(1, h));
        cur_ = line_.size();
        out += "\r\x1b[K" + prompt + text();
      } else if (k == 'D' && cur_ > 0) {
        --cur_;
        out += "\b";
      } else if (k == 'C' && cur_ < line_.size()) {
        out += line_[cur_++];
      }
      return;
    }
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) {  // gather a UTF-8 character
      utf8_ += c;
      const auto lead = static_cast<unsigned char>(utf8_[0]);
      const std::size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
      if (utf8_.size() < len) return;
      insert(utf8_, out);
      utf8_.clear();
      return;
    }
    if (c == '\r') {
      out += "\r\n";
      const std::string cmd = text();
      clear();
      if (!echo_) {
        echo_ = true;
        out += prompt;
        return;
      }
      if (!cmd.empty()) history_.push_back(cmd);
      hist_ = history_.size();
      out += run(cmd);
      if (cmd.rfind("sudo", 0) == 0) {
        out += "[sudo] password for me: ";
        echo_ = false;
      } else {
        out += prompt;
      }
    } else if (c == '\x03') {
      out += "^C\r\n" + prompt;
      clear();
      echo_ = true;
    } else if (c == '\x7f') {
      if (cur_ == 0) return;
      line_.erase(line_.begin() + static_cast<long>(--cur_));
      if (!echo_) return;
      const std::string r = rest();
      out += "\b" + r + " " + std::string(r.size() + 1, '\b');
    } else if (c == '\t') {
      const std::string t = text();
      const std::string word = t.substr(t.rfind(' ') == std::string::npos ? 0 : t.rfind(' ') + 1);
      if (auto it = completions.find(word); it != completions.end())
        for (char s : it->second) insert(std::string(1, s), out);
    } else if (b >= 0x20) {
      insert(std::string(1, c), out);
    }
  }

  void insert(const std::string& ch, std::string& out) {
    line_.insert(line_.begin() + static_cast<long>(cur_++), ch);
    if (!echo_) return;
    const std::string r = rest();
    out += ch + r + std::string(r.size(), '\b');
  }
};

/// Types `chunks` one after another, each answered by the shell before the next is sent.
std::vector<Command> session(FakeBash& bash, TerminalTranscript& tr, const std::vector<std::string>& chunks) {
  tr.output(bash.start());
  double t = 0;
  for (const auto& c : chunks) {
    tr.input(c, t += 1);
    tr.output(bash.feed(c));
  }
  tr.flush();
  return tr.takeCommands();
}

std::vector<Command> typed(const std::string& keys, int cols = 80, int rows = 24) {
  FakeBash bash;
  TerminalTranscript tr(cols, rows);
  std::vector<std::string> chunks;
  for (char c : keys) chunks.emplace_back(1, c);
  return session(bash, tr, chunks);
}

std::vector<std::string> texts(const std::vector<Command>& cmds) {
  std::vector<std::string> out;
  for (auto& c : cmds) out.push_back(c.text);
  return out;
}

}  // namespace

TEST_CASE("a simple command is read from the screen without the prompt", "[recorder][transcript]") {
  const auto cmds = typed("ls -la\r");
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].text == "ls -la");
  CHECK_FALSE(cmds[0].masked);
  CHECK(cmds[0].offset_seconds == 7.0);  // the Enter was the 7th chunk
}

TEST_CASE("backspace and insert after left-arrow yield the edited line", "[recorder][transcript]") {
  CHECK(texts(typed("lsx\x7f -a\x1b[D\x1b[D\x1b[Dl\r")) == std::vector<std::string>{"lsl -a"});
  CHECK(texts(typed("ehco\x1b[D\x1b[D\x7f\x1b[Ch\x1b[C hi\r")) == std::vector<std::string>{"echo hi"});
}

TEST_CASE("history recall yields the recalled command", "[recorder][transcript]") {
  CHECK(texts(typed("uname -a\rpwd\r\x1b[A\x1b[A\r")) ==
        std::vector<std::string>{"uname -a", "pwd", "uname -a"});
}

TEST_CASE("tab completion yields the completed command", "[recorder][transcript]") {
  FakeBash bash;
  bash.completions["/etc/pas"] = "swd";
  TerminalTranscript tr(80, 24);
  std::vector<std::string> keys;
  for (char c : std::string("cat /etc/pas\t\r")) keys.emplace_back(1, c);
  CHECK(texts(session(bash, tr, keys)) == std::vector<std::string>{"cat /etc/passwd"});
}

TEST_CASE("a command wrapped over several screen lines is read whole", "[recorder][transcript]") {
  const std::string cmd = "echo 0123456789 abcdefghij   ABCDEFGHIJ klmnopqrst";
  CHECK(texts(typed(cmd + "\r", 20, 10)) == std::vector<std::string>{cmd});
  // Near the bottom the screen scrolls while the line is typed.
  CHECK(texts(typed("\r\r\r\r\r\r\r\r\r" + cmd + "\r", 20, 5)) == std::vector<std::string>{cmd});
}

TEST_CASE("input typed at a prompt that does not echo is masked", "[recorder][transcript]") {
  FakeBash bash;
  TerminalTranscript tr(80, 24);
  std::vector<std::string> keys;
  for (char c : std::string("sudo id\rhunter2\r")) keys.emplace_back(1, c);
  const auto cmds = session(bash, tr, keys);
  REQUIRE(cmds.size() == 2);
  CHECK(cmds[0].text == "sudo id");
  CHECK(cmds[1].masked);
  CHECK(cmds[1].text == "********");
  CHECK(tr.screenText().find("hunter2") == std::string::npos);
}

TEST_CASE("Ctrl-C cancels the line and Enter on an empty line reports nothing", "[recorder][transcript]") {
  CHECK(texts(typed("rm -rf /tmp/x\x03\r\rid\r")) == std::vector<std::string>{"id"});
}

TEST_CASE("a coloured prompt is stripped", "[recorder][transcript]") {
  FakeBash bash;
  bash.prompt = "\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ";
  TerminalTranscript tr(80, 24);
  std::vector<std::string> keys;
  for (char c : std::string("git status\r")) keys.emplace_back(1, c);
  CHECK(texts(session(bash, tr, keys)) == std::vector<std::string>{"git status"});
}

TEST_CASE("UTF-8 and wide characters are read as typed", "[recorder][transcript]") {
  CHECK(texts(typed("echo h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC!\r")) ==
        std::vector<std::string>{"echo h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC!"});
  // Wide characters wrapped across rows.
  CHECK(texts(typed("echo \xE6\x97\xA5\xE6\x9C\xAC\xE6\x97\xA5\xE6\x9C\xAC\xE6\x97\xA5\xE6\x9C\xAC\r", 10, 5)) ==
        std::vector<std::string>{"echo \xE6\x97\xA5\xE6\x9C\xAC\xE6\x97\xA5\xE6\x9C\xAC\xE6\x97\xA5\xE6\x9C\xAC"});
}

TEST_CASE("after a resize commands wrap at the new width", "[recorder][transcript]") {
  FakeBash bash;
  TerminalTranscript tr(80, 24);
  tr.output(bash.start());
  tr.resize(15, 6);
  const std::string cmd = "echo one two three four five six";
  tr.input(cmd + "\r", 1);
  tr.output(bash.feed(cmd + "\r"));
  CHECK(texts(tr.takeCommands()) == std::vector<std::string>{cmd});
  tr.resize(0, -5);  // clamped, not a crash
  tr.resize(100000, 100000);
  CHECK_FALSE(tr.screenText().empty());
}

TEST_CASE("input split at every offset gives the same commands", "[recorder][transcript]") {
  const std::string keys = "ls\rpwd\r\x1b[A\x1b[A\recho h\xC3\xA9 \x1b[Dx\r";
  const std::vector<std::string> expected{"ls", "pwd", "ls", "echo h\xC3\xA9x"};
  auto shell = [] {
    FakeBash bash;
    bash.run = [](const std::string& cmd) { return cmd == "ls" ? std::string("a  b\r\nc\r\n") : ""; };
    return bash;
  };
  for (std::size_t k = 0; k <= keys.size(); ++k) {
    FakeBash bash = shell();
    TerminalTranscript tr(80, 24);
    CAPTURE(k);
    CHECK(texts(session(bash, tr, {keys.substr(0, k), keys.substr(k)})) == expected);
  }
  FakeBash bash = shell();
  TerminalTranscript tr(80, 24);
  std::vector<std::string> bytes;
  for (char c : keys) bytes.emplace_back(1, c);
  CHECK(texts(session(bash, tr, bytes)) == expected);
}

TEST_CASE("screenText shows the visible rows", "[recorder][transcript]") {
  TerminalTranscript tr(10, 3);
  tr.output("ab\r\n\xE6\x97\xA5x\x1b[31m!\x1b[0m");
  CHECK(tr.screenText() == "ab\n\xE6\x97\xA5x!\n\n");
}

TEST_CASE("random bytes never crash the transcript", "[recorder][transcript][fuzz]") {
  std::mt19937 rng(12345);
  const std::string alphabet = "\x1b[0123;?mHJKABCDhl\r\n\b\x7f\x03\t ab\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\x9b\x90\x07]";
  TerminalTranscript tr(40, 10);
  for (int i = 0; i < 4000; ++i) {
    std::string chunk(rng() % 48, '\0');
    for (char& c : chunk)
      c = (rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    switch (rng() % 8) {
      case 0: tr.input(chunk, i); break;
      case 1: tr.resize(static_cast<int>(rng() % 120) - 5, static_cast<int>(rng() % 40) - 5); break;
      default: tr.output(chunk); break;
    }
    if (i % 97 == 0) (void)tr.takeCommands();
  }
  tr.flush();
  (void)tr.takeCommands();
  CHECK_FALSE(tr.screenText().empty());
}

TEST_CASE("lineEchoed tells a line shown on the screen from one typed at a prompt without echo",
          "[recorder][transcript]") {
  FakeBash bash;
  TerminalTranscript tr(80, 24);
  tr.output(bash.start());
  CHECK_FALSE(tr.lineEchoed());  // nothing typed yet
  auto type = [&](const std::string& keys) {
    for (char c : keys) {
      tr.input(std::string_view(&c, 1), 1);
      tr.output(bash.feed(std::string_view(&c, 1)));
    }
  };
  type("sudo id");
  CHECK(tr.lineEchoed());
  type("\r");
  CHECK_FALSE(tr.lineEchoed());  // a new line, nothing typed on it
  type("hunter2");
  CHECK_FALSE(tr.lineEchoed());  // the sudo prompt does not echo
  type("\r");
  type("ls");
  CHECK(tr.lineEchoed());
}

TEST_CASE("a prompt drawn again after typing started is not part of the line", "[recorder][transcript]") {
  // bash, after an interrupt it handled late, prints a second prompt below the first while the
  // person already types: the line is what follows the last prompt (the risk engine matches it).
  TerminalTranscript tr(80, 24);
  tr.output("user@host:~$ ");
  tr.input("r", 1);
  tr.output("\r\nuser@host:~$ ");
  tr.output("r");
  tr.input("m -rf /tmp/x", 2);
  tr.output("m -rf /tmp/x");
  CHECK(tr.activeText() == "rm -rf /tmp/x");
  tr.input("\r", 3);
  tr.output("\r\n");
  auto cmds = tr.takeCommands();
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].text == "rm -rf /tmp/x");
}
