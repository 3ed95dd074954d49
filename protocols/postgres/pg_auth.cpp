#include "protocols/postgres/pg_auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

namespace vigil::pg {
namespace {

std::string hexOf(const unsigned char* p, std::size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(hex[p[i] >> 4]);
    out.push_back(hex[p[i] & 15]);
  }
  return out;
}

std::string md5Hex(std::string_view in) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), d, &n, EVP_md5(), nullptr);
  return hexOf(d, n);
}

crypto::SecureString hmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &n);
  crypto::SecureString s(reinterpret_cast<char*>(out), n);
  OPENSSL_cleanse(out, sizeof out);
  return s;
}

/// The value of attribute `name` ("r", "s", "i", "v", "e") in a SCRAM message.
std::string_view attr(std::string_view msg, char name) {
  std::size_t p = 0;
  while (p < msg.size()) {
    auto comma = msg.find(',', p);
    auto part = msg.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return part.substr(2);
    if (comma == std::string_view::npos) break;
    p = comma + 1;
  }
  return {};
}

}  // namespace

std::string md5Password(std::string_view user, std::string_view password, std::string_view salt4) {
  std::string inner(password);
  inner.append(user);
  std::string h = md5Hex(inner);
  OPENSSL_cleanse(inner.data(), inner.size());
  h.append(salt4);
  return "md5" + md5Hex(h);
}

std::string base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64Decode(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.assign(3 * in.size() / 4 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return false;
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --len;  // DecodeBlock keeps padding bytes
  out.resize(len);
  return true;
}

ScramClient::ScramClient(std::string_view password, std::string nonce_for_tests, std::string user)
    : password_(crypto::toSecure(password)), nonce_(std::move(nonce_for_tests)), user_(std::move(user)) {
  if (nonce_.empty()) {
    unsigned char raw[18];
    RAND_bytes(raw, sizeof raw);
    nonce_ = base64Encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  }
}

ScramClient::~ScramClient() = default;

std::string ScramClient::first() {
  // PostgreSQL takes the user from the StartupMessage; the SCRAM user name is left empty.
  client_first_bare_ = "n=" + user_ + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

std::string ScramClient::final(std::string_view server_first) {
  const auto r = attr(server_first, 'r');
  const auto s = attr(server_first, 's');
  const auto i = attr(server_first, 'i');
  std::string salt;
  if (r.size() <= nonce_.size() || r.substr(0, nonce_.size()) != nonce_) return error_ = "SCRAM: the server's nonce does not extend ours", "";
  if (!base64Decode(s, salt) || salt.empty()) return error_ = "SCRAM: invalid salt", "";
  int iterations = 0;
  for (char c : i) {
    if (c < '0' || c > '9' || iterations > 10000000) return error_ = "SCRAM: invalid iteration count", "";
    iterations = iterations * 10 + (c - '0');
  }
  if (iterations < 1 || iterations > 10000000) return error_ = "SCRAM: invalid iteration count", "";
  unsigned char sp[32];
  PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), sizeof sp, sp);
  salted_.assign(reinterpret_cast<char*>(sp), sizeof sp);
  OPENSSL_cleanse(sp, sizeof sp);
  const std::string without_proof = "c=biws,r=" + std::string(r);
  auth_message_ = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  auto client_key = hmac(salted_, "Client Key");
  unsigned char stored[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), client_key.size(), stored);
  auto signature = hmac(std::string_view(reinterpret_cast<char*>(stored), sizeof stored), auth_message_);
  OPENSSL_cleanse(stored, sizeof stored);
  crypto::SecureString proof(client_key);
  for (std::size_t k = 0; k < proof.size() && k < signature.size(); ++k) proof[k] = static_cast<char>(proof[k] ^ signature[k]);
  return without_proof + ",p=" + base64Encode(proof);
}

bool ScramClient::verify(std::string_view server_final) {
  if (!attr(server_final, 'e').empty()) return error_ = "SCRAM: the server refused: " + std::string(attr(server_final, 'e')), false;
  std::string got;
  if (!base64Decode(attr(server_final, 'v'), got)) return error_ = "SCRAM: invalid server signature", false;
  auto server_key = hmac(salted_, "Server Key");
  auto expected = hmac(server_key, auth_message_);
  if (got.size() != expected.size() || CRYPTO_memcmp(got.data(), expected.data(), got.size()) != 0)
    return error_ = "SCRAM: the server's signature is wrong", false;
  return true;
}

}  // namespace vigil::pg
