// Hash-chained recording chunks, signed manifests and per-chunk encryption, without a database.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <unistd.h>

#include "recorder/asciicast_reader.hpp"
#include "recorder/asciicast_writer.hpp"
#include "recorder/encrypted_file_reader.hpp"
#include "recorder/recording_chain.hpp"
#include "recorder/recording_cipher.hpp"
#include "server/crypto/ed25519.hpp"
#include "server/crypto/random.hpp"
#include "server/services/recording_seal.hpp"

using namespace vigil;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-seal-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { if (!std::getenv("KEEP")) fs::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void flipByte(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x01);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Writes a recording in several flushed chunks, with a chain (and a cipher when `key` is given).
std::shared_ptr<recorder::ChunkChain> writeRecording(const std::string& path, const std::vector<std::string>& lines,
                                                     const crypto::SecureBytes* key = nullptr,
                                                     const std::string& session = "s-1",
                                                     std::chrono::milliseconds frame_interval = 0ms) {
  std::error_code ec;
  std::shared_ptr<recorder::ChunkChain> chain = recorder::ChunkChain::create(path, ec);
  REQUIRE(chain);
  recorder::AsciicastOptions o;
  o.flush_interval = 20ms;
  o.frame_interval = frame_interval;
  std::shared_ptr<recorder::ChunkCipher> cipher;
  if (key) {
    cipher = std::make_shared<recorder::ChunkCipher>(*key, recorder::WrappedDataKey{session, "k1", "d3JhcA", "a2V5"});
    o.seal_chunk = [cipher](std::string& c) { cipher->seal(c); };
  }
  o.chunk_written = [chain](std::uint64_t off, std::string_view b) { return chain->add(off, b); };
  auto w = recorder::AsciicastWriter::create(path, std::move(o), ec);
  REQUIRE(w);
  for (const auto& l : lines) {
    REQUIRE(w->appendOutput(l));
    std::this_thread::sleep_for(60ms);  // past the flush interval: one chunk per line
  }
  REQUIRE_FALSE(w->close());
  return chain;
}

}  // namespace

TEST_CASE("the chain hash of a chunk depends on every earlier chunk", "[seal][chain]") {
  const auto a = recorder::chainNext(recorder::chainStart(), "one");
  const auto b = recorder::chainNext(a, "two");
  const auto b2 = recorder::chainNext(recorder::chainNext(recorder::chainStart(), "onE"), "two");
  CHECK(recorder::chainHex(a).size() == 64);
  CHECK(b != b2);
  CHECK(recorder::chainNext(a, "two") == b);
}

TEST_CASE("every flushed chunk of a recording is listed in the sidecar index and verifies", "[seal][chain]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  auto chain = writeRecording(file, {"first line\r\n", "second line\r\n", "third line\r\n"});
  std::error_code ec;
  auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
  REQUIRE_FALSE(ec);
  CHECK(entries.size() >= 4);  // the header and at least one per line
  CHECK(entries.size() == chain->count());
  CHECK(entries.back().offset + entries.back().length == fs::file_size(file));
  auto c = recorder::checkChain(file, entries, ec);
  REQUIRE_FALSE(ec);
  CHECK(c.status == recorder::ChainCheck::Status::Intact);
  CHECK(c.chunks_ok == entries.size());
  CHECK(c.extra_bytes == 0);
}

TEST_CASE("a flipped byte is reported as the chunk that holds it", "[seal][chain]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  writeRecording(file, {"alpha\r\n", "beta\r\n", "gamma\r\n"});
  std::error_code ec;
  auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
  REQUIRE(entries.size() >= 3);
  const auto& victim = entries[2];
  flipByte(file, victim.offset + victim.length / 2);
  auto c = recorder::checkChain(file, entries, ec);
  CHECK(c.status == recorder::ChainCheck::Status::Modified);
  REQUIRE(c.bad_chunk);
  CHECK(*c.bad_chunk == 2);
  CHECK(c.bad_offset == victim.offset);
  CHECK(c.chunks_ok == 2);
}

TEST_CASE("a file cut before its last chunk is reported as truncated at that chunk", "[seal][chain]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  writeRecording(file, {"alpha\r\n", "beta\r\n"});
  std::error_code ec;
  auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
  REQUIRE(entries.size() >= 2);
  fs::resize_file(file, entries.back().offset);
  auto c = recorder::checkChain(file, entries, ec);
  CHECK(c.status == recorder::ChainCheck::Status::Truncated);
  REQUIRE(c.bad_chunk);
  CHECK(*c.bad_chunk == entries.size() - 1);
}

TEST_CASE("a torn last line of the chunk index is ignored, a malformed one is an error", "[seal][chain]") {
  std::error_code ec;
  const std::string h(64, 'a');
  auto e = recorder::parseChunkIndex("0 0 10 " + h + "\n1 10 5 " + h.substr(0, 20), ec);
  CHECK_FALSE(ec);
  CHECK(e.size() == 1);
  recorder::parseChunkIndex("0 0 10 " + h + "\n7 10 5 " + h + "\n", ec);
  CHECK(ec);
  recorder::parseChunkIndex("0 0 x " + h + "\n", ec);
  CHECK(ec);
}

