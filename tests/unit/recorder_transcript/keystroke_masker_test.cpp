// KeystrokeMasker: keys in the recording, masked unless the line showed on the screen — also
// when a whole line arrives in one write, before its echo. Written through a real
// AsciicastWriter and read back with the reader, as a session's recording is.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "recorder/asciicast_reader.hpp"
#include "recorder/asciicast_writer.hpp"
#include "recorder/keystroke_masker.hpp"

using namespace vigil::recorder;

namespace {

/// A terminal session as SessionRecorder drives it: output to the recording, then to the masker.
struct Rec {
  std::filesystem::path dir;
  std::string file;
  std::unique_ptr<AsciicastWriter> cast;
  TerminalTranscript transcript{80, 24};
  std::unique_ptr<KeystrokeMasker> keys;

  Rec() {
    dir = std::filesystem::temp_directory_path() /
          ("vigil-masker-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    file = (dir / "s.cast.zst").string();
    std::error_code ec;
    cast = AsciicastWriter::create(file, AsciicastOptions{}, ec);
    REQUIRE(cast);
    keys = std::make_unique<KeystrokeMasker>(transcript, [this](std::string_view k) { REQUIRE(cast->appendInput(k)); });
  }
  ~Rec() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void out(std::string_view bytes, double t) {
    REQUIRE(cast->appendOutput(bytes));
    keys->output(bytes, t);
  }
  void in(std::string_view bytes, double t) { keys->input(bytes, t); }
  /// Ends the session and returns the recording's events.
  std::vector<AsciicastEvent> end() {
    keys->finish();
    transcript.flush();
    REQUIRE_FALSE(cast->close());
    std::error_code ec;
    auto r = readAsciicastFile(file, ec);
    REQUIRE_FALSE(ec);
    for (std::size_t i = 1; i < r.events.size(); ++i) CHECK(r.events[i - 1].time <= r.events[i].time);
    return r.events;
  }
  std::string fileBytes() const {
    std::ifstream f(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
};

std::vector<std::string> inputs(const std::vector<AsciicastEvent>& evs) {
  std::vector<std::string> out;
  for (auto& e : evs)
    if (e.type == 'i') out.push_back(e.data);
  return out;
}

bool anywhere(const std::vector<AsciicastEvent>& evs, const std::string& needle) {
  for (auto& e : evs)
    if (e.data.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a line sent in one write is recorded as typed once its echo comes back", "[recorder][masker]") {
  Rec r;
  r.out("vigil@vm:~$ ", 0.07);
  r.in("stty size\r", 0.079);
  r.out("stty size\r\n\x1b[?2004l\r", 0.0797);
  r.out("24 80\r\nvigil@vm:~$ ", 0.08);
  const auto evs = r.end();
  CHECK(inputs(evs) == std::vector<std::string>{"stty size\r"});
  // Stamped when decided: after the echo that proved it.
  std::size_t echo = 0, key = 0;
  for (std::size_t i = 0; i < evs.size(); ++i) {
    if (evs[i].type == 'o' && evs[i].data.starts_with("stty size")) echo = i;
    if (evs[i].type == 'i') key = i;
  }
  CHECK(key > echo);
}

TEST_CASE("a line sent in one write at a prompt without echo is masked", "[recorder][masker]") {
  Rec r;
  r.out("Password: ", 1.0);
  r.in("hunter2-secret\r", 1.5);
  r.out("\r\n", 1.6);
  r.out("vigil@vm:~$ ", 1.7);
  const auto evs = r.end();
  CHECK(inputs(evs) == std::vector<std::string>{"********\r"});
  CHECK_FALSE(anywhere(evs, "hunter2"));
  CHECK(r.fileBytes().find("hunter2") == std::string::npos);
}

TEST_CASE("a pasted command and the password after it: the command plain, the password masked, in order",
          "[recorder][masker]") {
  Rec r;
  r.out("$ ", 1);
  r.in("sudo ls\rhunter2-secret\r", 2);
  r.out("sudo ls\r\n", 2.01);
  r.out("[sudo] password for me: ", 2.02);
  r.out("\r\n", 2.03);
  r.out("file.txt\r\n$ ", 2.04);
  r.in("l", 3);
  r.out("l", 3.01);
  r.in("s", 3.02);
  r.out("s", 3.03);
  r.in("\r", 3.04);
  r.out("\r\nfile.txt\r\n$ ", 3.05);
  const auto evs = r.end();
  CHECK(inputs(evs) == std::vector<std::string>{"sudo ls\r", "********\r", "ls\r"});
  CHECK_FALSE(anywhere(evs, "hunter2"));
}

TEST_CASE("output that merely starts like the typed line does not unmask it", "[recorder][masker]") {
  Rec r;
  r.out("Password: ", 1);
  r.in("Sor\r", 2);
  r.out("Sorry, try again.\r\n", 2.1);  // a program that answers on the prompt's row
  const auto evs = r.end();
  CHECK(inputs(evs) == std::vector<std::string>{"********\r"});
}

TEST_CASE("a line whose echo does not come within the wait is masked at the next event, keys keep their order",
          "[recorder][masker]") {
  Rec r;
  r.out("$ ", 1);
  r.in("abc\r", 1);
  r.in("\x1b[A", 1.2);  // behind the waiting line
  r.keys->tick(1.0 + KeystrokeMasker::kEchoWait + 0.1);
  r.out("abc", 3);  // too late
  const auto evs = r.end();
  CHECK(inputs(evs) == std::vector<std::string>{"********\r", "\x1b[A"});
}

TEST_CASE("the session end writes a waiting line: masked without its echo, plain when the screen shows it",
          "[recorder][masker]") {
  SECTION("no echo") {
    Rec r;
    r.out("$ ", 1);
    r.in("hunter2\r", 1.1);
    CHECK(inputs(r.end()) == std::vector<std::string>{"********\r"});
  }
  SECTION("echo without the newline yet") {
    Rec r;
    r.out("$ ", 1);
    r.in("exit\r", 1.1);
    r.out("exit", 1.2);
    CHECK(inputs(r.end()) == std::vector<std::string>{"exit\r"});
  }
}

TEST_CASE("keys typed one at a time and echoed each are written at Enter, without waiting", "[recorder][masker]") {
  Rec r;
  r.out("$ ", 1);
  double t = 1;
  for (char c : std::string("echo hi")) {
    r.in(std::string_view(&c, 1), t += 0.1);
    r.out(std::string_view(&c, 1), t += 0.01);
  }
  r.in("\r", t += 0.1);
  r.cast->close();  // whatever is written by now: the Enter must be in it
  std::error_code ec;
  auto rec = readAsciicastFile(r.file, ec);
  REQUIRE_FALSE(ec);
  CHECK(inputs(rec.events) == std::vector<std::string>{"echo hi\r"});
}
