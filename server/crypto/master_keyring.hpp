#pragma once
// The master keyring: a file outside the database (mode 0600) holding one or more 256-bit
// master keys, each with a short id; the last one is current. Format, one key per line:
//   vigil-master-key v1 <id> <base64 key>
// `vault rekey` appends a new key, re-wraps every data key, then drops the old ones.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/crypto/secure_bytes.hpp"

namespace vigil::crypto {

class MasterKeyring {
 public:
  /// Loads the keyring file; throws std::runtime_error naming the file and the reason
  /// (missing, unreadable, permissions wider than 0600, malformed line).
  static MasterKeyring load(const std::filesystem::path& file);
  /// Creates a new keyring file with one fresh random key (mode 0600, atomic rename).
  /// Throws if the file already exists.
  static MasterKeyring create(const std::filesystem::path& file);

  MasterKeyring(const MasterKeyring&) = delete;
  MasterKeyring(MasterKeyring&& other) noexcept;
  MasterKeyring& operator=(MasterKeyring&&) noexcept;

  /// Id of the key new data keys are wrapped with. Thread-safe.
  std::string currentId() const;
  /// The key with this id, or nullptr. Re-reads the file once if the id is unknown (a rekey
  /// by another process added it). Thread-safe. The pointer stays valid until this keyring is
  /// destroyed or retireOldKeys() drops that id: re-reading only ever adds keys. A broken file
  /// on re-read counts as "unknown id" here (nullptr); refreshIfChanged() reports it.
  const SecureBytes* key(const std::string& id) const;
  /// Re-reads the file if it changed on disk (cheap stat). Thread-safe. Throws like load() if
  /// the new file is broken; the keys already loaded stay in use.
  void refreshIfChanged() const;
  /// Appends a new random key and makes it current; returns its id. Thread-safe.
  std::string addKey();
  /// Rewrites the file keeping only the current key. Thread-safe. Throws if another process
  /// made a newer key current meanwhile (dropping the others could lose its data keys).
  void retireOldKeys();
  const std::filesystem::path& path() const { return path_; }

 private:
  MasterKeyring() = default;
  // Merges the file's keys into keys_ (never erasing, so key() pointers stay valid).
  void readFileLocked() const;
  void rememberFileStateLocked() const;

  std::filesystem::path path_;
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  mutable std::map<std::string, SecureBytes> keys_;
  mutable std::string current_;
  mutable std::filesystem::file_time_type mtime_{};
  mutable std::uintmax_t inode_ = 0;  // atomic rewrites rename a new inode in: catches same-tick writes
};

}  // namespace vigil::crypto
