#pragma once
// A self-signed TLS certificate for first start (ECDSA P-256, SAN: the given DNS names - or
// "localhost" when none - plus IP 127.0.0.1). Part of vigil_crypto: needs OpenSSL only.
#include <filesystem>
#include <string>
#include <vector>

namespace vigil {

/// Writes key (mode 0600) and certificate PEM files if either is missing; returns true when it
/// generated them. Throws std::runtime_error on failure.
bool ensureSelfSignedCertificate(const std::filesystem::path& cert_file,
                                 const std::filesystem::path& key_file,
                                 const std::vector<std::string>& dns_names, int valid_days = 825);
/// SHA-256 fingerprint of a PEM certificate file, "AB:CD:..." form.
std::string certificateFingerprint(const std::filesystem::path& cert_file);

}  // namespace vigil
