#include "server/crypto/master_keyring.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "server/crypto/aes_gcm.hpp"
#include "server/crypto/random.hpp"

namespace vigil::crypto {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "vigil-master-key";
constexpr std::string_view kVersion = "v1";
constexpr std::size_t kMaxFileSize = 1 << 20;  // a keyring holds a handful of lines
constexpr std::size_t kMaxIdLength = 64;

using KeyList = std::vector<std::pair<std::string, SecureBytes>>;  // file order, current last

struct ParsedFile {
  KeyList keys;
  std::uintmax_t inode = 0;
};

[[noreturn]] void fail(const fs::path& file, const std::string& why) {
  throw std::runtime_error("master keyring " + file.string() + ": " + why);
}

std::string errnoText() { return std::strerror(errno); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool validId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

SecureBytes decodeKey(std::string_view b64) {
  Bytes raw = base64Decode(b64);  // throws std::invalid_argument
  SecureBytes key(raw.begin(), raw.end());
  // base64Decode returns ordinary memory; wipe it before it is freed.
  if (!raw.empty()) OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

// Reads through one descriptor so the permission check and the content are the same file.
ParsedFile parseFile(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(file, "cannot open: " + errnoText());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(file, "cannot stat: " + errnoText());
  if (!S_ISREG(st.st_mode)) fail(file, "not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(file, std::string("permissions ") + mode +
                   " are too open: the master keys must not be readable by group or others "
                   "(run: chmod 600 " + file.string() + ")");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxFileSize) fail(file, "file too large");

  SecureString text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(file, "cannot read: " + errnoText());
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);

  ParsedFile parsed;
  parsed.inode = static_cast<std::uintmax_t>(st.st_ino);
  std::size_t lineNo = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == SecureString::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++lineNo;
    const auto fields = splitFields(line);
    if (fields.empty() || fields[0].front() == '#') continue;
    // Never quote the line: it holds key material.
    const std::string where = "line " + std::to_string(lineNo) + ": ";
    if (fields.size() != 4 || fields[0] != kMagic || fields[1] != kVersion)
      fail(file, where + "malformed, expected 'vigil-master-key v1 <id> <base64 key>'");
    const std::string id(fields[2]);
    if (!validId(id)) fail(file, where + "invalid key id (1-64 of A-Z a-z 0-9 . _ -)");
    SecureBytes key;
    try {
      key = decodeKey(fields[3]);
    } catch (const std::invalid_argument&) {
      fail(file, where + "key is not valid base64");
    }
    if (key.size() != kAesKeySize) fail(file, where + "key is not 256 bits");
    for (const auto& [other, _] : parsed.keys)
      if (other == id) fail(file, where + "duplicate key id '" + id + "'");
    parsed.keys.emplace_back(id, std::move(key));
  }
  if (parsed.keys.empty()) fail(file, "no keys");
  return parsed;
}

SecureString serialize(const KeyList& keys) {
  SecureString out;
  for (const auto& [id, key] : keys) {
    std::string b64 = base64Encode(key.data(), key.size());
    out.append(kMagic).append(" ").append(kVersion).append(" ").append(id).append(" ");
    out.append(b64).append("\n");
    wipe(b64);
  }
  return out;
}

void fsyncDirectory(const fs::path& dir) {
  // Makes the rename durable; best effort because some filesystems refuse fsync on directories.
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() >= 0) ::fsync(d.get());
}

// Writes to a 0600 temp file in the same directory, then renames (or, for create, links, which
// fails instead of replacing an existing keyring) so readers never see a partial file.
void writeAtomically(const fs::path& file, const KeyList& keys, bool noClobber) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const fs::path tmp = fs::path(file.string() + ".tmp-" + hexEncode(randomBytes(6).data(), 6));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) fail(file, "cannot create " + tmp.string() + ": " + errnoText());

  struct TmpGuard {
    const fs::path& p;
    bool armed = true;
    ~TmpGuard() {
      if (armed) ::unlink(p.c_str());
    }
  } guard{tmp};

  // The umask may have narrowed 0600 further (e.g. 0400), which would break later rewrites.
  if (::fchmod(fd.get(), 0600) != 0) fail(file, "cannot chmod temp file: " + errnoText());
  const SecureString content = serialize(keys);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(file, "cannot write temp file: " + errnoText());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) fail(file, "cannot fsync temp file: " + errnoText());
  if (::close(fd.release()) != 0) fail(file, "cannot close temp file: " + errnoText());

  if (noClobber) {
    if (::link(tmp.c_str(), file.c_str()) != 0)
      fail(file, errno == EEXIST ? std::string("already exists") : "cannot create: " + errnoText());
  } else {
    if (::rename(tmp.c_str(), file.c_str()) != 0) fail(file, "cannot replace: " + errnoText());
    guard.armed = false;
  }
  fsyncDirectory(dir);
}

