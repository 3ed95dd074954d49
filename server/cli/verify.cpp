// `vigil verify <session-id>`: checks a recording against its signed manifest and hash chain.
// `vigil verify --audit`: checks the audit log's hash chain. Exit codes (docs/cli.md):
//   0 intact, 1 tampering found (modified, truncated, audit rows edited or deleted),
//   2 cannot be proven (unsealed: running or crashed; no recording) or a usage error,
//   3 no such session.
#include <cctype>
#include <iostream>

#include <nlohmann/json.hpp>

#include "server/cli/commands.hpp"
#include "server/runtime.hpp"
#include "server/services/ids.hpp"
#include "server/services/recording_seal.hpp"

namespace vigil::cli {
namespace {

using json = nlohmann::json;

std::string publicKeyFor(const Runtime& rt, const std::string& given) {
  const std::filesystem::path pub =
      given.empty() ? std::filesystem::path(services::recordingSigningKeyPath(rt.cfg.data_dir).string() + ".pub")
                    : std::filesystem::path(given);
  return crypto::readEd25519PublicKey(pub);
}

int runVerifySession(const GlobalOptions& g, const std::string& id, const std::string& pub_file) {
  if (!services::isUuid(id)) return std::cerr << "vigil: session id: must be a UUID\n", kExitUsage;
  Runtime rt(loadConfig(g.config_file));
  rt.openDatabase([](const std::string&) {});
  auto s = rt.store->sessionById(id);
  if (!s) return std::cerr << "vigil: no session " << id << "\n", kExitNotFound;
  std::string key;
  try {
    key = publicKeyFor(rt, pub_file);
  } catch (const std::exception& e) {
    return std::cerr << "vigil: " << e.what() << "\n", kExitUsage;
  }
  auto r = services::verifyRecording(*rt.store, rt.cfg.recordingsDir(), *s, key);
  rt.store->audit({0, "", std::nullopt, "cli", "local", "recording_verify", "session", s->id,
                   "ok", json{{"status", r.status}}.dump()});
  if (g.json) {
    std::cout << r.toJson().dump(2) << "\n";
  } else {
    std::string label = r.status;
    for (auto& ch : label) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::cout << label << ": session " << r.session_id << ": " << r.message << "\n";
    if (r.bad_chunk) std::cout << "first bad chunk: " << *r.bad_chunk << " (byte offset " << r.bad_offset << ")\n";
    if (r.chunk_count) std::cout << "chunks: " << r.chunks_verified << " of " << *r.chunk_count << " verified\n";
    if (r.encrypted) std::cout << "encrypted at rest (verified without the key)\n";
  }
  return r.exitCode();
}

int runVerifyAudit(const GlobalOptions& g) {
  Runtime rt(loadConfig(g.config_file));
  rt.openDatabase([](const std::string&) {});
  std::int64_t rows = 0;
  auto problems = rt.store->verifyAuditChain(rows);
  if (g.json) {
    json items = json::array();
    for (auto& p : problems)
      items.push_back({{"kind", p.kind}, {"id", p.id}, {"chain_seq", p.chain_seq}, {"detail", p.detail}});
    std::cout << json{{"status", problems.empty() ? "intact" : "modified"}, {"rows", rows}, {"problems", items}}.dump(2)
              << "\n";
  } else if (problems.empty()) {
    std::cout << "INTACT: the audit log's " << rows << " rows form an unbroken hash chain\n";
  } else {
    std::cout << "MODIFIED: the audit log's hash chain is broken (" << rows << " rows):\n";
    for (auto& p : problems) std::cout << "  " << p.kind << ": " << p.detail << "\n";
  }
  return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void addVerify(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  static std::string id, pub_file;
  static bool audit = false;
  auto* v = app.add_subcommand(
      "verify", "Verify a session recording's seal (exit 0 intact, 1 modified/truncated, 2 unsealed or no recording, "
                "3 no such session), or with --audit the audit log's hash chain (0 intact, 1 broken)");
  v->add_option("id", id, "Session id");
  v->add_flag("--audit", audit, "Verify the audit log's hash chain instead");
  v->add_option("--public-key", pub_file,
                "Public key file (base64 Ed25519); default <data_dir>/recording-signing.key.pub");
  v->add_flag("--json", g.json, "Print the result as JSON");
  v->callback([&] {
    run = [&] {
      if (audit && !id.empty()) return std::cerr << "vigil verify: give a session id or --audit, not both\n", kExitUsage;
      if (audit) return runVerifyAudit(g);
      if (id.empty()) return std::cerr << "vigil verify: a session id or --audit is required\n", kExitUsage;
      return runVerifySession(g, id, pub_file);
    };
  });
}

}  // namespace vigil::cli
