#include "recorder/encrypted_file_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "recorder/wipe.hpp"

namespace vigil::recorder {
namespace {

constexpr std::uint32_t kSealOverhead = 12 + 16;   // nonce and tag around each record's ciphertext
constexpr std::uint32_t kMaxRecord = 64u << 20;    // larger than any writer flush
constexpr std::size_t kMaxPreamble = 4096;

// Reads exactly n bytes at `at`; false at the end of the file or on an error.
bool preadFull(int fd, char* p, std::size_t n, std::uint64_t at) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

std::unique_ptr<EncryptedFileReader> EncryptedFileReader::open(const std::string& path, std::error_code& ec) {
  ec.clear();
  std::unique_ptr<EncryptedFileReader> r(new EncryptedFileReader());
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) {
    ec = {errno, std::generic_category()};
    return nullptr;
  }
  struct stat st {};
  if (::fstat(r->fd_, &st) != 0) {
    ec = {errno, std::generic_category()};
    return nullptr;
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  // The preamble line.
  std::string line(std::min<std::uint64_t>(file_size, kMaxPreamble), '\0');
  if (!preadFull(r->fd_, line.data(), line.size(), 0)) line.clear();
  const std::size_t nl = line.find('\n');
  std::optional<WrappedDataKey> wrapped;
  if (nl != std::string::npos) wrapped = parsePreamble(std::string_view(line).substr(0, nl + 1));
  if (!wrapped) {
    ec = std::make_error_code(std::errc::illegal_byte_sequence);
    return nullptr;
  }
  r->wrapped_ = std::move(*wrapped);
  // The record index, from the 4-byte lengths.
  std::uint64_t at = nl + 1;
  while (at < file_size) {
    unsigned char len[4];
    if (file_size - at < 4 || !preadFull(r->fd_, reinterpret_cast<char*>(len), 4, at)) {
      r->torn_ = true;
      break;
    }
    const std::uint32_t n = (std::uint32_t(len[0]) << 24) | (std::uint32_t(len[1]) << 16) |
                            (std::uint32_t(len[2]) << 8) | len[3];
    if (n < kSealOverhead || n > kMaxRecord) {
      ec = std::make_error_code(std::errc::illegal_byte_sequence);
      return nullptr;
    }
    if (file_size - at - 4 < n) {
      r->torn_ = true;
      break;
    }
    r->records_.push_back({at, n, r->size_});
    r->size_ += n - kSealOverhead;
    at += 4 + static_cast<std::uint64_t>(n);
  }
  auto key = unwrapDataKey(r->wrapped_);
  if (!key) {
    ec = std::make_error_code(std::errc::permission_denied);
    return nullptr;
  }
  r->key_ = std::move(*key);
  return r;
}

EncryptedFileReader::~EncryptedFileReader() {
  if (fd_ >= 0) ::close(fd_);
  wipe(cache_);
}

const std::string* EncryptedFileReader::decrypted(std::size_t i, std::error_code& ec) const {
  if (i >= records_.size()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  if (i == cached_) return &cache_;
  const Record& rec = records_[i];
  std::string sealed(rec.length, '\0');
  if (!preadFull(fd_, sealed.data(), sealed.size(), rec.file_offset + 4)) {
    ec = errno ? std::error_code(errno, std::generic_category()) : std::make_error_code(std::errc::io_error);
    return nullptr;
  }
  auto plain = openRecord(key_, wrapped_.session_id, i, sealed);
  if (!plain) {
    ec = std::make_error_code(std::errc::illegal_byte_sequence);
    return nullptr;
  }
  wipe(cache_);
  cache_ = std::move(*plain);
  cached_ = i;
  return &cache_;
}

std::error_code EncryptedFileReader::record(std::size_t i, std::string& out) const {
  std::error_code ec;
  const std::string* plain = decrypted(i, ec);
  if (plain) out = *plain;
  return ec;
}

std::error_code EncryptedFileReader::read(std::uint64_t offset, std::size_t length, std::string& out) const {
  if (offset >= size_ || length == 0) return {};
  // The record holding `offset`: the last one starting at or before it.
  auto it = std::upper_bound(records_.begin(), records_.end(), offset,
                             [](std::uint64_t off, const Record& r) { return off < r.plain_offset; });
  std::size_t i = static_cast<std::size_t>(it - records_.begin()) - 1;
  while (length > 0 && i < records_.size()) {
    std::error_code ec;
    const std::string* plain = decrypted(i, ec);
    if (!plain) return ec;
    const std::uint64_t skip = offset - records_[i].plain_offset;
    const std::size_t take = std::min<std::uint64_t>(length, plain->size() - skip);
    out.append(*plain, static_cast<std::size_t>(skip), take);
    offset += take;
    length -= take;
    ++i;
  }
  return {};
}

}  // namespace vigil::recorder
