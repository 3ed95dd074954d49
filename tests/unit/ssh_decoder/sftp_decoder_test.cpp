// SftpDecoder on hand-built SFTP v3 conversations: every message kind the decoder reports or
// ignores, every way of cutting the bytes, and malformed input.
#include <catch2/catch.hpp>

#include <algorithm>

#include "decoder_support.hpp"

using namespace dec_test;
using namespace dec_test::sftp;
using Lines = std::vector<std::string>;

namespace {

/// Decodes `conv` cut in every way `cuttings` knows and requires the same report each time.
void requireEveryCutting(const Conversation& conv, const Lines& expected) {
  for (const auto& [how, cut] : cuttings(conv)) {
    INFO("cutting: " << how);
    REQUIRE(runSftp(cut) == expected);
  }
}

Conversation hello() { return {C(init()), S(version())}; }

Conversation operator+(Conversation a, const Conversation& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::string kH1("\0\0\0\1", 4);
const std::string kH2("\0\0\0\2", 4);

}  // namespace

TEST_CASE("an upload is reported once, with the bytes written, when the server confirms CLOSE",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/srv/in/report.pdf", kWrite | kCreat | kTrunc)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "hello ")), C(write(3, kH1, 6, "world")),
      S(status(2, kOk)), S(status(3, kOk)),
      C(close(4, kH1)), S(status(4, kOk))};
  requireEveryCutting(conv, {"upload /srv/in/report.pdf 11 ok"});
}

TEST_CASE("a download counts the bytes of DATA replies and takes the EOF status as the end, not a failure",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(7, "/etc/motd", kRead)), S(handle(7, kH2)),
      C(read(8, kH2, 0, 32768)), C(read(9, kH2, 32768, 32768)),
      S(data(8, std::string(1000, 'x'))), S(status(9, kEof)),
      C(close(10, kH2)), S(status(10, kOk))};
  requireEveryCutting(conv, {"download /etc/motd 1000 ok"});
}

TEST_CASE("remove, rename, mkdir, rmdir, setstat, fsetstat, symlink and the OpenSSH extensions are reported with the server's status",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(pathReq(13, 1, "/tmp/gone")), S(status(1, kOk)),
      C(pathReq(13, 2, "/tmp/missing")), S(status(2, kNoSuchFile)),
      C(rename(3, "/tmp/a", "/tmp/b")), S(status(3, kOk)),
      C(extended(4, "posix-rename@openssh.com", str("/tmp/b") + str("/tmp/c"))), S(status(4, kOk)),
      C(mkdir(5, "/tmp/d")), S(status(5, kOk)),
      C(pathReq(15, 6, "/tmp/d")), S(status(6, kPermissionDenied)),
      C(setstat(7, "/tmp/c")), S(status(7, kOk)),
      C(symlink(8, "/tmp/c", "/tmp/link")), S(status(8, kOk)),
      C(extended(9, "hardlink@openssh.com", str("/tmp/c") + str("/tmp/hard"))), S(status(9, kOk)),
      C(extended(10, "lsetstat@openssh.com", str("/tmp/link") + kNoAttrs)), S(status(10, kOk)),
      C(open(11, "/tmp/c", kWrite)), S(handle(11, kH1)),
      C(fsetstat(12, kH1)), S(status(12, kOk)),
      C(close(13, kH1)), S(status(13, kOk))};
  requireEveryCutting(conv, {
      "remove /tmp/gone ok",
      "remove /tmp/missing fail",
      "rename /tmp/a /tmp/b ok",
      "rename /tmp/b /tmp/c ok",
      "mkdir /tmp/d ok",
      "rmdir /tmp/d fail",
      "setstat /tmp/c ok",
      "symlink /tmp/link /tmp/c ok",
      "hardlink /tmp/c /tmp/hard ok",
      "setstat /tmp/link ok",
      "setstat /tmp/c ok",
      "upload /tmp/c 0 ok",
  });
}

TEST_CASE("stat, lstat, fstat, opendir, readdir, realpath, readlink and unknown extensions are not reported",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(pathReq(17, 1, "/etc")), S(attrs(1)),
      C(pathReq(7, 2, "/etc")), S(attrs(2)),
      C(pathReq(11, 3, "/etc")), S(handle(3, kH1)),
      C(pathReq(12, 4, kH1)), S(name(4, "passwd")),
      C(pathReq(8, 5, kH1)), S(attrs(5)),
      C(close(6, kH1)), S(status(6, kOk)),
      C(pathReq(16, 7, ".")), S(name(7, "/root")),
      C(pathReq(19, 8, "/tmp/link")), S(name(8, "/tmp/c")),
      C(extended(9, "statvfs@openssh.com", str("/"))), S(req(201, 9, std::string(88, '\0')))};
  requireEveryCutting(conv, {});
}

