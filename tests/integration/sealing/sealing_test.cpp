// Tamper evidence and encryption at rest, end to end: real SSH sessions through the Vigil proxy
// (real `vigil serve`, real sshd, real ssh client), then the recording file and the audit log are
// tampered with on disk and with psql, and the real `vigil verify` binary and the verify API must
// say what happened and where.
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "integration/ssh_e2e/ssh_env.hpp"

namespace {

using namespace ssh_e2e;
namespace fs = std::filesystem;

class SealWorld {
 public:
  SealWorld() : env_("recordings: {flush_interval_ms: 100}\n"), sshd_(Sshd::instance()) {
    if (!sshd_.ok()) throw std::runtime_error("sshd fixture: " + sshd_.error());
    tmp_ = vigil::test::makeTempDir("vigil-sealing");
    alice = env_.makeUser({"admin"});
    plain_safe = makeSafe(false);
    enc_safe = makeSafe(true);
    // One account per target: (target, username) is unique.
    plain_account = makeAccount(plain_safe, makeTarget(uniq("sealed")));
    enc_account = makeAccount(enc_safe, makeTarget(uniq("encrypted")));
  }

  Env& env() { return env_; }

  /// One real SSH session (exec, five output lines 0.3 s apart: several flushed chunks) as alice
  /// through a launch token; returns the ended session's id.
  std::string session(std::int64_t account, const std::string& marker) {
    auto before = count(account);
    auto r = env_.admin().get("/api/v1/accounts/" + S(account));
    auto launch = alice.http().post("/api/v1/accounts/" + S(account) + "/launch", json::object());
    INFO(launch.body);
    REQUIRE(launch.status == 201);
    const std::string token = launch.json()["token"];
    auto run = runSplit("ssh -p " + S(env_.server().sshPort()) +
                            " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20"
                            " -o BatchMode=yes " + token + "@127.0.0.1 'for i in 1 2 3 4 5; do echo line$i-" + marker +
                            "; sleep 0.3; done'",
                        tmp_);
    INFO("ssh: " << run.exit_code << " " << run.out << " " << run.err);
    REQUIRE(run.exit_code == 0);
    REQUIRE(contains(run.out, "line5-" + marker));
    for (int i = 0; i < 100; ++i) {
      auto list = sessionsOf(account);
      if (list.size() > before && !list.front()["ended_at"].is_null()) return list.front()["id"];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("the session did not end");
    return {};
  }

  std::string file(const std::string& id) {
    const std::string rel = env_.psql("SELECT recording_path FROM sessions WHERE id = '" + id + "'");
    REQUIRE_FALSE(rel.empty());
    return env_.server().dataDir() + "/recordings/" + rel;
  }

  /// The sealed chunk index from the database: (offset, length) per chunk.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> chunks(const std::string& id) {
    std::string idx = env_.psql("SELECT chunk_index FROM recording_seals WHERE session_id = '" + id + "'");
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    std::istringstream in(idx);
    std::uint64_t n, off, len;
    std::string h;
    while (in >> n >> off >> len >> h) out.emplace_back(off, len);
    return out;
  }

  vigil::test::CommandResult verify(const std::string& args) { return env_.server().cli("verify " + args); }
  const std::string& tmp() const { return tmp_; }

  Principal alice;
  std::int64_t plain_safe = 0, enc_safe = 0, plain_account = 0, enc_account = 0;

