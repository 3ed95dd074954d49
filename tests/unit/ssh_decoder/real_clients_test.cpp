// The decoders on channel bytes captured from real OpenSSH programs at test time: `sftp -D` runs
// /usr/lib/openssh/sftp-server directly, `scp -O -S stub` runs `scp -t`/`scp -f` locally, and
// tee.py records both directions in the order the peers saw them. Nothing captured is committed.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "decoder_support.hpp"

using namespace dec_test;
using Lines = std::vector<std::string>;
namespace fs = std::filesystem;

namespace {

const std::string kTee = VIGIL_SOURCE_DIR "/tests/unit/ssh_decoder/tee.py";
const char* kSftpServer = "/usr/lib/openssh/sftp-server";

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/vigil-dec-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

int run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeRandomFile(const std::string& path, std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << data;
}

/// tee.py's log: 'c'|'s', uint32 length, bytes.
Conversation readCapture(const std::string& path) {
  const std::string d = slurp(path);
  Conversation conv;
  std::size_t i = 0;
  while (i + 5 <= d.size()) {
    std::uint32_t n = 0;
    for (int k = 1; k <= 4; ++k) n = (n << 8) | static_cast<unsigned char>(d[i + k]);
    conv.push_back({d[i] == 'c', d.substr(i + 5, n)});
    i += 5 + n;
  }
  REQUIRE(i == d.size());
  return conv;
}

/// Decodes a capture as captured, one byte at a time, and in random-sized reads, and requires
/// the three to agree; returns the report.
template <class Make>
Lines decodeEveryWay(const Conversation& conv, Make make) {
  auto once = [&](auto&& feedAll) {
    Heard h;
    auto d = make(h);
    feedAll(*d);
    d->finish();
    return h.lines;
  };
  const Lines as_captured = once([&](auto& d) { feed(d, conv); });
  const Lines bytewise = once([&](auto& d) {
    for (const auto& c : conv)
      for (std::size_t i = 0; i < c.bytes.size(); ++i) {
        if (c.client) d.clientBytes(std::string_view(c.bytes).substr(i, 1));
        else d.serverBytes(std::string_view(c.bytes).substr(i, 1));
      }
  });
  std::mt19937 rng(7);
  const Lines random = once([&](auto& d) { feed(d, randomCut(conv, rng, 70000)); });
  CHECK(bytewise == as_captured);
  CHECK(random == as_captured);
  return as_captured;
}

Lines decodeSftp(const Conversation& conv) {
  return decodeEveryWay(conv, [](Heard& h) { return std::make_unique<vigil::ssh::SftpDecoder>(h); });
}

Lines decodeScp(const std::string& command, const Conversation& conv) {
  return decodeEveryWay(conv, [&](Heard& h) { return std::make_unique<vigil::ssh::ScpDecoder>(h, command); });
}

/// `scp -O -S stub` calls the stub as it would call ssh: options, host, then the remote command
/// as the last argument. The stub runs that command locally through tee.py and keeps the command
/// line next to the log (the proxy gets it from the exec request).
std::string writeScpStub(const TempDir& dir) {
  const std::string stub = dir / "ssh-stub.sh";
  std::ofstream(stub) << "#!/bin/sh\n"
                         "for last; do :; done\n"
                         "printf '%s' \"$last\" > \"$VIGIL_TEE_LOG.cmd\"\n"
                         "exec python3 " << quote(kTee) << " \"$VIGIL_TEE_LOG\" sh -c \"$last\"\n";
  fs::permissions(stub, fs::perms::owner_all);
  return stub;
}

struct ScpRun {
  int rc = 0;
  std::string command;
  Conversation conv;
};

ScpRun scp(const TempDir& dir, const std::string& stub, const std::string& name, const std::string& args) {
  const std::string log = dir / name;
  ScpRun r;
  r.rc = run("cd " + quote(dir.path.string()) + " && VIGIL_TEE_LOG=" + quote(log) + " scp -O -q -S " + quote(stub) +
             " " + args + " </dev/null 2>" + quote(log + ".err"));
  r.command = slurp(log + ".cmd");
  r.conv = readCapture(log);
  return r;
}

}  // namespace

TEST_CASE("a real sftp session (put 1 MiB, get, rename, chmod, ln -s, rm, mkdir, rmdir) is decoded from its captured channel",
          "[ssh][decoder][sftp][real]") {
  TempDir dir;
  fs::create_directory(dir / "local");
  fs::create_directory(dir / "remote");
  const std::string L = dir / "local", R = dir / "remote";
  writeRandomFile(L + "/big.bin", 1 << 20, 42);
  std::ofstream(dir / "batch") << "put " << L << "/big.bin " << R << "/big.bin\n"
                               << "get " << R << "/big.bin " << L << "/back.bin\n"
                               << "rename " << R << "/big.bin " << R << "/moved.bin\n"
                               << "mkdir " << R << "/sub\n"
                               << "chmod 600 " << R << "/moved.bin\n"
                               << "ln -s " << R << "/moved.bin " << R << "/link\n"
                               << "rm " << R << "/link\n"
                               << "rm " << R << "/moved.bin\n"
                               << "rmdir " << R << "/sub\n"
                               << "-rm " << R << "/nonexistent\n";
  const std::string server = "python3 " + kTee + " " + (dir / "sftp.log") + " " + kSftpServer;
  REQUIRE(run("sftp -q -b " + quote(dir / "batch") + " -D " + quote(server) + " </dev/null >/dev/null 2>&1") == 0);
  // The client really did it: the file came back whole and the remote side is empty again.
  REQUIRE(slurp(L + "/back.bin") == slurp(L + "/big.bin"));
  REQUIRE(fs::is_empty(R));

  const Lines got = decodeSftp(readCapture(dir / "sftp.log"));
  REQUIRE(got == Lines{
                     "upload " + R + "/big.bin 1048576 ok",
                     "download " + R + "/big.bin 1048576 ok",
                     "rename " + R + "/big.bin " + R + "/moved.bin ok",
                     "mkdir " + R + "/sub ok",
                     "setstat " + R + "/moved.bin ok",
                     "symlink " + R + "/link " + R + "/moved.bin ok",
                     "remove " + R + "/link ok",
                     "remove " + R + "/moved.bin ok",
                     "rmdir " + R + "/sub ok",
                     "remove " + R + "/nonexistent fail",
                 });
}

