#pragma once
// Pinning a target's identity (an SSH host key, an RDP/TLS certificate): the fingerprint the
// target presents is compared with the one pinned on the target; an unpinned target is pinned on
// first use where the safe allows it. One decision for every protocol.
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "protocols/session.hpp"

namespace vigil::proto {

/// "SHA256:<base64 of SHA-256 of the DER certificate, no padding>", the shape OpenSSH uses for
/// host keys; '' when the certificate cannot be encoded.
std::string certificateFingerprint(X509* cert);
/// The same for the certificate the peer of a TLS connection presented ('' without one).
std::string peerCertificateFingerprint(SSL* ssl);
/// The same from a PEM certificate; '' when it cannot be parsed.
std::string certificateFingerprintFromPem(std::string_view pem);
/// "AB:CD:…" (32 upper-case hex bytes separated by colons, as the portal shows a certificate's
/// fingerprint) from "SHA256:<base64>"; '' when malformed.
std::string hexFingerprint(std::string_view sha256_base64);

struct PinResult {
  bool ok = true;
  bool newly_pinned = false;  // trust on first use pinned `seen` just now (audited by the gatekeeper)
  bool unpinned = false;      // let through without any pin (`require_pin` false, no trust on first use)
  std::string reason;         // when refused: host_key_mismatch / host_key_unpinned (a session end reason)
  std::string detail;         // for the audit log
  std::string message;        // for the person
};

/// Whether the target has a pin of either kind.
inline bool hasPin(const TargetEndpoint& t) { return !t.certificate_fingerprint.empty() || !t.host_key_fingerprint.empty(); }

/// The target of `grant` presented `seen` (its `what`: "host key", "certificate"). A pinned
/// fingerprint must match; an unpinned target is pinned when the safe trusts on first use, else
/// refused when `require_pin`, else let through (ok, nothing pinned).
PinResult checkTargetPin(const Grant& grant, Gatekeeper& gatekeeper, std::string_view session_id,
                         const std::string& seen, std::string_view what, bool require_pin);

}  // namespace vigil::proto
