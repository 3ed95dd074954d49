#include "recorder/recording_cipher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>

#include "server/crypto/aes_gcm.hpp"

namespace vigil::recorder {
namespace {

std::mutex g_mu;
DataKeyUnwrapper g_unwrapper;

}  // namespace

std::string recordAad(const std::string& session_id, std::uint64_t index) {
  return "vigil-recording|" + session_id + "|" + std::to_string(index);
}

std::string formatPreamble(const WrappedDataKey& k) {
  return std::string(kEncryptedMagic) + k.session_id + " " + k.master_key_id + " " + k.wrapped_key_b64 + " " +
         k.sealed_key_b64 + "\n";
}

std::optional<WrappedDataKey> parsePreamble(std::string_view line) {
  if (!line.starts_with(kEncryptedMagic)) return std::nullopt;
  line.remove_prefix(kEncryptedMagic.size());
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string f[4];
  for (int i = 0; i < 4; ++i) {
    const std::size_t sp = line.find(' ');
    if ((sp == std::string_view::npos) != (i == 3)) return std::nullopt;
    f[i] = std::string(line.substr(0, sp));
    if (f[i].empty()) return std::nullopt;
    if (sp != std::string_view::npos) line.remove_prefix(sp + 1);
  }
  return WrappedDataKey{f[0], f[1], f[2], f[3]};
}

ChunkCipher::ChunkCipher(crypto::SecureBytes key, WrappedDataKey wrapped)
    : key_(std::move(key)), wrapped_(std::move(wrapped)) {}

void ChunkCipher::seal(std::string& chunk) {
  auto sealed = crypto::gcmEncrypt(key_, reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size(),
                                   recordAad(wrapped_.session_id, next_++));
  OPENSSL_cleanse(chunk.data(), chunk.size());
  const crypto::Bytes packed = crypto::packSealed(sealed);
  std::string out;
  if (!preamble_done_) {
    out = formatPreamble(wrapped_);
    preamble_done_ = true;
  }
  const auto n = static_cast<std::uint32_t>(packed.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  out.append(len, 4);
  out.append(reinterpret_cast<const char*>(packed.data()), packed.size());
  chunk = std::move(out);
}

std::optional<std::string> openRecord(const crypto::SecureBytes& key, const std::string& session_id,
                                      std::uint64_t index, std::string_view record) {
  auto sealed = crypto::unpackSealed(crypto::Bytes(record.begin(), record.end()));
  if (!sealed) return std::nullopt;
  auto plain = crypto::gcmDecrypt(key, *sealed, recordAad(session_id, index));
  if (!plain) return std::nullopt;
  // The plaintext is compressed asciicast: as sensitive as the plaintext recordings on disk,
  // which the readers handle in ordinary strings too.
  return std::string(plain->begin(), plain->end());
}

void setDataKeyUnwrapper(DataKeyUnwrapper f) {
  std::lock_guard lock(g_mu);
  g_unwrapper = std::move(f);
}

std::optional<crypto::SecureBytes> unwrapDataKey(const WrappedDataKey& k) {
  DataKeyUnwrapper f;
  {
    std::lock_guard lock(g_mu);
    f = g_unwrapper;
  }
  if (!f) return std::nullopt;
  return f(k);
}

bool isEncryptedRecording(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16];
  const ssize_t n = ::read(fd, buf, kEncryptedMagic.size());
  ::close(fd);
  return n == static_cast<ssize_t>(kEncryptedMagic.size()) && std::string_view(buf, n) == kEncryptedMagic;
}

}  // namespace vigil::recorder
