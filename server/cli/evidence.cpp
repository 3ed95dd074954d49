// `vigil evidence export --from D --to D [--safe 1,2] --out DIR [--json]`: the evidence bundle for
// an external auditor (server/services/evidence_bundle.hpp), with progress per session on
// stderr. Audited (actor cli:<login>). Exit 0 written, 1 failed, 2 usage error.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/cli/commands.hpp"
#include "server/runtime.hpp"
#include "server/services/access_report.hpp"
#include "server/services/evidence_bundle.hpp"
#include "server/services/recording_seal.hpp"

namespace vigil::cli {
namespace {

struct Args {
  std::string from, to, safes, out;
};

int runExport(const GlobalOptions& g, const Args& a) {
  bool from_date = false, to_date = false;
  auto from = services::parseReportTime(a.from, from_date);
  auto to = services::parseReportTime(a.to, to_date);
  if (!from || !to)
    return std::cerr << "vigil evidence export: --from and --to must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n", kExitUsage;
  if (to_date) *to += 86400;  // a date `to` includes that whole day
  if (*to <= *from) return std::cerr << "vigil evidence export: --to must be after --from\n", kExitUsage;
  services::EvidenceRequest req;
  req.query.from = services::isoTime(*from);
  req.query.to = services::isoTime(*to);
  std::stringstream ss(a.safes);
  for (std::string part; std::getline(ss, part, ',');) {
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos)
      return std::cerr << "vigil evidence export: --safe must be safe ids separated by commas\n", kExitUsage;
    req.query.safe_ids.push_back(std::stoll(part));
  }
  req.out = a.out;
  Runtime rt(loadConfig(g.config_file));
  const auto key = services::recordingSigningKeyPath(rt.cfg.data_dir);
  if (!std::filesystem::exists(key))
    return std::cerr << "vigil evidence export: no recording signing key at " << key.string()
                     << " (it is made when `vigil serve` first starts)\n", kExitFailure;
  rt.openDatabase([](const std::string&) {});
  req.recordings_dir = rt.cfg.recordingsDir();
  req.verifier = VIGIL_DEFAULT_EVIDENCE_VERIFIER;
  req.node = rt.cfg.node.name;
  const char* login = getlogin();
  const std::string actor = std::string("cli:") + (login ? login : std::to_string(getuid()));
  services::EvidenceSummary sum;
  try {
    auto signer = crypto::Ed25519Signer::loadOrCreate(key);
    sum = services::writeEvidenceBundle(*rt.store, *signer, req, [](std::size_t done, std::size_t total, const std::string& id) {
      std::cerr << "[" << done << "/" << total << "] session " << id << std::endl;
    });
  } catch (const std::exception& e) {
    rt.store->audit({0, "", std::nullopt, actor, "local", "evidence_export", "report", "evidence", "failed",
                     nlohmann::json{{"from", req.query.from}, {"to", req.query.to}, {"error", e.what()}}.dump()});
    return std::cerr << "vigil evidence export: " << e.what() << "\n", kExitFailure;
  }
  const nlohmann::json result{{"out", std::filesystem::absolute(req.out).string()}, {"from", req.query.from},
                              {"to", req.query.to}, {"safe_ids", req.query.safe_ids}, {"sessions", sum.sessions},
                              {"sealed", sum.sealed}, {"unsealed", sum.unsealed},
                              {"without_recording", sum.without_recording}, {"missing", sum.missing},
                              {"recording_bytes", sum.bytes}};
  rt.store->audit({0, "", std::nullopt, actor, "local", "evidence_export", "report", "evidence", "ok", result.dump()});
  if (g.json) {
    std::cout << result.dump(2) << std::endl;
  } else {
    std::cout << "wrote " << result["out"].get<std::string>() << ": " << sum.sessions << " session(s), " << sum.sealed
              << " sealed, " << sum.unsealed << " unsealed, " << sum.without_recording << " without a recording, "
              << (sum.missing ? std::to_string(sum.missing) + " with the recording file MISSING, " : "")
              << sum.bytes << " recording bytes\nverify offline: python3 " << result["out"].get<std::string>()
              << "/verify.py --public-key " << key.string() << ".pub\n";
  }
  return kExitOk;
}

}  // namespace

void addEvidence(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  static Args a;
  auto* ev = app.add_subcommand("evidence", "Evidence for external auditors");
  ev->require_subcommand(1);
  auto* ex = ev->add_subcommand(
      "export", "Write a bundle (access report, recordings as stored, signed manifests, offline verifier) for the "
                "sessions started in a date range");
  ex->add_option("--from", a.from, "First day (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SSZ)")->required();
  ex->add_option("--to", a.to, "Last day (included) or time")->required();
  ex->add_option("--safe", a.safes, "Safe ids, comma-separated (default: all safes)");
  ex->add_option("--out", a.out, "Directory to create (must not exist or be empty)")->required();
  ex->add_flag("--json", g.json, "Print the summary as JSON");
  ex->callback([&] { run = [&] { return runExport(g, a); }; });
}

}  // namespace vigil::cli