  std::int64_t makeSafe(bool encrypt) {
    auto r = env_.admin().post("/api/v1/safes", {{"name", uniq("seal-safe")}, {"policy", {{"encrypt_recordings", encrypt}}}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    REQUIRE(r.json()["policy"]["encrypt_recordings"] == encrypt);
    const std::int64_t id = r.json()["id"];
    auto m = env_.admin().put("/api/v1/safes/" + S(id) + "/members/" + S(alice.id),
                              {{"permissions", {"connect", "view_recordings"}}});
    REQUIRE(m.status == 200);
    return id;
  }
  std::int64_t makeTarget(const std::string& name) {
    auto r = env_.admin().post("/api/v1/targets", {{"name", name}, {"protocol", "ssh"}, {"address", "127.0.0.1"},
                                                   {"port", sshd_.port()}, {"host_key_fingerprint", sshd_.hostKeyFingerprint()}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }
  std::int64_t makeAccount(std::int64_t safe_id, std::int64_t target_id) {
    auto r = env_.admin().post("/api/v1/accounts", {{"safe_id", safe_id}, {"target_id", target_id},
                                                    {"username", sshd_.user()}, {"secret_kind", "password"},
                                                    {"secret", sshd_.password()}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
  }


 private:
  std::size_t count(std::int64_t account) { return sessionsOf(account).size(); }
  std::vector<json> sessionsOf(std::int64_t account_id) {
    auto r = env_.admin().get("/api/v1/sessions?account_id=" + S(account_id) + "&limit=200");
    REQUIRE(r.status == 200);
    const json body = r.json();
    std::vector<json> out;
    for (auto& s : body["items"]) out.push_back(s);
    return out;
  }

  Env env_;
  Sshd& sshd_;
  std::string tmp_;
};

SealWorld& sealWorld() {
  static SealWorld w;
  return w;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void flipByte(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

json verifyJson(const std::string& id, int expect_exit) {
  auto r = sealWorld().verify("--json " + id);
  INFO(r.output);
  REQUIRE(r.exit_code == expect_exit);
  return json::parse(r.output.substr(r.output.find('{')));
}

}  // namespace

TEST_CASE("an untouched recording of a real SSH session verifies as intact, by CLI and API", "[sealing][ssh]") {
  auto& w = sealWorld();
  const auto id = w.session(w.plain_account, uniq("intact"));
  auto r = w.verify(id);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.output, "INTACT"));
  const auto j = verifyJson(id, 0);
  CHECK(j["status"] == "intact");
  CHECK(j["signature_valid"] == true);
  CHECK(j["chunk_count"].get<int>() >= 3);  // header + several flushes
  CHECK(j["chunks_verified"] == j["chunk_count"]);
  CHECK(fs::exists(w.file(id) + ".manifest"));
  CHECK(fs::exists(w.file(id) + ".chunks"));

  auto api = w.env().admin().get("/api/v1/sessions/" + id + "/verify");
  INFO(api.body);
  REQUIRE(api.status == 200);
  CHECK(api.json()["status"] == "intact");
  CHECK_FALSE(w.env().audit("", "recording_verify").empty());
  // The manifest and its signature are in the database, signed by the node's public key.
  const std::string pub = api_test::readFile(w.env().server().dataDir() + "/recording-signing.key.pub");
  CHECK(contains(w.env().psql("SELECT public_key FROM recording_seals WHERE session_id = '" + id + "'"),
                 pub.substr(0, 43)));
  struct stat st {};
  REQUIRE(::stat((w.env().server().dataDir() + "/recording-signing.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("one flipped byte in a recording is reported as modified, naming the chunk and its offset", "[sealing][ssh]") {
  auto& w = sealWorld();
  const auto id = w.session(w.plain_account, uniq("flip"));
  auto chunks = w.chunks(id);
  REQUIRE(chunks.size() >= 3);
  const auto [off, len] = chunks[2];
  flipByte(w.file(id), off + len / 2);
  auto r = w.verify(id);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "MODIFIED"));
  CHECK(contains(r.output, "chunk 2 at byte offset " + std::to_string(off)));
  const auto j = verifyJson(id, 1);
  CHECK(j["bad_chunk"] == 2);
  CHECK(j["bad_offset"] == off);
  auto api = w.env().admin().get("/api/v1/sessions/" + id + "/verify");
  REQUIRE(api.status == 200);
  CHECK(api.json()["status"] == "modified");
}

TEST_CASE("a recording whose last chunk was cut off is reported as truncated", "[sealing][ssh]") {
  auto& w = sealWorld();
  const auto id = w.session(w.plain_account, uniq("trunc"));
  auto chunks = w.chunks(id);
  REQUIRE(chunks.size() >= 2);
  fs::resize_file(w.file(id), chunks.back().first);
  auto r = w.verify(id);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "TRUNCATED"));
  CHECK(contains(r.output, "the manifest says " + std::to_string(chunks.size()) + " chunks, the file holds " +
                               std::to_string(chunks.size() - 1)));
  CHECK(verifyJson(id, 1)["bad_chunk"] == chunks.size() - 1);
}

TEST_CASE("a recording never sealed (the proxy died) verifies its chained prefix as unsealed", "[sealing][ssh]") {
  auto& w = sealWorld();
  const auto id = w.session(w.plain_account, uniq("unsealed"));
  w.env().psql("DELETE FROM recording_seals WHERE session_id = '" + id + "'");
  auto r = w.verify(id);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "UNSEALED"));
  CHECK(contains(r.output, "chunks verify against their hash chain"));
  // A modified chunk in the unsealed prefix is still named.
  const auto file = w.file(id);
  std::ifstream idx(file + ".chunks");
  std::uint64_t n, off, len;
  std::string h;
  REQUIRE(idx >> n >> off >> len >> h);
  REQUIRE(idx >> n >> off >> len >> h);  // chunk 1
  flipByte(file, off + 1);
  const auto j = verifyJson(id, 1);
  CHECK(j["status"] == "modified");
  CHECK(j["bad_chunk"] == 1);
}

TEST_CASE("an encrypted safe's recording holds no plaintext on disk and still plays for an authorized viewer",
          "[sealing][ssh][encryption]") {
  auto& w = sealWorld();
  const std::string marker = uniq("SECRETMARK");
  const auto id = w.session(w.enc_account, marker);
  const auto file = w.file(id);
  const std::string bytes = slurp(file);
  REQUIRE(bytes.size() > 100);
  CHECK(bytes.find(marker) == std::string::npos);
  CHECK(bytes.rfind("VIGIL-ENC v1 ", 0) == 0);
  auto grep = vigil::test::runCommand("grep -c " + marker + " " + file);
  CHECK(grep.exit_code == 1);  // grep finds nothing

  // The player's playback API decrypts on the fly.
  auto index = w.env().admin().get("/api/v1/sessions/" + id + "/playback/index");
  INFO(index.body.substr(0, 400));
  REQUIRE(index.status == 200);
  CHECK(index.json()["damaged"].is_null());
  const std::int64_t dur = index.json()["duration_ms"];
  auto pb = w.env().admin().get("/api/v1/sessions/" + id + "/playback?from_ms=0&to_ms=" + std::to_string(dur + 1000));
  REQUIRE(pb.status == 200);
  CHECK(contains(pb.body, "line5-" + marker));

  // So do `vigil recordings export` and the verifier (which needs no key).
  auto ex = w.env().server().cli("recordings export " + id + " --format asciicast");
  INFO(ex.output.substr(0, 400));
  CHECK(ex.exit_code == 0);
  CHECK(contains(ex.output, "line3-" + marker));
  const auto j = verifyJson(id, 0);
  CHECK(j["status"] == "intact");
  CHECK(j["encrypted"] == true);

  // A flipped ciphertext byte: the verifier names the chunk, playback reports damage.
  auto chunks = w.chunks(id);
  REQUIRE(chunks.size() >= 3);
  flipByte(file, chunks[1].first + chunks[1].second - 2);
  CHECK(verifyJson(id, 1)["bad_chunk"] == 1);
}

TEST_CASE("verify refuses bad input clearly and the server keeps serving", "[sealing][cli]") {
  auto& w = sealWorld();
  auto r = w.verify("not-a-uuid");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "must be a UUID"));
  r = w.verify("01890000-0000-7000-8000-000000000000");
  CHECK(r.exit_code == 3);
  r = w.verify("");
  CHECK(r.exit_code == 2);
  auto api = w.env().admin().get("/api/v1/sessions/01890000-0000-7000-8000-000000000000/verify");
  CHECK(api.status == 404);
  // A session member who may connect but not view recordings gets nothing.
  auto u = w.env().makeUser({"soc"});
  auto id = w.env().psql("SELECT id FROM sessions WHERE recording_path <> '' ORDER BY started_at DESC LIMIT 1");
  CHECK(u.http().get("/api/v1/sessions/" + id + "/verify").status >= 403);
  CHECK(w.env().admin().get("/api/v1/safes").status == 200);
}

TEST_CASE("the audit log is a hash chain: concurrent inserts stay chained, an edited or deleted row is named",
          "[sealing][audit]") {
  auto& w = sealWorld();
  auto& env = w.env();
  // Concurrent writers (the server itself keeps auditing meanwhile).
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&env, t] {
      for (int i = 0; i < 5; ++i)
        vigil::test::runCommand("PGPASSWORD='" + env.pgPassword() + "' runuser -u postgres -- " + api_test::kPgBin +
                                "/psql -X -q -h " + env.server().dataDir() +
                                "/pg/run -p 5432 -U vigil -d vigil -c \"INSERT INTO audit_log(action, outcome) VALUES "
                                "('chain_test_" + std::to_string(t) + "', 'ok')\"");
    });
  for (auto& th : writers) th.join();
  auto r = w.verify("--audit");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "INTACT"));

  const std::string edited = env.psql("SELECT id FROM audit_log WHERE action = 'chain_test_1' ORDER BY id LIMIT 1");
  env.psql("UPDATE audit_log SET actor = 'mallory' WHERE id = " + edited);
  r = w.verify("--audit");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "audit row " + edited + " (chain position"));
  CHECK(contains(r.output, "edited"));
  env.psql("UPDATE audit_log SET actor = '' WHERE id = " + edited);
  CHECK(w.verify("--audit").exit_code == 0);

  const std::string seq = env.psql("SELECT chain_seq FROM audit_log WHERE action = 'chain_test_2' ORDER BY chain_seq LIMIT 1");
  const std::string deleted = env.psql("SELECT id FROM audit_log WHERE chain_seq = " + seq);
  const std::string after = env.psql("SELECT id FROM audit_log WHERE chain_seq = " + seq + " + 1");
  env.psql("DELETE FROM audit_log WHERE id = " + deleted);
  r = w.verify("--audit --json");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  const auto j = json::parse(r.output.substr(r.output.find('{')));
  CHECK(j["status"] == "modified");
  REQUIRE(j["problems"].size() >= 1);
  CHECK(j["problems"][0]["kind"] == "deleted");
  CHECK(std::to_string(j["problems"][0]["id"].get<std::int64_t>()) == after);
  CHECK(contains(j["problems"][0]["detail"].get<std::string>(), "chain positions " + seq));
}

