// TypedLine: the line readline would submit, from the keys alone.
#include <catch2/catch.hpp>
#include <string>

#include "recorder/typed_line.hpp"

using vigil::recorder::TypedLine;

namespace {

/// The line after `keys`, or "?" when the model cannot tell.
std::string after(const std::string& keys) {
  TypedLine l;
  l.feed(keys);
  return l.known() ? l.text() : "?";
}

}  // namespace

TEST_CASE("typed line: plain keys, erasing and the cursor keys", "[recorder][typed_line]") {
  CHECK(after("ls -la") == "ls -la");
  CHECK(after("ls -lx\x7f" "a") == "ls -la");
  CHECK(after("ls -lx\b" "a") == "ls -la");
  CHECK(after("ls\x1b[D\x1b[Dx") == "xls");
  CHECK(after("ls\x1b[D\x1b[D\x1b[D\x1b[Dx") == "xls");  // the cursor stops at the start
  CHECK(after("ls\x1b[C\x1b[Cx") == "lsx");               // and at the end
  CHECK(after("ls\x1bOD\x1bODx\x1bOC\x1bOCy") == "xlsy");  // application cursor keys
  CHECK(after("b\x01" "a\x05" "c") == "abc");
  CHECK(after("b\x1b[Ha\x1b[Fc") == "abc");
  CHECK(after("b\x1b[1~a\x1b[4~c") == "abc");
  CHECK(after("ac\x02" "b\x06" "d") == "abcd");
  CHECK(after("abcd\x01\x1b[3~") == "bcd");
  CHECK(after("abcd\x01\x04") == "bcd");
  CHECK(after("abcd\x1b[D\x1b[D\x0b") == "ab");
  CHECK(after("abcd\x1b[D\x1b[D\x15") == "cd");
  CHECK(after("rm -rf  /tmp/x\x17") == "rm -rf  ");
  CHECK(after("rm -rf /tmp/x  \x17" "y") == "rm -rf y");
  CHECK(after("ls\x0c") == "ls");
  CHECK(after("\x1b[200~rm -rf /\x1b[201~") == "rm -rf /");
}

TEST_CASE("typed line: Enter and Ctrl-C start an empty line; unfollowable keys make it unknown",
          "[recorder][typed_line]") {
  CHECK(after("ls\r") == "");
  CHECK(after("ls\rpwd") == "pwd");
  CHECK(after("ls\x03pwd") == "pwd");
  CHECK(after("l\t") == "?");          // completion
  CHECK(after("\x1b[A") == "?");       // history
  CHECK(after("\x12rm") == "?");       // reverse search
  CHECK(after("ab\x1b" "b" "c") == "?");   // Alt+B, a word move
  CHECK(after("ab\x1b[1;5Dc") == "?");  // Ctrl+Left
  CHECK(after("ab\x19") == "?");       // yank
  CHECK(after("\t\rls") == "ls");      // a new line is known again
  CHECK(after(std::string(TypedLine::kMaxLength + 1, 'a')) == "?");
}

TEST_CASE("typed line: an escape sequence split across writes, UTF-8 kept whole", "[recorder][typed_line]") {
  TypedLine l;
  l.feed("ab\x1b");
  l.feed("[");
  l.feed("Dx");
  CHECK(l.known());
  CHECK(l.text() == "axb");
  TypedLine u;
  u.feed("\xc3\xa9t\xc3\xa9");          // été
  u.feed("\x1b[D\x1b[D\x7f");            // erase the first é, two bytes
  CHECK(u.text() == "t\xc3\xa9");
  u.feed("\x1b[C\x1b[C\x7f" "e");  // past t and é, erase é
  CHECK(u.text() == "te");
  TypedLine copy = u;
  copy.feed("\r");
  CHECK(copy.text().empty());
  CHECK(u.text() == "te");
}