TEST_CASE("a refused OPEN is reported as a failed transfer with no bytes", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/etc/shadow", kRead)), S(status(1, kPermissionDenied)),
      C(open(2, "/etc/passwd", kWrite | kTrunc)), S(status(2, kPermissionDenied))};
  requireEveryCutting(conv, {"download /etc/shadow 0 fail", "upload /etc/passwd 0 fail"});
}

TEST_CASE("a failed WRITE makes the upload not ok even when CLOSE succeeds", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/full/disk", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "abc")), S(status(2, kOk)),
      C(write(3, kH1, 3, "def")), S(status(3, 4)),
      C(close(4, kH1)), S(status(4, kOk))};
  requireEveryCutting(conv, {"upload /full/disk 3 fail"});
}

TEST_CASE("a CLOSE the server refuses makes the transfer not ok", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/nfs/file", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "abc")), S(status(2, kOk)),
      C(close(3, kH1)), S(status(3, 4))};
  requireEveryCutting(conv, {"upload /nfs/file 3 fail"});
}

TEST_CASE("two transfers at once are kept apart by their handles", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/a", kWrite | kCreat) + open(2, "/b", kRead)), S(handle(1, kH1) + handle(2, kH2)),
      C(write(3, kH1, 0, "12345") + read(4, kH2, 0, 100)), S(status(3, kOk) + data(4, "xy")),
      C(close(5, kH2) + close(6, kH1)), S(status(5, kOk) + status(6, kOk))};
  requireEveryCutting(conv, {"download /b 2 ok", "upload /a 5 ok"});
}

TEST_CASE("a handle the server reuses after CLOSE belongs to the new file", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/first", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "1")), S(status(2, kOk)),
      C(close(3, kH1)), S(status(3, kOk)),
      C(open(4, "/second", kRead)), S(handle(4, kH1)),
      C(read(5, kH1, 0, 10)), S(data(5, "22")),
      C(close(6, kH1)), S(status(6, kOk))};
  requireEveryCutting(conv, {"upload /first 1 ok", "download /second 2 ok"});
}

TEST_CASE("transfers and requests still open when the channel closes are reported unfinished, in request order",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/half", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "abcd")), S(status(2, kOk)),
      C(write(3, kH1, 4, "efgh")),
      C(pathReq(13, 4, "/unanswered")),
      C(open(5, "/never-opened", kRead))};
  requireEveryCutting(conv, {"upload /half 4 fail", "remove /unanswered fail", "download /never-opened 0 fail"});
}

TEST_CASE("finish is idempotent and bytes after it are ignored", "[ssh][decoder][sftp]") {
  Heard h;
  vigil::ssh::SftpDecoder d(h);
  d.clientBytes(init() + open(1, "/x", kWrite | kCreat));
  d.serverBytes(version() + handle(1, kH1));
  d.finish();
  d.finish();
  d.clientBytes(close(2, kH1));
  d.serverBytes(status(2, kOk));
  REQUIRE(h.lines == Lines{"upload /x 0 fail"});
}

TEST_CASE("replies to requests the decoder never saw are ignored", "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{S(status(99, kOk)), S(handle(98, kH1)), S(data(97, "zz"))};
  requireEveryCutting(conv, {});
}

TEST_CASE("a packet longer than 256 KiB is malformed once and the decoder goes inert", "[ssh][decoder][sftp]") {
  Heard h;
  vigil::ssh::SftpDecoder d(h);
  d.clientBytes(init());
  d.serverBytes(version());
  // The length alone is enough: the decoder must not wait for (or buffer) 1 GiB.
  const std::string huge = u32(1u << 30);
  for (char c : huge) d.clientBytes(std::string(1, c));
  REQUIRE(d.inert());
  d.clientBytes(std::string(4096, 'A'));
  d.clientBytes(pathReq(13, 1, "/after"));
  d.serverBytes(status(1, kOk));
  d.finish();
  REQUIRE(h.lines == Lines{"malformed: sftp: packet longer than 256 KiB"});
}

TEST_CASE("a packet of exactly 256 KiB of WRITE data plus headers is still decoded", "[ssh][decoder][sftp]") {
  const std::string big(256 * 1024 - 64, 'd');
  const Conversation conv = hello() + Conversation{
      C(open(1, "/big", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, big)), S(status(2, kOk)),
      C(close(3, kH1)), S(status(3, kOk))};
  REQUIRE(runSftp(conv) == Lines{"upload /big " + std::to_string(big.size()) + " ok"});
}

