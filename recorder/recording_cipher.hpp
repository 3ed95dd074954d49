#pragma once
// Encryption at rest for recordings: each chunk the writer flushes is sealed with AES-256-GCM
// under a per-recording data key; the data key is kept in the file's first line as a vault
// envelope (wrapped by the master key, owner "recording:<session id>"). Layout:
//   "VIGIL-ENC v1 <session id> <master key id> <base64 wrapped key> <base64 sealed data key>\n"
//   then records: 4-byte big-endian length | nonce(12) | ciphertext | tag(16)
// Record i has associated data "vigil-recording|<session id>|<i>", so records cannot be
// reordered or moved between recordings. The hash chain covers these bytes: verifying needs
// no key. Readers unwrap the key through the process's DataKeyUnwrapper (set once the vault is
// open); authorization is the caller's job, as for plaintext recordings.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::recorder {

inline constexpr std::string_view kEncryptedMagic = "VIGIL-ENC v1 ";

struct WrappedDataKey {
  std::string session_id;
  std::string master_key_id;
  std::string wrapped_key_b64;  // Envelope::wrapped_key
  std::string sealed_key_b64;   // Envelope::ciphertext (the data key)
};

std::string formatPreamble(const WrappedDataKey& k);
std::optional<WrappedDataKey> parsePreamble(std::string_view line);

/// Seals chunks in order; the first one carries the preamble.
class ChunkCipher {
 public:
  ChunkCipher(crypto::SecureBytes key, WrappedDataKey wrapped);
  /// Replaces `chunk` (plaintext) with what goes in the file. Writer thread.
  void seal(std::string& chunk);

 private:
  crypto::SecureBytes key_;
  WrappedDataKey wrapped_;
  std::uint64_t next_ = 0;
  bool preamble_done_ = false;
};

/// Opens one record; nullopt when it does not authenticate.
std::optional<std::string> openRecord(const crypto::SecureBytes& key, const std::string& session_id,
                                      std::uint64_t index, std::string_view record);
std::string recordAad(const std::string& session_id, std::uint64_t index);

using DataKeyUnwrapper = std::function<std::optional<crypto::SecureBytes>(const WrappedDataKey&)>;
/// Installed by the process once the master keyring is loaded (serve, CLI play/export).
void setDataKeyUnwrapper(DataKeyUnwrapper f);
std::optional<crypto::SecureBytes> unwrapDataKey(const WrappedDataKey& k);
/// True when the file starts with the encrypted-recording preamble.
bool isEncryptedRecording(const std::string& path);

}  // namespace vigil::recorder