bool sameKey(const SecureBytes& a, const SecureBytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string newKeyId(const std::map<std::string, SecureBytes>& existing, const KeyList& onDisk) {
  for (;;) {
    std::string id = "k" + hexEncode(randomBytes(4).data(), 4);
    bool taken = existing.count(id) > 0;
    for (const auto& [other, _] : onDisk) taken = taken || other == id;
    if (!taken) return id;
  }
}

}  // namespace

MasterKeyring::MasterKeyring(MasterKeyring&& other) noexcept = default;
MasterKeyring& MasterKeyring::operator=(MasterKeyring&&) noexcept = default;

MasterKeyring MasterKeyring::load(const fs::path& file) {
  MasterKeyring ring;
  ring.path_ = file;
  {
    std::lock_guard lock(*ring.mu_);
    ring.readFileLocked();
  }
  return ring;
}

MasterKeyring MasterKeyring::create(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(file, ec))) fail(file, "already exists");
  MasterKeyring ring;
  ring.path_ = file;
  {
    std::lock_guard lock(*ring.mu_);
    KeyList keys;
    const std::string id = newKeyId({}, keys);
    keys.emplace_back(id, randomSecureBytes(kAesKeySize));
    writeAtomically(file, keys, /*noClobber=*/true);
    ring.keys_.emplace(id, std::move(keys.front().second));
    ring.current_ = id;
    ring.rememberFileStateLocked();
  }
  return ring;
}

void MasterKeyring::rememberFileStateLocked() const {
  std::error_code ec;
  mtime_ = fs::last_write_time(path_, ec);
  struct stat st {};
  inode_ = ::stat(path_.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_ino) : 0;
}

void MasterKeyring::readFileLocked() const {
  // Take the mtime before reading: a write racing with us then causes one extra re-read
  // instead of a missed change.
  std::error_code ec;
  const auto mtime = fs::last_write_time(path_, ec);
  ParsedFile parsed = parseFile(path_);
  for (const auto& [id, key] : parsed.keys) {
    auto it = keys_.find(id);
    if (it != keys_.end() && !sameKey(it->second, key)) fail(path_, "key '" + id + "' changed on disk");
  }
  for (auto& [id, key] : parsed.keys) keys_.try_emplace(id, std::move(key));
  current_ = parsed.keys.back().first;
  mtime_ = mtime;
  inode_ = parsed.inode;
}

std::string MasterKeyring::currentId() const {
  std::lock_guard lock(*mu_);
  return current_;
}

const SecureBytes* MasterKeyring::key(const std::string& id) const {
  std::lock_guard lock(*mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) {
    try {
      readFileLocked();
    } catch (const std::exception&) {
      return nullptr;
    }
    it = keys_.find(id);
    if (it == keys_.end()) return nullptr;
  }
  return &it->second;
}

void MasterKeyring::refreshIfChanged() const {
  std::lock_guard lock(*mu_);
  std::error_code ec;
  const auto mtime = fs::last_write_time(path_, ec);
  struct stat st {};
  const bool statOk = ::stat(path_.c_str(), &st) == 0;
  if (!ec && statOk && mtime == mtime_ && static_cast<std::uintmax_t>(st.st_ino) == inode_) return;
  readFileLocked();
}

std::string MasterKeyring::addKey() {
  std::lock_guard lock(*mu_);
  // Start from the file, not memory: keep keys another process added, and do not resurrect
  // keys it retired.
  ParsedFile parsed = parseFile(path_);
  const std::string id = newKeyId(keys_, parsed.keys);
  parsed.keys.emplace_back(id, randomSecureBytes(kAesKeySize));
  writeAtomically(path_, parsed.keys, /*noClobber=*/false);
  for (auto& [kid, key] : parsed.keys) keys_.try_emplace(kid, std::move(key));
  current_ = id;
  rememberFileStateLocked();
  return id;
}

void MasterKeyring::retireOldKeys() {
  std::lock_guard lock(*mu_);
  ParsedFile parsed = parseFile(path_);
  if (parsed.keys.back().first != current_)
    fail(path_, "current key on disk is '" + parsed.keys.back().first + "', not '" + current_ +
                    "'; another rekey is running, refusing to drop keys");
  auto cur = keys_.find(current_);
  if (cur == keys_.end() || !sameKey(cur->second, parsed.keys.back().second))
    fail(path_, "current key on disk differs from the loaded one");
  KeyList keep;
  keep.emplace_back(std::move(parsed.keys.back()));
  writeAtomically(path_, keep, /*noClobber=*/false);
  for (auto it = keys_.begin(); it != keys_.end();)
    it = it->first == current_ ? std::next(it) : keys_.erase(it);
  rememberFileStateLocked();
}

}  // namespace vigil::crypto
