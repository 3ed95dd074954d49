// Session ids (UUIDv7), launch tokens and OpenSSH public keys.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "server/services/ids.hpp"
#include "server/services/ssh_public_key.hpp"
#include "support/vigil_server.hpp"

using namespace vigil::services;

TEST_CASE("session ids are UUIDv7 in canonical form and sort in creation order", "[unit][sessions][ids]") {
  static const std::regex v7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(newUuidV7());  // many within one millisecond
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  ids.push_back(newUuidV7());
  for (auto& id : ids) {
    INFO(id);
    CHECK(std::regex_match(id, v7));
    CHECK(isUuid(id));
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    INFO(ids[i - 1] << " < " << ids[i]);
    REQUIRE(ids[i - 1] < ids[i]);
  }
  // The first 48 bits are the Unix time in milliseconds.
  const auto ms = std::stoull(ids.back().substr(0, 8) + ids.back().substr(9, 4), nullptr, 16);
  const auto now = static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  CHECK(ms <= now);
  CHECK(now - ms < 5000);
}

TEST_CASE("isUuid accepts only the canonical form", "[unit][sessions][ids]") {
  CHECK(isUuid("0190a0b0-0000-7000-8000-000000000000"));
  CHECK(isUuid("0190A0B0-0000-7000-8000-00000000000F"));
  CHECK_FALSE(isUuid(""));
  CHECK_FALSE(isUuid("0190a0b000007000800000000000000000"));
  CHECK_FALSE(isUuid("0190a0b0-0000-7000-8000-00000000000g"));
  CHECK_FALSE(isUuid("0190a0b0-0000-7000-8000-000000000000 "));
  CHECK_FALSE(isUuid("'; drop table sessions; --xxxxxxxxxxxxx"));
}

TEST_CASE("launch tokens are 32 characters of lowercase base32 and never repeat", "[unit][sessions][ids]") {
  static const std::regex shape("^[a-z2-7]{32}$");
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    auto t = newLaunchToken();
    CHECK(std::regex_match(t, shape));
    CHECK(looksLikeLaunchToken(t));
    CHECK(seen.insert(t).second);
  }
  CHECK_FALSE(looksLikeLaunchToken(std::string(31, 'a')));
  CHECK_FALSE(looksLikeLaunchToken(std::string(33, 'a')));
  CHECK_FALSE(looksLikeLaunchToken(std::string(32, 'A')));
  CHECK_FALSE(looksLikeLaunchToken(std::string(31, 'a') + "1"));
  CHECK_FALSE(looksLikeLaunchToken(std::string(31, 'a') + "%"));
  CHECK_FALSE(looksLikeLaunchToken(std::string(31, 'a') + "-"));
}

namespace {

struct KeyPair {
  std::string pub;          // the .pub line
  std::string fingerprint;  // as ssh-keygen -lf prints it
  int bits = 0;
};

KeyPair keygen(const std::string& dir, const std::string& type, const std::string& bits) {
  const std::string f = dir + "/" + type + bits;
  auto r = vigil::test::runCommand("ssh-keygen -q -N '' -t " + type + (bits.empty() ? "" : " -b " + bits) +
                                   " -C 'alice@laptop work' -f " + f);
  REQUIRE(r.exit_code == 0);
  KeyPair k;
  k.pub = vigil::test::runCommand("cat " + f + ".pub").output;
  auto l = vigil::test::runCommand("ssh-keygen -lf " + f + ".pub").output;  // "256 SHA256:xxx comment (ED25519)"
  k.bits = std::stoi(l.substr(0, l.find(' ')));
  l = l.substr(l.find(' ') + 1);
  k.fingerprint = l.substr(0, l.find(' '));
  return k;
}

}  // namespace

TEST_CASE("OpenSSH public keys parse with the fingerprint ssh-keygen prints", "[unit][sessions][sshkey]") {
  const std::string dir = vigil::test::makeTempDir("vigil-keys");
  for (auto [type, bits] : std::vector<std::pair<std::string, std::string>>{
           {"ed25519", ""}, {"ecdsa", "256"}, {"ecdsa", "384"}, {"ecdsa", "521"}, {"rsa", "2048"}, {"rsa", "3072"}}) {
    auto k = keygen(dir, type, bits);
    std::string error;
    auto p = parseSshPublicKey(k.pub, error);
    INFO(type << bits << ": " << error);
    REQUIRE(p);
    CHECK(p->fingerprint == k.fingerprint);
    CHECK(p->bits == k.bits);
    CHECK(p->comment == "alice@laptop work");
    CHECK(k.pub.rfind(p->public_key, 0) == 0);  // the canonical form is the line without its comment
    CHECK(p->algorithm == k.pub.substr(0, k.pub.find(' ')));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("malformed, mismatched and weak public keys are refused with a reason", "[unit][sessions][sshkey]") {
  const std::string dir = vigil::test::makeTempDir("vigil-keys");
  auto ed = keygen(dir, "ed25519", "");
  auto rsa = keygen(dir, "rsa", "1024");
  auto ec = keygen(dir, "ecdsa", "256");
  std::filesystem::remove_all(dir);
  const std::string ed_b64 = ed.pub.substr(12, ed.pub.find(' ', 12) - 12);
  const std::string ec_b64 = ec.pub.substr(20, ec.pub.find(' ', 20) - 20);
  struct Case {
    std::string line, reason;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"ssh-ed25519", "expected"},
           {"ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unsupported"},
           {"ssh-ed25519 ***", "base64"},
           {"ssh-ed25519 AAAA", "does not match"},
           {"ssh-rsa " + ed_b64, "does not match"},
           {"ecdsa-sha2-nistp384 " + ec_b64, "does not match"},
           {"ssh-ed25519 " + ed_b64.substr(0, ed_b64.size() - 8), ""},
           {"from=\"10.0.0.1\" " + ed.pub, "unsupported"},
           {rsa.pub, "2048"},
           {ed.pub + "\n" + ed.pub, "one line"},
           {"ssh-ed25519 " + ed_b64 + " comment\x01", "control"},
       }) {
    std::string error;
    INFO(c.line.substr(0, 80));
    CHECK_FALSE(parseSshPublicKey(c.line, error));
    CHECK_FALSE(error.empty());
    if (!c.reason.empty()) CHECK(error.find(c.reason) != std::string::npos);
  }
  // Trailing data inside the blob.
  auto blob = vigil::test::runCommand("echo " + ed_b64 + " | base64 -d | { cat; printf 'xx'; } | base64 -w0").output;
  std::string error;
  CHECK_FALSE(parseSshPublicKey("ssh-ed25519 " + blob, error));
  CHECK(error.find("unexpected data") != std::string::npos);
}