TEST_CASE("malformed SFTP input is reported once and nothing after it is decoded", "[ssh][decoder][sftp]") {
  struct Case {
    const char* what;
    Conversation conv;
    std::string why;
    Lines also = {};  // what finish() still reports as unfinished
  };
  // A string whose length runs past the end of its packet.
  const std::string truncated_open = req(3, 1, u32(1000) + "/etc/passwd");
  const std::vector<Case> cases = {
      {"string past the end of the packet", hello() + Conversation{C(truncated_open)}, "sftp: truncated OPEN"},
      {"unknown client packet type", hello() + Conversation{C(req(99, 1, str("x")))}, "sftp: unknown client packet type 99"},
      {"unknown server packet type", hello() + Conversation{S(req(42, 1))}, "sftp: unknown server packet type 42"},
      {"empty packet", hello() + Conversation{C(u32(0))}, "sftp: empty packet"},
      {"no INIT first", Conversation{C(open(1, "/x", kRead))}, "sftp: the client did not start with INIT"},
      {"no VERSION first", Conversation{C(init()), S(status(1, kOk))}, "sftp: the server did not start with VERSION"},
      {"version 6", Conversation{C(init()), S(version(6))}, "sftp: protocol version 6 is not decoded"},
      {"request without an id", hello() + Conversation{C(packet(13, "ab"))}, "sftp: truncated request"},
      {"truncated STATUS", hello() + Conversation{S(packet(101, u32(1)))}, "sftp: truncated STATUS"},
      {"handle over 256 bytes", hello() + Conversation{C(open(1, "/x", kRead)), S(handle(1, std::string(300, 'h')))},
       "sftp: handle longer than 256 bytes", {"download /x 0 fail"}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Conversation conv = c.conv;
    // Valid traffic after the bad packet must not be decoded.
    conv.push_back(C(pathReq(13, 77, "/after")));
    conv.push_back(S(status(77, kOk)));
    for (const auto& [how, cut] : cuttings(conv)) {
      INFO("cutting: " << how);
      Lines expected{"malformed: " + c.why};
      expected.insert(expected.end(), c.also.begin(), c.also.end());
      REQUIRE(runSftp(cut) == expected);
    }
  }
}

TEST_CASE("a transfer open when the stream turns malformed is still reported unfinished at finish",
          "[ssh][decoder][sftp]") {
  const Conversation conv = hello() + Conversation{
      C(open(1, "/partial", kWrite | kCreat)), S(handle(1, kH1)),
      C(write(2, kH1, 0, "abc")), S(status(2, kOk)),
      C(req(99, 3))};
  REQUIRE(runSftp(conv) == Lines{"malformed: sftp: unknown client packet type 99", "upload /partial 3 fail"});
}

TEST_CASE("more than 4096 outstanding requests is malformed", "[ssh][decoder][sftp]") {
  Heard h;
  vigil::ssh::SftpDecoder d(h);
  d.clientBytes(init());
  d.serverBytes(version());
  std::string many;
  for (std::uint32_t id = 1; id <= vigil::ssh::SftpDecoder::kMaxTracked; ++id) many += pathReq(13, id, "/f");
  d.clientBytes(many);
  REQUIRE_FALSE(d.inert());
  d.clientBytes(pathReq(13, 5000, "/one-too-many"));
  REQUIRE(d.inert());
  REQUIRE(h.lines == Lines{"malformed: sftp: more than 4096 outstanding requests"});
}

TEST_CASE("requests naming too many bytes of paths are malformed before memory grows without bound",
          "[ssh][decoder][sftp]") {
  Heard h;
  vigil::ssh::SftpDecoder d(h);
  d.clientBytes(init());
  d.serverBytes(version());
  const std::string long_path(100 * 1024, 'p');
  std::uint32_t id = 1;
  while (!d.inert() && id < 100) d.clientBytes(rename(id++, long_path, long_path));
  REQUIRE(d.inert());
  REQUIRE(h.lines == Lines{"malformed: sftp: outstanding requests name too many bytes"});
}

TEST_CASE("random bytes after a valid start never crash the SFTP decoder", "[ssh][decoder][sftp]") {
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    Heard h;
    vigil::ssh::SftpDecoder d(h);
    d.clientBytes(init());
    d.serverBytes(version());
    for (int i = 0; i < 20 && !d.inert(); ++i) {
      std::string junk(std::uniform_int_distribution<int>(1, 64)(rng), '\0');
      for (auto& c : junk) c = static_cast<char>(rng());
      // Keep lengths small so the junk is read as packets, not as one huge length.
      junk[0] = junk[1] = junk[2] = 0;
      if (i % 2) d.clientBytes(junk);
      else d.serverBytes(junk);
    }
    d.finish();
    const auto malformed = std::count_if(h.lines.begin(), h.lines.end(),
                                         [](const std::string& l) { return l.rfind("malformed: ", 0) == 0; });
    REQUIRE(malformed <= 1);
  }
}
