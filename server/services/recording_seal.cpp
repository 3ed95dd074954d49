#include "server/services/recording_seal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>

#include "server/crypto/random.hpp"

namespace vigil::services {
namespace {

using json = nlohmann::json;

std::mutex g_mu;
std::shared_ptr<RecordingSealing> g_current;

std::string owner(const std::string& session_id) { return "recording:" + session_id; }

/// <file>.chunks, created empty; null with `error` set when it cannot be.
std::shared_ptr<recorder::ChunkChain> createChain(const std::string& file, std::string& error) {
  std::error_code ec;
  std::shared_ptr<recorder::ChunkChain> chain = recorder::ChunkChain::create(file, ec);
  if (!chain) error = "cannot create the chunk index: " + ec.message();
  return chain;
}

/// The writer's hook: each run of bytes that reached the file goes into the chain.
std::function<std::error_code(std::uint64_t, std::string_view)> chainHook(std::shared_ptr<recorder::ChunkChain> chain) {
  return [chain = std::move(chain)](std::uint64_t offset, std::string_view bytes) { return chain->add(offset, bytes); };
}

std::string utcNow() {
  char b[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string utc(std::chrono::system_clock::time_point tp) {
  char b[32];
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

void writeFile0600(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string_view s = text;
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) break;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  ::fdatasync(fd);
  ::close(fd);
}

}  // namespace

std::filesystem::path recordingSigningKeyPath(const std::filesystem::path& data_dir) {
  return data_dir / "recording-signing.key";
}

void installRecordingKeys(const Vault& vault, store::Store& store) {
  recorder::setDataKeyUnwrapper([&vault, &store](const recorder::WrappedDataKey& k) -> std::optional<crypto::SecureBytes> {
    try {
      crypto::Envelope env;
      if (auto current = store.recordingKey(k.session_id)) {
        env = std::move(*current);  // re-wrapped by every `vault rekey`
      } else {
        env.master_key_id = k.master_key_id;
        env.wrapped_key = crypto::base64Decode(k.wrapped_key_b64);
        env.ciphertext = crypto::base64Decode(k.sealed_key_b64);
      }
      // The owner binds the envelope to this session: a key row of another recording fails here.
      auto key = vault.unseal(env, owner(k.session_id));
      if (!key || key->size() != 32) return std::nullopt;
      return crypto::SecureBytes(key->begin(), key->end());
    } catch (const std::exception&) {
      return std::nullopt;  // malformed preamble: the reader reports the file as unreadable
    }
  });
}

RecordingSealing::RecordingSealing(std::unique_ptr<crypto::Ed25519Signer> signer, const Vault* vault,
                                   store::Store* store)
    : signer_(std::move(signer)), vault_(vault), store_(store) {}

void RecordingSealing::install(std::shared_ptr<RecordingSealing> s) {
  std::lock_guard lock(g_mu);
  g_current = std::move(s);
}

std::shared_ptr<RecordingSealing> RecordingSealing::current() {
  std::lock_guard lock(g_mu);
  return g_current;
}

std::shared_ptr<RecordingSealing::Writer> RecordingSealing::newWriter(const std::string& session_id,
                                                                      const std::string& file, bool encrypt,
                                                                      std::string& error) const {
  auto w = std::make_shared<Writer>();
  w->session_id = session_id;
  w->file = file;
  w->encrypted = encrypt;
  if (encrypt) {
    if (!vault_) {
      error = "no vault to wrap the recording key";
      return nullptr;
    }
    crypto::SecureBytes key = crypto::randomSecureBytes(32);
    const crypto::Envelope env =
        vault_->seal(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), owner(session_id));
    if (store_) {
      try {
        store_->insertRecordingKey(session_id, env);
      } catch (const std::exception& e) {
        error = std::string("cannot store the recording key: ") + e.what();
        return nullptr;
      }
    }
    recorder::WrappedDataKey wk{session_id, env.master_key_id,
                                crypto::base64Encode(env.wrapped_key.data(), env.wrapped_key.size()),
                                crypto::base64Encode(env.ciphertext.data(), env.ciphertext.size())};
    w->cipher = std::make_shared<recorder::ChunkCipher>(std::move(key), std::move(wk));
  }
  w->chain = createChain(file, error);
  if (!w->chain) return nullptr;
  return w;
}

namespace {

/// Hooks the writer's cipher (when encrypting) and chain into a recording writer's options.
template <class Options>
std::shared_ptr<RecordingSealing::Writer> hookInto(std::shared_ptr<RecordingSealing::Writer> w, Options& o) {
  if (!w) return nullptr;
  if (w->cipher) o.seal_chunk = [cipher = w->cipher](std::string& chunk) { cipher->seal(chunk); };
  o.chunk_written = chainHook(w->chain);
  return w;
}

}  // namespace

std::shared_ptr<RecordingSealing::Writer> RecordingSealing::attach(const std::string& session_id,
                                                                   const std::string& file, bool encrypt,
                                                                   recorder::AsciicastOptions& o,
                                                                   std::string& error) const {
  return hookInto(newWriter(session_id, file, encrypt, error), o);
}

std::shared_ptr<RecordingSealing::Writer> RecordingSealing::attachVideo(const std::string& session_id,
                                                                        const std::string& file, bool encrypt,
                                                                        recorder::VideoOptions& o,
                                                                        std::string& error) const {
  return hookInto(newWriter(session_id, file, encrypt, error), o);
}

std::pair<std::string, std::string> signManifest(const crypto::Ed25519Signer& signer, const json& manifest) {
  std::string text = manifest.dump(-1, ' ', false, json::error_handler_t::replace);
  const crypto::Bytes sig = signer.sign(text);
  return {std::move(text), crypto::base64Encode(sig.data(), sig.size())};
}

store::RecordingSeal RecordingSealing::seal(store::Store& store, Writer& w, const json& metadata) const {
  (void)w.chain->sync();
  const auto entries = w.chain->entries();
  json m = metadata;
  m["version"] = 1;
  m["session_id"] = w.session_id;
  m["chunk_count"] = entries.size();
  m["final_hash"] = recorder::chainHex(w.chain->last());
  m["file_size"] = w.chain->fileSize();
  m["encrypted"] = w.encrypted;
  m["recording_started_at"] = utc(w.started);
  m["sealed_at"] = utcNow();
  m["hash"] = "sha256-chain";
  m["signature_algorithm"] = "ed25519";
  m["public_key"] = signer_->publicKeyBase64();
  auto [text, sig] = signManifest(*signer_, m);

  store::RecordingSeal s;
  s.session_id = w.session_id;
  s.manifest = text;
  s.signature = sig;
  s.public_key = signer_->publicKeyBase64();
  for (const auto& e : entries) s.chunk_index += recorder::formatChunkEntry(e);
  s.chunk_count = static_cast<std::int64_t>(entries.size());
  s.final_hash = m["final_hash"].get<std::string>();
  s.file_size = static_cast<std::int64_t>(w.chain->fileSize());
  s.encrypted = w.encrypted;
  // Beside the file too, so an exported recording carries its evidence.
  writeFile0600(w.file + ".manifest", json{{"manifest", text}, {"signature", sig}}.dump(2) + "\n");
  store.saveRecordingSeal(s);
  return s;
}

json VerifyReport::toJson() const {
  json j{{"session_id", session_id},     {"status", status},
         {"message", message},           {"chunks_verified", chunks_verified},
         {"file_size", file_size},       {"encrypted", encrypted},
         {"signature_valid", signature_valid}};
  j["chunk_count"] = chunk_count ? json(*chunk_count) : json(nullptr);
  j["bad_chunk"] = bad_chunk ? json(*bad_chunk) : json(nullptr);
  j["bad_offset"] = bad_chunk ? json(bad_offset) : json(nullptr);
  j["sealed_at"] = sealed_at.empty() ? json(nullptr) : json(sealed_at);
  return j;
}

int VerifyReport::exitCode() const {
  if (status == "intact") return 0;
  if (status == "modified" || status == "truncated") return 1;
  return 2;
}

VerifyReport verifyRecording(store::Store& store, const std::filesystem::path& recordings_dir,
                             const store::SessionRecord& s, const std::string& public_key) {
  VerifyReport r;
  r.session_id = s.id;
  if (s.recording_path.empty() || s.recording_path.find("..") != std::string::npos) {
    r.status = "no_recording";
    r.message = "the session has no recording";
    return r;
  }
  const std::string file = (recordings_dir / s.recording_path).string();
  auto applyChain = [&](const recorder::ChainCheck& c) {
    r.chunks_verified = c.chunks_ok;
    r.file_size = c.file_size;
    if (c.bad_chunk) {
      r.bad_chunk = c.bad_chunk;
      r.bad_offset = c.bad_offset;
    }
  };
  auto seal = store.recordingSeal(s.id);
  if (!seal) {
    // Still running, or the process died before sealing: verify the prefix the sidecar lists.
    r.status = "unsealed";
    r.encrypted = recorder::isEncryptedRecording(file);
    std::error_code ec;
    auto entries = recorder::readChunkIndex(recorder::chunkIndexPath(file), ec);
    if (ec && entries.empty()) {
      r.message = std::string(s.ended_at.empty() ? "the session is still running" : "the recording was never sealed") +
                  "; it has no chunk index (" + ec.message() + ")";
      return r;
    }
    auto c = recorder::checkChain(file, entries, ec);
    if (ec) {
      r.message = "cannot read the recording: " + ec.message();
      return r;
    }
    applyChain(c);
    if (c.status == recorder::ChainCheck::Status::Modified) {
      r.status = "modified";
      r.message = "chunk " + std::to_string(*c.bad_chunk) + " at byte offset " + std::to_string(c.bad_offset) +
                  " was modified (" + c.detail + ")";
    } else if (c.status == recorder::ChainCheck::Status::Truncated) {
      r.status = "truncated";
      r.message = "the chunk index lists " + std::to_string(entries.size()) + " chunks, the file holds " +
                  std::to_string(c.chunks_ok) + " whole (" + c.detail + ")";
    } else {
      r.message = std::string(s.ended_at.empty() ? "the session is still running" : "the recording was never sealed (the proxy stopped)") +
                  "; the first " + std::to_string(c.chunks_ok) + " chunks verify against their hash chain" +
                  (c.extra_bytes ? " (" + std::to_string(c.extra_bytes) + " bytes after them are not yet chained)" : "");
    }
    return r;
  }

  r.encrypted = seal->encrypted;
  r.sealed_at = seal->sealed_at;
  crypto::Bytes sig;
  try {
    sig = crypto::base64Decode(seal->signature);
  } catch (const std::exception&) {
  }
  r.signature_valid = crypto::ed25519Verify(public_key, seal->manifest, sig);
  json m = json::parse(seal->manifest, nullptr, false);
  if (!r.signature_valid || !m.is_object() || m.value("session_id", "") != s.id) {
    r.status = "modified";
    r.message = !r.signature_valid ? "the manifest's signature does not verify with the recording signing key"
                                   : "the manifest belongs to another session";
    return r;
  }
  const std::uint64_t count = m.value("chunk_count", std::uint64_t{0});
  const std::uint64_t size = m.value("file_size", std::uint64_t{0});
  const std::string final_hash = m.value("final_hash", "");
  r.chunk_count = count;
  std::error_code ec;
  auto entries = recorder::parseChunkIndex(seal->chunk_index, ec);
  if (ec || entries.size() != count || (count && entries.back().hash != final_hash)) {
    r.status = "modified";
    r.message = "the stored chunk index does not match the signed manifest";
    return r;
  }
  auto c = recorder::checkChain(file, entries, ec);
  if (ec) {
    r.status = ec == std::errc::no_such_file_or_directory ? "truncated" : "modified";
    r.message = "cannot read the recording file: " + ec.message();
    if (ec == std::errc::no_such_file_or_directory) r.bad_chunk = 0;
    return r;
  }
  applyChain(c);
  switch (c.status) {
    case recorder::ChainCheck::Status::Modified:
      r.status = "modified";
      r.message = "chunk " + std::to_string(*c.bad_chunk) + " at byte offset " + std::to_string(c.bad_offset) +
                  " was modified";
      return r;
    case recorder::ChainCheck::Status::Truncated:
      r.status = "truncated";
      r.message = "the manifest says " + std::to_string(count) + " chunks, the file holds " + std::to_string(c.chunks_ok) +
                  " (first missing: chunk " + std::to_string(*c.bad_chunk) + " at byte offset " +
                  std::to_string(c.bad_offset) + ")";
      return r;
    case recorder::ChainCheck::Status::Intact:
      break;
  }
  if (c.extra_bytes || c.file_size != size) {
    r.status = "modified";
    r.bad_chunk = count;
    r.bad_offset = c.file_size - c.extra_bytes;
    r.message = std::to_string(c.extra_bytes) + " bytes were appended after the last sealed chunk";
    return r;
  }
  r.status = "intact";
  r.message = "all " + std::to_string(count) + " chunks verify; the manifest signature is valid";
  return r;
}

}  // namespace vigil::services
