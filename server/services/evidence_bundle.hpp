#pragma once
// The evidence bundle for an external auditor (issue 8 point 5): for a date range and a set of
// safes, the access report, every session's recording exactly as stored (encrypted ones stay
// encrypted) with its signed manifest and chunk index, and an offline verifier
// (deploy/evidence/verify.py: Python 3 + the openssl command). The bundle's own index
// (bundle.json: every file with its SHA-256) is signed with the node's recording key, so the
// report and the session metadata are tamper-evident too. Layout: docs/api.md, "Evidence bundle".
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "server/crypto/ed25519.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

struct EvidenceRequest {
  store::AccessReportQuery query;          // from, to (ISO times), safe ids (empty: all)
  std::filesystem::path out;               // created; must not exist or be empty
  std::filesystem::path recordings_dir;    // where recording_path is relative to
  std::filesystem::path verifier;          // verify.py to copy into the bundle
  std::string node;
};

struct EvidenceSummary {
  std::size_t sessions = 0;
  std::size_t sealed = 0;     // with a signed manifest
  std::size_t unsealed = 0;   // recording present, never sealed (running, or the node crashed)
  std::size_t without_recording = 0;  // not recorded, or deleted by retention
  std::size_t missing = 0;    // recorded, not deleted by retention, yet the file is gone
  std::uint64_t bytes = 0;    // recording bytes copied
  std::vector<std::string> session_ids;
};

/// Writes the bundle; `progress(done, total, session_id)` after each session. Throws
/// std::runtime_error naming what failed (the partial directory is left for inspection).
EvidenceSummary writeEvidenceBundle(store::Store& store, const crypto::Ed25519Signer& signer,
                                    const EvidenceRequest& req,
                                    const std::function<void(std::size_t, std::size_t, const std::string&)>& progress);

}  // namespace vigil::services
