#include "server/services/ssh_public_key.hpp"

#include <cstdint>
#include <stdexcept>

#include "server/crypto/random.hpp"

namespace vigil::services {
namespace {

/// Reads RFC 4251 `string` / `mpint` fields from a key blob.
struct BlobReader {
  std::string_view data;
  bool ok = true;

  std::string_view string() {
    if (data.size() < 4) {
      ok = false;
      return {};
    }
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const std::uint32_t len = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    data.remove_prefix(4);
    if (len > data.size()) {
      ok = false;
      return {};
    }
    auto out = data.substr(0, len);
    data.remove_prefix(len);
    return out;
  }
};

int mpintBits(std::string_view v) {
  while (!v.empty() && v.front() == '\0') v.remove_prefix(1);
  if (v.empty()) return 0;
  int bits = static_cast<int>(v.size() - 1) * 8;
  for (auto top = static_cast<unsigned char>(v.front()); top; top >>= 1) ++bits;
  return bits;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string sshFingerprint(std::string_view blob) {
  auto digest = crypto::sha256(blob);
  std::string b64 = crypto::base64Encode(digest.data(), digest.size());
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::optional<SshPublicKey> parseSshPublicKey(std::string_view line, std::string& error) {
  line = trim(line);
  if (line.empty()) {
    error = "public_key: is empty";
    return std::nullopt;
  }
  if (line.size() > 16384) {
    error = "public_key: too long";
    return std::nullopt;
  }
  if (line.find('\n') != std::string_view::npos) {
    error = "public_key: give one key on one line";
    return std::nullopt;
  }
  const auto sp = line.find_first_of(" \t");
  if (sp == std::string_view::npos) {
    error = "public_key: expected \"<algorithm> <base64> [comment]\"";
    return std::nullopt;
  }
  SshPublicKey key;
  key.algorithm = std::string(line.substr(0, sp));
  if (key.algorithm != "ssh-ed25519" && key.algorithm != "ssh-rsa" && key.algorithm != "ecdsa-sha2-nistp256" &&
      key.algorithm != "ecdsa-sha2-nistp384" && key.algorithm != "ecdsa-sha2-nistp521") {
    error = "public_key: unsupported key type (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)";
    return std::nullopt;
  }
  std::string_view rest = trim(line.substr(sp));
  const auto sp2 = rest.find_first_of(" \t");
  const std::string_view b64 = rest.substr(0, sp2);
  key.comment = sp2 == std::string_view::npos ? "" : std::string(trim(rest.substr(sp2)));
  crypto::Bytes blob;
  try {
    blob = crypto::base64Decode(b64);
  } catch (const std::invalid_argument&) {
    error = "public_key: the key data is not valid base64";
    return std::nullopt;
  }
  const std::string_view blobv(reinterpret_cast<const char*>(blob.data()), blob.size());
  BlobReader r{blobv};
  if (r.string() != key.algorithm || !r.ok) {
    error = "public_key: the key data does not match its type " + key.algorithm;
    return std::nullopt;
  }
  if (key.algorithm == "ssh-ed25519") {
    if (r.string().size() != 32 || !r.ok) {
      error = "public_key: malformed ssh-ed25519 key";
      return std::nullopt;
    }
    key.bits = 256;
  } else if (key.algorithm == "ssh-rsa") {
    const auto e = r.string();
    const auto n = r.string();
    if (!r.ok || e.empty() || n.empty() || (static_cast<unsigned char>(e.back()) & 1) == 0) {
      error = "public_key: malformed ssh-rsa key";
      return std::nullopt;
    }
    key.bits = mpintBits(n);
    if (key.bits < 2048) {
      error = "public_key: RSA keys must have at least 2048 bits (this one has " + std::to_string(key.bits) + ")";
      return std::nullopt;
    }
    if (key.bits > 16384) {
      error = "public_key: RSA keys over 16384 bits are not accepted";
      return std::nullopt;
    }
  } else {
    const std::string curve = key.algorithm.substr(11);  // nistp256...
    const std::size_t point = curve == "nistp256" ? 65 : curve == "nistp384" ? 97 : 133;
    const auto name = r.string();
    const auto q = r.string();
    // Uncompressed point: 0x04 || X || Y.
    if (!r.ok || name != curve || q.size() != point || q.front() != '\x04') {
      error = "public_key: malformed " + key.algorithm + " key";
      return std::nullopt;
    }
    key.bits = curve == "nistp256" ? 256 : curve == "nistp384" ? 384 : 521;
  }
  if (!r.data.empty()) {
    error = "public_key: unexpected data after the key";
    return std::nullopt;
  }
  for (char c : key.comment)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      error = "public_key: control characters in the comment";
      return std::nullopt;
    }
  key.public_key = key.algorithm + " " + crypto::base64Encode(blob.data(), blob.size());
  key.fingerprint = sshFingerprint(blobv);
  return key;
}

}  // namespace vigil::services