TEST_CASE("an sftp download the client abandons is reported unfinished when the channel closes",
          "[ssh][decoder][sftp][real]") {
  TempDir dir;
  writeRandomFile(dir / "big.bin", 4 << 20, 3);
  // head (unbuffered) stops reading after the first reply bytes: sftp dies mid-download and the channel closes.
  const std::string server = "python3 " + kTee + " " + (dir / "sftp.log") + " " + kSftpServer;
  std::ofstream(dir / "batch") << "get " << (dir / "big.bin") << " " << (dir / "copy.bin") << "\n";
  run("timeout 20 sftp -q -b " + quote(dir / "batch") + " -D " +
      quote("sh -c '" + server + " | stdbuf -o0 head -c 100000'") + " </dev/null >/dev/null 2>&1");
  const Lines got = decodeSftp(readCapture(dir / "sftp.log"));
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].rfind("download " + (dir / "big.bin") + " ", 0) == 0);
  REQUIRE(got[0].substr(got[0].size() - 5) == " fail");
}

TEST_CASE("real legacy scp uploads (a file, a directory tree with -p) are decoded from the captured channel",
          "[ssh][decoder][scp][real]") {
  TempDir dir;
  const std::string stub = writeScpStub(dir);
  fs::create_directories(dir / "local/tree/sub");
  fs::create_directory(dir / "remote");
  const std::string R = dir / "remote";
  writeRandomFile(dir / "local/big.bin", 1 << 20, 5);
  std::ofstream(dir / "local/tree/a.txt") << "alpha\n";
  std::ofstream(dir / "local/tree/sub/b.txt") << "bravo!\n";

  auto one = scp(dir, stub, "up1.log", "local/big.bin " + quote("x:" + R + "/"));
  REQUIRE(one.rc == 0);
  REQUIRE(slurp(R + "/big.bin") == slurp(dir / "local/big.bin"));
  REQUIRE(decodeScp(one.command, one.conv) == Lines{"upload " + R + "/big.bin 1048576 ok"});

  auto tree = scp(dir, stub, "up2.log", "-p -r local/tree " + quote("x:" + R));
  REQUIRE(tree.rc == 0);
  REQUIRE(slurp(R + "/tree/sub/b.txt") == "bravo!\n");
  Lines got = decodeScp(tree.command, tree.conv);
  std::sort(got.begin(), got.end());  // directory order is the filesystem's
  REQUIRE(got == Lines{"upload " + R + "/tree/a.txt 6 ok", "upload " + R + "/tree/sub/b.txt 7 ok"});

  // A name the server may treat as the file itself: the target as named, the sent name beside it.
  auto renamed = scp(dir, stub, "up3.log", "local/tree/a.txt " + quote("x:" + R + "/renamed.txt"));
  REQUIRE(renamed.rc == 0);
  REQUIRE(slurp(R + "/renamed.txt") == "alpha\n");
  REQUIRE(decodeScp(renamed.command, renamed.conv) == Lines{"upload " + R + "/renamed.txt a.txt 6 ok"});
}

TEST_CASE("real legacy scp downloads (a file, a quoted directory tree, a missing file) are decoded from the captured channel",
          "[ssh][decoder][scp][real]") {
  TempDir dir;
  const std::string stub = writeScpStub(dir);
  fs::create_directories(dir / "remote/my dir/sub");
  fs::create_directory(dir / "local");
  const std::string R = dir / "remote";
  writeRandomFile(R + "/big.bin", 1 << 20, 6);
  std::ofstream(R + "/my dir/a.txt") << "alpha\n";
  std::ofstream(R + "/my dir/sub/b.txt") << "bravo!\n";

  auto one = scp(dir, stub, "down1.log", quote("x:" + R + "/big.bin") + " local/copy.bin");
  REQUIRE(one.rc == 0);
  REQUIRE(slurp(dir / "local/copy.bin") == slurp(R + "/big.bin"));
  REQUIRE(decodeScp(one.command, one.conv) == Lines{"download " + R + "/big.bin 1048576 ok"});

  // The remote shell sees the path in quotes, as a person would type it for a name with a space.
  auto tree = scp(dir, stub, "down2.log", "-r " + quote("x:'" + R + "/my dir'") + " local/");
  REQUIRE(tree.rc == 0);
  REQUIRE(slurp(dir / "local/my dir/sub/b.txt") == "bravo!\n");
  Lines got = decodeScp(tree.command, tree.conv);
  std::sort(got.begin(), got.end());
  REQUIRE(got == Lines{"download " + R + "/my dir/a.txt 6 ok", "download " + R + "/my dir/sub/b.txt 7 ok"});

  auto missing = scp(dir, stub, "down3.log", quote("x:" + R + "/nonexistent") + " local/");
  REQUIRE(missing.rc != 0);
  REQUIRE(decodeScp(missing.command, missing.conv) == Lines{"download " + R + "/nonexistent 0 fail"});
}
