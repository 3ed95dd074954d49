#pragma once
// `vigil` subcommands. Each returns the process exit code:
// 0 success, 1 failure (message on stderr), 2 usage error, 3 object not found.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vigil::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;

struct GlobalOptions {
  std::string config_file;
  bool json = false;
};

/// Registers a subcommand on `app`; `run` is set to the function to call when it was chosen.
void addServe(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addMigrate(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addUser(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addVault(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addVersion(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addRecordings(CLI::App& app, GlobalOptions& g, std::function<int()>& run);  // recordings ls|export
void addPlay(CLI::App& app, GlobalOptions& g, std::function<int()>& run);
void addRetention(CLI::App& app, GlobalOptions& g, std::function<int()>& run);  // retention run
void addVerify(CLI::App& app, GlobalOptions& g, std::function<int()>& run);  // verify <session> | --audit
void addEvidence(CLI::App& app, GlobalOptions& g, std::function<int()>& run);  // evidence export

}  // namespace vigil::cli