TEST_CASE("a manifest signed with the node key verifies, and not with another key or edited", "[seal][manifest]") {
  auto signer = crypto::Ed25519Signer::generate();
  auto other = crypto::Ed25519Signer::generate();
  nlohmann::json m{{"session_id", "0192-abc"}, {"chunk_count", 3}, {"final_hash", std::string(64, 'f')}};
  auto [text, sig_b64] = services::signManifest(*signer, m);
  const auto sig = crypto::base64Decode(sig_b64);
  CHECK(crypto::ed25519Verify(signer->publicKeyBase64(), text, sig));
  CHECK_FALSE(crypto::ed25519Verify(other->publicKeyBase64(), text, sig));
  std::string edited = text;
  edited.replace(edited.find("3"), 1, "2");
  CHECK_FALSE(crypto::ed25519Verify(signer->publicKeyBase64(), edited, sig));
  CHECK_FALSE(crypto::ed25519Verify("not base64!", text, sig));
  CHECK_FALSE(crypto::ed25519Verify(signer->publicKeyBase64(), text, crypto::Bytes(10)));
}

TEST_CASE("the signing key file is created 0600 once, reloaded with the same public key", "[seal][manifest]") {
  TempDir d;
  const fs::path key = d.path / "recording-signing.key";
  auto a = crypto::Ed25519Signer::loadOrCreate(key);
  CHECK((fs::status(key).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  auto b = crypto::Ed25519Signer::loadOrCreate(key);
  CHECK(a->publicKeyBase64() == b->publicKeyBase64());
  CHECK(crypto::readEd25519PublicKey(key.string() + ".pub") == a->publicKeyBase64());
  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  CHECK_THROWS_WITH(crypto::Ed25519Signer::loadOrCreate(key), Catch::Contains("chmod 600"));
}

TEST_CASE("an encrypted recording holds no plaintext and reads back with its data key", "[seal][encryption]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  const auto key = crypto::randomSecureBytes(32);
  recorder::setDataKeyUnwrapper([&](const recorder::WrappedDataKey& k) -> std::optional<crypto::SecureBytes> {
    if (k.session_id != "s-enc") return std::nullopt;
    return key;
  });
  writeRecording(file, {"echo SECRET-MARKER-4711\r\n", "more output\r\n"}, &key, "s-enc");
  CHECK(recorder::isEncryptedRecording(file));
  CHECK(slurp(file).find("SECRET-MARKER-4711") == std::string::npos);
  std::error_code ec;
  auto rec = recorder::readAsciicastFile(file, ec);
  REQUIRE_FALSE(ec);
  std::string all;
  for (auto& e : rec.events) all += e.data;
  CHECK(all.find("SECRET-MARKER-4711") != std::string::npos);
  CHECK_FALSE(rec.truncated);

  // The chain covers the ciphertext: it verifies with no key at all.
  auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
  CHECK(recorder::checkChain(file, entries, ec).status == recorder::ChainCheck::Status::Intact);

  // Without the right key, the reader refuses instead of returning garbage.
  recorder::setDataKeyUnwrapper([](const recorder::WrappedDataKey&) { return crypto::randomSecureBytes(32); });
  recorder::readAsciicastFile(file, ec);
  CHECK(ec);
  recorder::setDataKeyUnwrapper(nullptr);
  recorder::readAsciicastFile(file, ec);
  CHECK(ec == std::errc::permission_denied);
}

TEST_CASE("an encrypted recording whose zstd frames span several chunks reads back whole", "[seal][encryption]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  const auto key = crypto::randomSecureBytes(32);
  recorder::setDataKeyUnwrapper([&](const recorder::WrappedDataKey&) -> std::optional<crypto::SecureBytes> { return key; });
  writeRecording(file, {"one\r\n", "two\r\n", "three\r\n"}, &key, "s-frames", 10000ms);
  std::error_code ec;
  auto rec = recorder::readAsciicastFile(file, ec);
  REQUIRE_FALSE(ec);
  CHECK_FALSE(rec.truncated);
  CHECK(rec.events.size() == 3);
  recorder::setDataKeyUnwrapper(nullptr);

  // The same for a plain recording: close ends the open frame.
  const auto plain = d.file("p.cast.zst");
  writeRecording(plain, {"one\r\n", "two\r\n"}, nullptr, "s-plain", 10000ms);
  auto p = recorder::readAsciicastFile(plain, ec);
  REQUIRE_FALSE(ec);
  CHECK_FALSE(p.truncated);
}

TEST_CASE("a flipped byte in an encrypted recording fails authentication when read", "[seal][encryption]") {
  TempDir d;
  const auto file = d.file("r.cast.zst");
  const auto key = crypto::randomSecureBytes(32);
  recorder::setDataKeyUnwrapper([&](const recorder::WrappedDataKey&) -> std::optional<crypto::SecureBytes> { return key; });
  writeRecording(file, {"one\r\n", "two\r\n", "three\r\n"}, &key, "s-enc2");
  std::error_code ec;
  auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
  REQUIRE(entries.size() >= 3);
  flipByte(file, entries[2].offset + entries[2].length - 3);
  auto rec = recorder::readAsciicastFile(file, ec);
  CHECK(ec == std::errc::illegal_byte_sequence);
  recorder::setDataKeyUnwrapper(nullptr);
}

TEST_CASE("a preamble that is not one is rejected", "[seal][encryption]") {
  CHECK_FALSE(recorder::parsePreamble("VIGIL-ENC v1 a b c\n"));
  CHECK_FALSE(recorder::parsePreamble("something else"));
  auto k = recorder::parsePreamble("VIGIL-ENC v1 sid kid wrapped sealed\n");
  REQUIRE(k);
  CHECK(k->session_id == "sid");
  CHECK(k->sealed_key_b64 == "sealed");
}

TEST_CASE("an encrypted file is read by plaintext byte ranges across records; a torn tail and a forged record are told apart",
          "[seal][encryption][ranges]") {
  TempDir d;
  const auto file = d.file("v.mp4");
  const auto key = crypto::randomSecureBytes(32);
  recorder::setDataKeyUnwrapper([&](const recorder::WrappedDataKey& k) -> std::optional<crypto::SecureBytes> {
    if (k.session_id != "s-video") return std::nullopt;
    return key;
  });
  // Records of uneven sizes, as a muxer's flushes are; the plaintext is a counting pattern.
  std::string plain;
  for (int i = 0; i < 70000; ++i) plain += static_cast<char>('a' + (i * 7) % 26);
  recorder::ChunkCipher cipher(key, recorder::WrappedDataKey{"s-video", "mk1", "d3JhcA==", "c2VhbGVk"});
  std::string disk;
  const std::size_t cuts[] = {0, 1, 4096, 4097, 30000, 65000, 70000};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    std::string chunk = plain.substr(cuts[i], cuts[i + 1] - cuts[i]);
    cipher.seal(chunk);
    disk += chunk;
  }
  std::ofstream(file, std::ios::binary) << disk;
  CHECK(disk.find(plain.substr(5000, 64)) == std::string::npos);

  std::error_code ec;
  auto r = recorder::EncryptedFileReader::open(file, ec);
  REQUIRE(r);
  CHECK(r->records() == 6);
  CHECK(r->size() == plain.size());
  CHECK_FALSE(r->truncated());
  auto range = [&](std::uint64_t at, std::size_t n) {
    std::string out;
    auto e = r->read(at, n, out);
    REQUIRE_FALSE(e);
    return out;
  };
  CHECK(range(0, plain.size()) == plain);
  CHECK(range(0, 1) == plain.substr(0, 1));
  CHECK(range(4000, 200) == plain.substr(4000, 200));      // across a record boundary
  CHECK(range(29990, 35020) == plain.substr(29990, 35020));  // three records
  CHECK(range(69990, 100) == plain.substr(69990));           // clipped at the end
  CHECK(range(70000, 10).empty());
  std::string rec;
  REQUIRE_FALSE(r->record(1, rec));
  CHECK(rec == plain.substr(1, 4095));

  // Cut inside the last record (a killed writer): the whole records still read.
  std::ofstream(file, std::ios::binary) << disk.substr(0, disk.size() - 100);
  auto torn = recorder::EncryptedFileReader::open(file, ec);
  REQUIRE(torn);
  CHECK(torn->truncated());
  CHECK(torn->size() == 65000);
  std::string head;
  REQUIRE_FALSE(torn->read(64000, 5000, head));
  CHECK(head == plain.substr(64000, 1000));

  // A flipped byte inside a record: that range fails to authenticate, the others still read.
  std::ofstream(file, std::ios::binary) << disk;
  flipByte(file, disk.size() - 2000);
  auto forged = recorder::EncryptedFileReader::open(file, ec);
  REQUIRE(forged);
  std::string out;
  CHECK(forged->read(66000, 10, out) == std::errc::illegal_byte_sequence);
  out.clear();
  CHECK_FALSE(forged->read(100, 10, out));
  CHECK(out == plain.substr(100, 10));

  // Another recording's key does not open it; a file that is not encrypted is refused.
  recorder::setDataKeyUnwrapper(nullptr);
  CHECK_FALSE(recorder::EncryptedFileReader::open(file, ec));
  CHECK(ec == std::errc::permission_denied);
  std::ofstream(file, std::ios::binary) << std::string("\x00\x00\x00\x18" "ftypisom", 12);
  CHECK_FALSE(recorder::EncryptedFileReader::open(file, ec));
  CHECK(ec == std::errc::illegal_byte_sequence);
  // A length field that cannot be a record.
  std::ofstream(file, std::ios::binary) << disk.substr(0, disk.find('\n') + 1) << std::string("\xff\xff\xff\xff", 4) << "x";
  recorder::setDataKeyUnwrapper([&](const recorder::WrappedDataKey&) -> std::optional<crypto::SecureBytes> { return key; });
  CHECK_FALSE(recorder::EncryptedFileReader::open(file, ec));
  CHECK(ec == std::errc::illegal_byte_sequence);
  recorder::setDataKeyUnwrapper(nullptr);
}