namespace {
std::string todayUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[16];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}
vigil::test::CommandResult verifyBundle(const std::string& dir, const std::string& extra = "") {
  auto& w = sealWorld();
  return vigil::test::runCommand("python3 " + dir + "/verify.py " + dir + " --public-key " +
                                 w.env().server().dataDir() + "/recording-signing.key.pub " + extra + " 2>&1");
}
}  // namespace

TEST_CASE("an evidence bundle verifies offline, and the offline verifier finds each kind of tampering",
          "[sealing][evidence][ssh]") {
  auto& w = sealWorld();
  // A safe of its own: the other cases tamper with their recordings on purpose.
  const std::int64_t safe = w.makeSafe(true);
  const std::int64_t account = w.makeAccount(safe, w.makeTarget(uniq("evidence")));
  const std::string a = w.session(account, "ev-one"), b = w.session(account, "ev-two");
  const std::string out = w.tmp() + "/bundle-" + api_test::randomHex(4);
  auto ex = w.env().server().cli("evidence export --from " + todayUtc() + " --to " + todayUtc() + " --safe " + S(safe) +
                                 " --out " + out + " --json");
  INFO(ex.output);
  REQUIRE(ex.exit_code == 0);
  const json sum = json::parse(ex.output.substr(ex.output.find('{')));
  CHECK(sum["sessions"] == 2);
  CHECK(sum["sealed"] == 2);
  CHECK(contains(ex.output, "[2/2] session"));  // progress
  // The report lists both sessions; the recordings are there as stored (encrypted: no plaintext).
  const std::string csv = slurp(out + "/report.csv");
  CHECK(contains(csv, a));
  CHECK(contains(csv, b));
  const std::string rec_a = out + "/sessions/" + a + "/recording.cast.zst";
  REQUIRE(fs::exists(rec_a));
  CHECK(slurp(rec_a) == slurp(w.file(a)));
  CHECK_FALSE(contains(slurp(rec_a), "ev-one"));

  auto ok = verifyBundle(out);
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.output, "INTACT: session " + a));
  CHECK(contains(ok.output, "INTACT: session " + b));
  CHECK(contains(ok.output, "bundle index valid"));

  // One flipped byte in chunk 1 of a: modified, chunk 1 named; the signed index notices it too.
  std::istringstream idx(slurp(out + "/sessions/" + a + "/chunks.txt"));
  std::uint64_t n, off, len;
  std::string h;
  REQUIRE(idx >> n >> off >> len >> h);
  REQUIRE(idx >> n >> off >> len >> h);  // chunk 1
  flipByte(rec_a, off + 1);
  auto flipped = verifyBundle(out);
  INFO(flipped.output);
  CHECK(flipped.exit_code == 1);
  CHECK(contains(flipped.output, "MODIFIED: session " + a + ": chunk 1 (byte offset " + std::to_string(off) + ")"));
  CHECK(contains(flipped.output, "recording.cast.zst: its SHA-256 differs"));
  CHECK(contains(flipped.output, "INTACT: session " + b));
  flipByte(rec_a, off + 1);  // back as it was
  REQUIRE(verifyBundle(out).exit_code == 0);

  // b's last chunk cut off: truncated.
  const std::string rec_b = out + "/sessions/" + b + "/recording.cast.zst";
  const std::string whole_b = slurp(rec_b);
  std::uint64_t last_off = 0;
  std::istringstream idx_b(slurp(out + "/sessions/" + b + "/chunks.txt"));
  while (idx_b >> n >> off >> len >> h) last_off = off;
  fs::resize_file(rec_b, last_off);
  auto cut = verifyBundle(out);
  INFO(cut.output);
  CHECK(cut.exit_code == 1);
  CHECK(contains(cut.output, "TRUNCATED: session " + b));
  { std::ofstream(rec_b, std::ios::binary | std::ios::trunc) << whole_b; }

  // The report edited after export: the signed bundle index says which file.
  const std::string csv_path = out + "/report.csv";
  { std::ofstream(csv_path, std::ios::binary | std::ios::app) << "forged,row\r\n"; }
  auto forged = verifyBundle(out);
  INFO(forged.output);
  CHECK(forged.exit_code == 1);
  CHECK(contains(forged.output, "BUNDLE: report.csv: its SHA-256 differs"));
  { std::ofstream(csv_path, std::ios::binary | std::ios::trunc) << csv; }

  // A manifest edited (e.g. to match a doctored recording): its signature fails.
  const std::string man = out + "/sessions/" + a + "/manifest.txt";
  const std::string manifest = slurp(man);
  std::string doctored = manifest;
  doctored.replace(doctored.find("\"chunk_count\":"), 14, "\"chunk_count\": ");
  { std::ofstream(man, std::ios::binary | std::ios::trunc) << doctored; }
  auto edited = verifyBundle(out);
  INFO(edited.output);
  CHECK(edited.exit_code == 1);
  CHECK(contains(edited.output, "MODIFIED: session " + a + ": the manifest's signature is not valid"));
  { std::ofstream(man, std::ios::binary | std::ios::trunc) << manifest; }

  // Checked against a key the auditor does not trust: refused.
  auto other = vigil::test::runCommand("python3 " + out + "/verify.py " + out +
                                       " --public-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= 2>&1");
  INFO(other.output);
  CHECK(other.exit_code == 1);
  CHECK(contains(other.output, "not a key you trust"));
  CHECK(verifyBundle(out).exit_code == 0);

  // Bad input: a non-empty directory, a malformed date; the export is audited.
  auto again = w.env().server().cli("evidence export --from " + todayUtc() + " --to " + todayUtc() + " --out " + out);
  CHECK(again.exit_code == 1);
  CHECK(contains(again.output, "not empty"));
  auto bad = w.env().server().cli("evidence export --from yesterday --to " + todayUtc() + " --out " + out + "-x");
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.output, "YYYY-MM-DD"));
  CHECK_FALSE(fs::exists(out + "-x"));
  CHECK(w.env().psql("SELECT count(*) FROM audit_log WHERE action = 'evidence_export' AND outcome = 'ok'") != "0");

  // A recording taken out of the bundle is noticed; so is one gone from the server before export.
  fs::remove(rec_a);
  auto removed = verifyBundle(out);
  INFO(removed.output);
  CHECK(removed.exit_code == 1);
  CHECK(contains(removed.output, "MODIFIED: session " + a + ": the recording listed by the bundle was removed"));
  fs::remove(w.file(b));
  const std::string out2 = out + "-2";
  auto ex2 = w.env().server().cli("evidence export --from " + todayUtc() + " --to " + todayUtc() + " --safe " + S(safe) +
                                  " --out " + out2 + " --json");
  INFO(ex2.output);
  REQUIRE(ex2.exit_code == 0);
  CHECK(json::parse(ex2.output.substr(ex2.output.find('{')))["missing"] == 1);
  auto gone = verifyBundle(out2);
  INFO(gone.output);
  CHECK(gone.exit_code == 1);
  CHECK(contains(gone.output, "MISSING: session " + b));
  CHECK(contains(gone.output, "INTACT: session " + a));
}

