#include "server/crypto/tls_cert.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace vigil {
namespace {

namespace fs = std::filesystem;

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Fn(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

[[noreturn]] void throwOpenSsl(const std::string& what) {
  std::string msg = "tls_cert: " + what;
  // The queue may hold several entries; the first one is the root cause.
  if (unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    msg += ": ";
    msg += buf.data();
  }
  ERR_clear_error();
  throw std::runtime_error(msg);
}

void check(int ok, const char* what) {
  if (ok != 1) throwOpenSsl(what);
}

void addSan(GENERAL_NAMES* names, const std::string& value) {
  // A name that parses as an address goes in as iPAddress: browsers ignore dNSName for IPs.
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(value.c_str());
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (!gn) {
    ASN1_OCTET_STRING_free(ip);
    throwOpenSsl("GENERAL_NAME_new");
  }
  if (ip) {
    GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
  } else {
    ERR_clear_error();  // a2i_IPADDRESS failing is the normal case for a DNS name
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (!dns || ASN1_STRING_set(dns, value.data(), static_cast<int>(value.size())) != 1) {
      ASN1_IA5STRING_free(dns);
      GENERAL_NAME_free(gn);
      throwOpenSsl("SAN dNSName");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
  }
  if (sk_GENERAL_NAME_push(names, gn) <= 0) {
    GENERAL_NAME_free(gn);
    throwOpenSsl("SAN push");
  }
}

void addConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) throwOpenSsl(std::string("extension ") + OBJ_nid2sn(nid));
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

X509Ptr makeCertificate(EVP_PKEY* key, std::vector<std::string> names, int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert) throwOpenSsl("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  // RFC 5280 wants serials unpredictable and unique per issuer; 128 random bits give both
  // without keeping state across regenerations.
  std::array<unsigned char, 16> serial_bytes{};
  check(RAND_bytes(serial_bytes.data(), serial_bytes.size()), "RAND_bytes");
  serial_bytes[0] |= 0x01;  // never an all-zero (invalid) serial
  BnPtr serial(BN_bin2bn(serial_bytes.data(), serial_bytes.size(), nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    throwOpenSsl("serial");

  // Backdated a little so a client whose clock runs behind still accepts a fresh certificate.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days, 0, nullptr))
    throwOpenSsl("validity");

  NamePtr subject(X509_NAME_new());
  if (!subject) throwOpenSsl("X509_NAME_new");
  check(X509_NAME_add_entry_by_txt(subject.get(), "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>("Vigil"), -1, -1, 0),
        "subject O");
  check(X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(names.front().c_str()),
                                   -1, -1, 0),
        "subject CN");
  check(X509_set_subject_name(cert.get(), subject.get()), "X509_set_subject_name");
  check(X509_set_issuer_name(cert.get(), subject.get()), "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  addConfExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  addConfExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
  addConfExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
  addConfExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");

  // Built as GENERAL_NAMES rather than a config string so a name containing ',' or ':' cannot
  // smuggle in extra entries.
  GenNamesPtr san(sk_GENERAL_NAME_new_null());
  if (!san) throwOpenSsl("sk_GENERAL_NAME_new_null");
  for (const auto& n : names) addSan(san.get(), n);
  check(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, san.get(), 0, X509V3_ADD_DEFAULT),
        "subjectAltName");

  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) throwOpenSsl("X509_sign");
  return cert;
}

/// PEM text of `write` in a BIO whose buffer is wiped on free (the key must not linger in heap).
template <class WriteFn>
std::pair<BioPtr, std::string_view> pemOf(WriteFn write, const char* what) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) throwOpenSsl("BIO_new");
  if (write(bio.get()) != 1) throwOpenSsl(what);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || !data) throwOpenSsl(what);
  return {std::move(bio), std::string_view(data, static_cast<std::size_t>(len))};
}

std::string tempName(const fs::path& target) {
  std::array<unsigned char, 8> r{};
  check(RAND_bytes(r.data(), r.size()), "RAND_bytes");
  static const char* hex = "0123456789abcdef";
  std::string suffix;
  for (unsigned char c : r) {
    suffix += hex[c >> 4];
    suffix += hex[c & 0xf];
  }
  return target.string() + ".tmp-" + suffix;
}

[[noreturn]] void throwErrno(const std::string& what, const fs::path& p) {
  throw std::runtime_error("tls_cert: " + what + " " + p.string() + ": " + std::strerror(errno));
}

/// Writes to a fresh temp file beside `target`, then renames over it, so a crash never leaves
/// a half-written key and the key is never readable by others, not even for a moment.
void writeAtomically(const fs::path& target, std::string_view data, mode_t mode) {
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = tempName(target);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throwErrno("cannot create", tmp);
  auto fail = [&](const char* what) {
    int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = saved;
    throwErrno(what, tmp);
  };
  // open() applies the umask; the modes here are part of the contract, so set them exactly.
  if (::fchmod(fd, mode) != 0) fail("cannot chmod");
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot fsync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throwErrno("cannot close", tmp);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    throwErrno("cannot rename to", target);
  }
}

}  // namespace

bool ensureSelfSignedCertificate(const std::filesystem::path& cert_file,
                                 const std::filesystem::path& key_file,
                                 const std::vector<std::string>& dns_names, int valid_days) {
  if (fs::exists(cert_file) && fs::exists(key_file)) return false;
  if (valid_days <= 0) throw std::invalid_argument("tls_cert: valid_days must be positive");

  std::vector<std::string> names;
  for (const auto& n : dns_names)
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  if (names.empty()) names.push_back("localhost");
  // Local tools and health checks connect to the loopback address, not a name.
  if (std::find(names.begin(), names.end(), "127.0.0.1") == names.end())
    names.push_back("127.0.0.1");

  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throwOpenSsl("EC P-256 key generation");
  X509Ptr cert = makeCertificate(key.get(), names, valid_days);

  auto [key_bio, key_pem] = pemOf(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      },
      "PEM_write_bio_PrivateKey");
  auto [cert_bio, cert_pem] =
      pemOf([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }, "PEM_write_bio_X509");

  // Key first: a certificate on disk without its key would make the next start fail to load.
  writeAtomically(key_file, key_pem, 0600);
  writeAtomically(cert_file, cert_pem, 0644);
  return true;
}

std::string certificateFingerprint(const std::filesystem::path& cert_file) {
  BioPtr bio(BIO_new_file(cert_file.c_str(), "r"));
  if (!bio) throwOpenSsl("cannot open " + cert_file.string());
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throwOpenSsl("cannot read certificate " + cert_file.string());
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  check(X509_digest(cert.get(), EVP_sha256(), md.data(), &len), "X509_digest");
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 3);
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

}  // namespace vigil
