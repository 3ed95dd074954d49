#pragma once
// A scratch directory per test, removed afterwards.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/crypto/random.hpp"

namespace vigil::crypto::test {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("vigil-crypto-" + randomToken(9));
    std::filesystem::create_directory(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void writeFile(const std::filesystem::path& p, const std::string& text, mode_t mode = 0600) {
  { std::ofstream(p, std::ios::binary | std::ios::trunc) << text; }
  ::chmod(p.c_str(), mode);
}

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline mode_t fileMode(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

inline std::string keyLine(const std::string& id, std::size_t keyBytes = 32) {
  const Bytes key = randomBytes(keyBytes);
  return "vigil-master-key v1 " + id + " " + base64Encode(key.data(), key.size()) + "\n";
}

}  // namespace vigil::crypto::test