TEST_CASE("encrypted recordings still play after `vigil vault rekey` retired the master key they were made under",
          "[sealing][ssh][encryption][rekey]") {
  auto& w = sealWorld();
  const std::string marker = uniq("REKEYMARK");
  const auto id = w.session(w.enc_account, marker);
  const std::string key_before = w.env().psql("SELECT key_id FROM recording_keys WHERE session_id = '" + id + "'");
  REQUIRE_FALSE(key_before.empty());
  const std::string file_before = slurp(w.file(id));

  auto rekey = w.env().server().cli("vault rekey");
  INFO(rekey.output);
  REQUIRE(rekey.exit_code == 0);
  const std::string key_after = w.env().psql("SELECT key_id FROM recording_keys WHERE session_id = '" + id + "'");
  CHECK(key_after != key_before);  // re-wrapped with the new master key
  CHECK(w.env().psql("SELECT count(*) FROM vault_keys WHERE key_id = '" + key_before + "' AND retired_at IS NULL") == "0");
  CHECK(slurp(w.file(id)) == file_before);  // the file (and so its seal) is untouched

  // The running server and the CLI both still decrypt it; the seal still verifies.
  auto index = w.env().admin().get("/api/v1/sessions/" + id + "/playback/index");
  REQUIRE(index.status == 200);
  const std::int64_t dur = index.json()["duration_ms"];
  auto pb = w.env().admin().get("/api/v1/sessions/" + id + "/playback?from_ms=0&to_ms=" + std::to_string(dur + 1000));
  INFO(pb.body.substr(0, 300));
  REQUIRE(pb.status == 200);
  CHECK(contains(pb.body, "line5-" + marker));
  auto ex = w.env().server().cli("recordings export " + id + " --format asciicast");
  CHECK(ex.exit_code == 0);
  CHECK(contains(ex.output, "line2-" + marker));
  CHECK(verifyJson(id, 0)["status"] == "intact");
  // A recording made after the rekey is wrapped with the new key from the start.
  const auto later = w.session(w.enc_account, marker + "b");
  CHECK(w.env().psql("SELECT key_id FROM recording_keys WHERE session_id = '" + later + "'") == key_after);
}
