#include "server/crypto/ed25519.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "server/crypto/random.hpp"

namespace vigil::crypto {

struct Ed25519Signer::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

Ed25519Signer::Ed25519Signer(std::unique_ptr<Key> k) : key_(std::move(k)) {}
Ed25519Signer::~Ed25519Signer() = default;

std::unique_ptr<Ed25519Signer> Ed25519Signer::generate() {
  auto k = std::make_unique<Key>();
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &k->pkey) <= 0) {
    EVP_PKEY_CTX_free(ctx);
    throw std::runtime_error("ed25519: key generation failed");
  }
  EVP_PKEY_CTX_free(ctx);
  return std::unique_ptr<Ed25519Signer>(new Ed25519Signer(std::move(k)));
}

std::unique_ptr<Ed25519Signer> Ed25519Signer::loadOrCreate(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::unique_ptr<Ed25519Signer> signer;
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) {
    signer = generate();
    const std::string tmp = name + ".tmp";
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create the recording signing key " + tmp);
    FILE* f = ::fdopen(fd, "w");
    const bool ok = f && PEM_write_PrivateKey(f, signer->key_->pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
                    std::fflush(f) == 0 && ::fsync(fd) == 0;
    if (f) std::fclose(f);
    if (!ok || ::rename(tmp.c_str(), name.c_str()) != 0) {
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write the recording signing key " + name);
    }
  } else {
    if ((st.st_mode & 077) != 0)
      throw std::runtime_error("the recording signing key " + name + " must not be readable by group or others (chmod 600)");
    FILE* f = std::fopen(name.c_str(), "r");
    if (!f) throw std::runtime_error("cannot read the recording signing key " + name);
    auto k = std::make_unique<Key>();
    k->pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!k->pkey || EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519)
      throw std::runtime_error("the recording signing key " + name + " is not an Ed25519 private key");
    signer.reset(new Ed25519Signer(std::move(k)));
  }
  // The public half, for auditors and `vigil verify` (rewritten each start: it is derived).
  std::ofstream pub(name + ".pub", std::ios::trunc);
  pub << signer->publicKeyBase64() << "\n";
  if (!pub) throw std::runtime_error("cannot write " + name + ".pub");
  return signer;
}

Bytes Ed25519Signer::sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Bytes sig(64);
  std::size_t len = sig.size();
  const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
                  EVP_DigestSign(ctx, sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("ed25519: signing failed");
  sig.resize(len);
  return sig;
}

std::string Ed25519Signer::publicKeyBase64() const {
  std::uint8_t raw[32];
  std::size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key_->pkey, raw, &len) != 1) throw std::runtime_error("ed25519: no public key");
  return base64Encode(raw, len);
}

bool ed25519Verify(const std::string& public_key_b64, std::string_view message, const Bytes& signature) {
  Bytes raw;
  try {
    raw = base64Decode(public_key_b64);
  } catch (const std::exception&) {
    return false;
  }
  if (raw.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size());
  if (!pkey) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, signature.data(), signature.size(),
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

std::string readEd25519PublicKey(const std::filesystem::path& pub_file) {
  std::ifstream f(pub_file);
  std::string line;
  if (!f || !std::getline(f, line)) throw std::runtime_error("cannot read the public key " + pub_file.string());
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (base64Decode(line).size() != 32) throw std::runtime_error(pub_file.string() + " is not an Ed25519 public key");
  return line;
}

}  // namespace vigil::crypto
