#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "server/crypto/tls_cert.hpp"
#include "web_test_client.hpp"

namespace fs = std::filesystem;
using vigil::certificateFingerprint;
using vigil::ensureSelfSignedCertificate;
using vigil::test::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t modeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> loadCert(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(x);
  return std::unique_ptr<X509, X509Free>(x);
}

}  // namespace

TEST_CASE("a self-signed certificate is generated with a private key only its owner can read",
          "[web][tls_cert]") {
  TempDir dir;
  // Nested, non-existent parents: first start on a fresh install.
  const auto cert = dir.path() / "a" / "b" / "cert.pem";
  const auto key = dir.path() / "c" / "key.pem";

  REQUIRE(ensureSelfSignedCertificate(cert, key, {"vigil.example", "localhost"}));
  REQUIRE(fs::exists(cert));
  REQUIRE(fs::exists(key));
  CHECK(modeOf(key) == 0600);
  CHECK(modeOf(cert) == 0644);
  // No temp files left behind next to the targets.
  CHECK(std::distance(fs::directory_iterator(cert.parent_path()), fs::directory_iterator{}) == 1);
  CHECK(std::distance(fs::directory_iterator(key.parent_path()), fs::directory_iterator{}) == 1);
  CHECK(slurp(key).find("-----BEGIN PRIVATE KEY-----") == 0);

  auto x = loadCert(cert);
  CHECK(X509_get_version(x.get()) == X509_VERSION_3);

  EVP_PKEY* pub = X509_get0_pubkey(x.get());
  REQUIRE(pub);
  CHECK(EVP_PKEY_is_a(pub, "EC"));
  char group[64] = {};
  size_t glen = 0;
  REQUIRE(EVP_PKEY_get_group_name(pub, group, sizeof group, &glen) == 1);
  CHECK(std::string(group) == "prime256v1");
  CHECK(X509_get_signature_nid(x.get()) == NID_ecdsa_with_SHA256);
  CHECK(X509_verify(x.get(), pub) == 1);  // self-signed with its own key

  // Random 128-bit serial, positive (ASN1_INTEGER keeps the magnitude without sign padding).
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
  CHECK(ASN1_STRING_length(serial) == 16);
  CHECK(ASN1_STRING_type(serial) == V_ASN1_INTEGER);

  // Key and certificate belong together.
  FILE* kf = std::fopen(key.c_str(), "r");
  REQUIRE(kf);
  EVP_PKEY* priv = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
  std::fclose(kf);
  REQUIRE(priv);
  CHECK(X509_check_private_key(x.get(), priv) == 1);
  EVP_PKEY_free(priv);

  // Usable as a TLS server certificate, not as a CA.
  CHECK(X509_check_ca(x.get()) == 0);
  CHECK((X509_get_key_usage(x.get()) & KU_DIGITAL_SIGNATURE) != 0);
  CHECK((X509_get_key_usage(x.get()) & KU_KEY_CERT_SIGN) == 0);
  CHECK((X509_get_extended_key_usage(x.get()) & XKU_SSL_SERVER) != 0);
  CHECK(X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);

  // SAN: every name asked for, plus the loopback address.
  CHECK(X509_check_host(x.get(), "vigil.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(x.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(x.get(), "other.example", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(x.get(), "127.0.0.1", 0) == 1);

  // Valid now and for about the requested default (825 days).
  CHECK(X509_cmp_current_time(X509_get0_notBefore(x.get())) < 0);
  CHECK(X509_cmp_current_time(X509_get0_notAfter(x.get())) > 0);
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x.get()), X509_get0_notAfter(x.get())));
  CHECK(days == 825);
}

TEST_CASE("a second call keeps the existing certificate and key", "[web][tls_cert]") {
  TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  const auto key = dir.path() / "key.pem";
  REQUIRE(ensureSelfSignedCertificate(cert, key, {"localhost"}));
  const auto cert_pem = slurp(cert);
  const auto key_pem = slurp(key);

  CHECK_FALSE(ensureSelfSignedCertificate(cert, key, {"localhost"}));
  CHECK(slurp(cert) == cert_pem);
  CHECK(slurp(key) == key_pem);
}

TEST_CASE("a certificate without its key is replaced by a new pair", "[web][tls_cert]") {
  TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  const auto key = dir.path() / "key.pem";
  REQUIRE(ensureSelfSignedCertificate(cert, key, {"localhost"}));
  const auto before = certificateFingerprint(cert);
  fs::remove(key);

  CHECK(ensureSelfSignedCertificate(cert, key, {"localhost"}));
  CHECK(modeOf(key) == 0600);
  CHECK(certificateFingerprint(cert) != before);
}

TEST_CASE("with no names the certificate covers localhost and 127.0.0.1", "[web][tls_cert]") {
  TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  REQUIRE(ensureSelfSignedCertificate(cert, dir.path() / "key.pem", {}, 30));
  auto x = loadCert(cert);
  CHECK(X509_check_host(x.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(x.get(), "127.0.0.1", 0) == 1);
}

TEST_CASE("the fingerprint is the upper-case colon-separated SHA-256 of the DER certificate",
          "[web][tls_cert]") {
  TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  REQUIRE(ensureSelfSignedCertificate(cert, dir.path() / "key.pem", {"localhost"}));

  const auto fp = certificateFingerprint(cert);
  CHECK(std::regex_match(fp, std::regex("^([0-9A-F]{2}:){31}[0-9A-F]{2}$")));

  // Same value as the openssl CLI prints ("sha256 Fingerprint=AB:CD:...").
  auto r = vigil::test::runCommand("openssl x509 -noout -fingerprint -sha256 -in '" +
                                   cert.string() + "'");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("=" + fp) != std::string::npos);

  CHECK_THROWS_AS(certificateFingerprint(dir.path() / "missing.pem"), std::runtime_error);
}
