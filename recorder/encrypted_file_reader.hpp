#pragma once
// Reading an encrypted recording (recorder/recording_cipher's layout): the preamble's data key
// unwrapped through the process's DataKeyUnwrapper, the records indexed once, and the plaintext
// read in order (terminal recordings) or by byte range (the player seeks an encrypted video).
// Every record read is authenticated (AES-256-GCM, its index bound in the associated data); a
// record cut short at the end (the writer was killed) ends the plaintext at the last whole one.
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "recorder/recording_cipher.hpp"

namespace vigil::recorder {

class EncryptedFileReader {
 public:
  /// Null with `ec` set: the file cannot be opened (errno), is not an encrypted recording or its
  /// record framing is broken (illegal_byte_sequence), or its key does not open here
  /// (permission_denied: no keyring in this process, or the key of another recording).
  static std::unique_ptr<EncryptedFileReader> open(const std::string& path, std::error_code& ec);
  ~EncryptedFileReader();
  EncryptedFileReader(const EncryptedFileReader&) = delete;
  EncryptedFileReader& operator=(const EncryptedFileReader&) = delete;

  /// Plaintext bytes in the whole records.
  std::uint64_t size() const { return size_; }
  std::size_t records() const { return records_.size(); }
  /// The file ended inside a record (a crash while writing).
  bool truncated() const { return torn_; }
  /// Record `i`'s plaintext; illegal_byte_sequence when it does not authenticate.
  std::error_code record(std::size_t i, std::string& out) const;
  /// Up to `length` plaintext bytes from `offset` (fewer at the end) appended to `out`.
  std::error_code read(std::uint64_t offset, std::size_t length, std::string& out) const;

 private:
  struct Record {
    std::uint64_t file_offset;   // of the record's 4-byte length
    std::uint32_t length;        // nonce | ciphertext | tag
    std::uint64_t plain_offset;  // of its first plaintext byte
  };
  EncryptedFileReader() = default;
  /// Record `i` decrypted into the one-record cache; null with `ec` set on failure.
  const std::string* decrypted(std::size_t i, std::error_code& ec) const;

  int fd_ = -1;
  WrappedDataKey wrapped_;
  crypto::SecureBytes key_;
  std::vector<Record> records_;
  std::uint64_t size_ = 0;
  bool torn_ = false;
  // The last record decrypted: the player asks for neighbouring ranges.
  mutable std::size_t cached_ = static_cast<std::size_t>(-1);
  mutable std::string cache_;
};

}  // namespace vigil::recorder
