#pragma once
// The fingerprint Vigil pins for an RDP target: "SHA256:<base64 of SHA-256 of the DER
// certificate, no padding>", the same shape OpenSSH uses for host keys.
#include <string>
#include <string_view>

namespace vigil::rdp {

/// From a PEM certificate; '' when it cannot be parsed.
std::string certificateFingerprintFromPem(std::string_view pem);

}  // namespace vigil::rdp
