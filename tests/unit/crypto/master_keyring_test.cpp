#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>

#include "keyring_fixture.hpp"
#include "server/crypto/master_keyring.hpp"

using namespace vigil::crypto;
using namespace vigil::crypto::test;
using Catch::Matchers::Contains;

namespace {

std::size_t lineCount(const std::filesystem::path& p) {
  const std::string text = readFile(p);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::size_t entriesIn(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

}  // namespace

TEST_CASE("a created keyring is a 0600 file that loads back the same key", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto created = MasterKeyring::create(file);
  CHECK(fileMode(file) == 0600);
  CHECK(lineCount(file) == 1);
  CHECK(entriesIn(dir.path()) == 1);  // no temp file left behind

  const std::string id = created.currentId();
  REQUIRE(created.key(id) != nullptr);
  CHECK(created.key(id)->size() == 32);

  auto loaded = MasterKeyring::load(file);
  CHECK(loaded.currentId() == id);
  REQUIRE(loaded.key(id) != nullptr);
  CHECK(*loaded.key(id) == *created.key(id));
  CHECK(loaded.key("no-such-key") == nullptr);
  CHECK(loaded.path() == file);
}

TEST_CASE("creating a keyring over an existing file is refused", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  writeFile(file, keyLine("k1"));
  const std::string before = readFile(file);
  CHECK_THROWS_WITH(MasterKeyring::create(file), Contains("already exists"));
  CHECK(readFile(file) == before);
}

TEST_CASE("a keyring readable by group or others is refused with a chmod hint",
          "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  for (mode_t mode : {0640, 0604, 0644, 0660, 0610}) {
    writeFile(file, keyLine("k1"), mode);
    INFO("mode " << std::oct << mode);
    CHECK_THROWS_AS(MasterKeyring::load(file), std::runtime_error);
    CHECK_THROWS_WITH(MasterKeyring::load(file), Contains(file.string()) && Contains("chmod 600"));
  }
  writeFile(file, keyLine("k1"), 0400);
  CHECK_NOTHROW(MasterKeyring::load(file));
}

TEST_CASE("a missing keyring file is reported by name", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "absent.key";
  CHECK_THROWS_WITH(MasterKeyring::load(file), Contains(file.string()));
}

TEST_CASE("malformed keyring lines are refused without echoing key material",
          "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  const Bytes key = randomBytes(32);
  const std::string b64 = base64Encode(key.data(), key.size());
  const std::string good = keyLine("k1");

  struct Case {
    std::string line;
    std::string expect;
  };
  const Case cases[] = {
      {"vigil-master-key v2 k2 " + b64, "malformed"},
      {"vigil-master-kee v1 k2 " + b64, "malformed"},
      {"vigil-master-key v1 " + b64, "malformed"},
      {"vigil-master-key v1 k2 " + b64 + " extra", "malformed"},
      {"vigil-master-key v1 k|2 " + b64, "invalid key id"},
      {"vigil-master-key v1 k2 " + b64.substr(0, 40) + "!!!!", "base64"},
      {"vigil-master-key v1 k2 " + base64Encode(key.data(), 16), "256 bits"},
      {"vigil-master-key v1 k1 " + b64, "duplicate key id"},
  };
  for (const auto& c : cases) {
    INFO(c.expect);
    writeFile(file, good + c.line + "\n");
    try {
      MasterKeyring::load(file);
      FAIL("malformed keyring was accepted");
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Contains(file.string()) && Contains("line 2") && Contains(c.expect));
      CHECK_THAT(msg, !Contains(b64.substr(0, 16)));
    }
  }
  writeFile(file, "");
  CHECK_THROWS_WITH(MasterKeyring::load(file), Contains("no keys"));
  writeFile(file, "# comment\n\n" + good);
  CHECK_NOTHROW(MasterKeyring::load(file));
}

TEST_CASE("addKey makes a new current key and retireOldKeys keeps only it", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto ring = MasterKeyring::create(file);
  const std::string first = ring.currentId();
  const SecureBytes firstKey = *ring.key(first);

  const std::string second = ring.addKey();
  CHECK(second != first);
  CHECK(ring.currentId() == second);
  CHECK(fileMode(file) == 0600);
  CHECK(lineCount(file) == 2);
  CHECK(entriesIn(dir.path()) == 1);
  REQUIRE(ring.key(first) != nullptr);
  CHECK(*ring.key(first) == firstKey);
  CHECK(*ring.key(second) != firstKey);

  {
    auto reloaded = MasterKeyring::load(file);
    CHECK(reloaded.currentId() == second);
    CHECK(reloaded.key(first) != nullptr);
  }

  ring.retireOldKeys();
  CHECK(ring.currentId() == second);
  CHECK(ring.key(first) == nullptr);
  CHECK(ring.key(second) != nullptr);
  CHECK(lineCount(file) == 1);
  CHECK(fileMode(file) == 0600);
  auto reloaded = MasterKeyring::load(file);
  CHECK(reloaded.currentId() == second);
  CHECK(reloaded.key(first) == nullptr);
  CHECK(*reloaded.key(second) == *ring.key(second));
}

TEST_CASE("a second keyring instance finds a key added by the first", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto writer = MasterKeyring::create(file);
  auto reader = MasterKeyring::load(file);
  const std::string oldId = reader.currentId();
  const SecureBytes* oldKey = reader.key(oldId);

  const std::string added = writer.addKey();
  REQUIRE(reader.key(added) != nullptr);  // unknown id triggers one re-read
  CHECK(*reader.key(added) == *writer.key(added));
  CHECK(reader.currentId() == added);
  CHECK(reader.key(oldId) == oldKey);  // earlier pointers survive the re-read
}

TEST_CASE("refreshIfChanged picks up a rekey from another process", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto writer = MasterKeyring::create(file);
  auto reader = MasterKeyring::load(file);
  reader.refreshIfChanged();  // unchanged: no effect
  CHECK(reader.currentId() == writer.currentId());

  const std::string added = writer.addKey();
  reader.refreshIfChanged();
  CHECK(reader.currentId() == added);

  SECTION("a broken file on refresh throws and keeps the loaded keys") {
    writeFile(file, "garbage\n");
    CHECK_THROWS_WITH(reader.refreshIfChanged(), Contains("line 1"));
    CHECK(reader.currentId() == added);
    CHECK(reader.key(added) != nullptr);
    CHECK(reader.key("unknown") == nullptr);
  }
}

TEST_CASE("retireOldKeys refuses when another process made a newer key current",
          "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto a = MasterKeyring::create(file);
  auto b = MasterKeyring::load(file);
  const std::string mine = a.addKey();
  const std::string theirs = b.addKey();  // b re-reads the file first, so it keeps `mine`
  CHECK(lineCount(file) == 3);
  CHECK_THROWS_WITH(a.retireOldKeys(), Contains(theirs));
  CHECK(lineCount(file) == 3);
  CHECK(a.key(mine) != nullptr);
}

TEST_CASE("a moved keyring keeps working", "[crypto][keyring]") {
  TempDir dir;
  const auto file = dir / "master.key";
  auto ring = MasterKeyring::create(file);
  const std::string id = ring.currentId();
  MasterKeyring moved(std::move(ring));
  CHECK(moved.currentId() == id);
  auto other = MasterKeyring::create(dir / "other.key");
  other = std::move(moved);
  CHECK(other.currentId() == id);
  CHECK(other.addKey() != id);
}
