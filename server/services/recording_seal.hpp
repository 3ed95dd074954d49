#pragma once
// Sealing recordings (tamper evidence, issue 8 point 3) and encrypting them at rest (point 4).
// While a session records, every chunk the writer flushes is (optionally) encrypted and then
// hash-chained into <recording>.chunks (recorder/recording_chain). When the recording closes,
// a manifest (session metadata, chunk count, final hash, file size, times) is signed with the
// node's Ed25519 key (<data_dir>/recording-signing.key, outside the database) and stored in
// recording_seals with the chunk index, and next to the file as <recording>.manifest.
// verifyRecording() checks a recording against its seal with the public key only.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "recorder/asciicast_writer.hpp"
#include "recorder/video_writer.hpp"
#include "recorder/recording_chain.hpp"
#include "recorder/recording_cipher.hpp"
#include "server/crypto/ed25519.hpp"
#include "server/services/vault.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

/// <data_dir>/recording-signing.key
std::filesystem::path recordingSigningKeyPath(const std::filesystem::path& data_dir);

/// Lets this process's recording readers open encrypted recordings (the vault and the store must
/// outlive it). The data key's envelope is taken from recording_keys (kept current by `vault
/// rekey`), else from the file's first line (recordings made before that table).
void installRecordingKeys(const Vault& vault, store::Store& store);

class RecordingSealing {
 public:
  /// `store`: where the data keys of encrypted recordings are kept (recording_keys).
  RecordingSealing(std::unique_ptr<crypto::Ed25519Signer> signer, const Vault* vault, store::Store* store = nullptr);
  /// The process-wide instance (set by `vigil serve`); null: recordings are not sealed.
  static void install(std::shared_ptr<RecordingSealing> s);
  static std::shared_ptr<RecordingSealing> current();

  /// One recording being written.
  struct Writer {
    std::string session_id;
    std::string file;
    std::shared_ptr<recorder::ChunkChain> chain;
    std::shared_ptr<recorder::ChunkCipher> cipher;
    bool encrypted = false;
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  };
  /// Creates the chunk index (and the data key when `encrypt`) and hooks them into `o`. Null with
  /// `error` set on failure.
  std::shared_ptr<Writer> attach(const std::string& session_id, const std::string& file, bool encrypt,
                                 recorder::AsciicastOptions& o, std::string& error) const;
  /// The same for a screen video (RDP). Encrypted, the player reads it through
  /// recorder::EncryptedFileReader by plaintext byte ranges.
  std::shared_ptr<Writer> attachVideo(const std::string& session_id, const std::string& file, bool encrypt,
                                      recorder::VideoOptions& o, std::string& error) const;
  /// After the writer closed: signs the manifest, writes <file>.manifest and the database row.
  /// Throws on database errors.
  store::RecordingSeal seal(store::Store& store, Writer& w, const nlohmann::json& metadata) const;

  std::string publicKey() const { return signer_->publicKeyBase64(); }
  const crypto::Ed25519Signer& signer() const { return *signer_; }

 private:
  /// The chunk index, and the data key (stored, wrapped by the vault) when `encrypt`.
  std::shared_ptr<Writer> newWriter(const std::string& session_id, const std::string& file, bool encrypt,
                                    std::string& error) const;

  std::unique_ptr<crypto::Ed25519Signer> signer_;
  const Vault* vault_;
  store::Store* store_;
};

/// Builds the manifest text (canonical JSON) and its signature.
std::pair<std::string, std::string> signManifest(const crypto::Ed25519Signer& signer, const nlohmann::json& manifest);

struct VerifyReport {
  std::string session_id;
  // intact | modified | truncated | unsealed | no_recording
  std::string status;
  std::string message;
  std::optional<std::uint64_t> bad_chunk;
  std::uint64_t bad_offset = 0;
  std::uint64_t chunks_verified = 0;
  std::optional<std::uint64_t> chunk_count;  // from the manifest
  std::uint64_t file_size = 0;
  bool encrypted = false;
  bool signature_valid = false;
  std::string sealed_at;
  nlohmann::json toJson() const;
  /// 0 intact, 1 modified or truncated, 2 not provable (unsealed, no recording).
  int exitCode() const;
};

/// Verifies a session's recording: the signed manifest (with `public_key`, base64 raw), then the
/// chunk chain over the file on disk; without a seal, the chained prefix the sidecar lists.
VerifyReport verifyRecording(store::Store& store, const std::filesystem::path& recordings_dir,
                             const store::SessionRecord& s, const std::string& public_key);

}  // namespace vigil::services
