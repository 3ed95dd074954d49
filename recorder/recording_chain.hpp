#pragma once
// Tamper evidence for recordings: every chunk of bytes the writer puts in the file (one flush,
// about a second of session) is hash-chained, h_i = SHA-256(h_{i-1} || chunk_i) with h_{-1} =
// 32 zero bytes, and appended to a sidecar index <recording>.chunks as it is written, one line
// per chunk: "<index> <offset> <length> <hex hash>\n". A SIGKILL leaves a verifiable prefix; the
// signed manifest written at the end (server/services/recording_seal) pins the final hash.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace vigil::recorder {

using ChainHash = std::array<std::uint8_t, 32>;

/// h_{-1}: all zeros.
inline ChainHash chainStart() { return ChainHash{}; }
/// SHA-256(prev || chunk).
ChainHash chainNext(const ChainHash& prev, std::string_view chunk);
std::string chainHex(const ChainHash& h);

struct ChunkEntry {
  std::uint64_t index = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string hash;  // hex, h_index
};

inline std::string chunkIndexPath(const std::string& recording) { return recording + ".chunks"; }
std::string formatChunkEntry(const ChunkEntry& e);
/// Parses index lines; a torn last line (a crash mid-write) is ignored. Sets ec when the file
/// cannot be read or a complete line is malformed.
std::vector<ChunkEntry> parseChunkIndex(std::string_view text, std::error_code& ec);
std::vector<ChunkEntry> readChunkIndex(const std::string& path, std::error_code& ec);

/// The writer side: keeps the chain and appends each chunk's line to the sidecar index.
/// add() runs on the recording's writer thread; the accessors from any thread.
class ChunkChain {
 public:
  /// Creates <recording>.chunks (O_EXCL, 0600).
  static std::unique_ptr<ChunkChain> create(const std::string& recording, std::error_code& ec);
  ~ChunkChain();
  /// Hashes a chunk just written at `offset` and appends its index line.
  std::error_code add(std::uint64_t offset, std::string_view bytes);
  std::error_code sync();

  std::uint64_t count() const;
  std::uint64_t fileSize() const;
  ChainHash last() const;
  std::vector<ChunkEntry> entries() const;

 private:
  explicit ChunkChain(int fd) : fd_(fd) {}
  int fd_;
  mutable std::mutex mu_;
  ChainHash last_ = chainStart();
  std::uint64_t size_ = 0;
  std::vector<ChunkEntry> entries_;
};

/// Verification of a recording file against a list of chunk entries (trusted: from the database
/// for a sealed recording, else the sidecar). Needs no key: the chain covers the bytes on disk.
struct ChainCheck {
  enum class Status { Intact, Modified, Truncated };
  Status status = Status::Intact;
  std::uint64_t chunks_ok = 0;           // leading chunks that verified
  std::optional<std::uint64_t> bad_chunk;  // first modified or missing chunk
  std::uint64_t bad_offset = 0;
  std::uint64_t file_size = 0;
  std::uint64_t extra_bytes = 0;  // bytes after the last listed chunk (not judged here)
  ChainHash final_hash{};  // h of the last verified chunk
  std::string detail;
};
ChainCheck checkChain(const std::string& recording, const std::vector<ChunkEntry>& entries,
                      std::error_code& ec);

}  // namespace vigil::recorder
