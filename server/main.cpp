// vigil: the privileged session manager. `vigil --help` lists the subcommands.
#include <malloc.h>
#include <stdlib.h>

#include <iostream>

#include "server/cli/commands.hpp"
#include "server/config.hpp"

int main(int argc, char** argv) {
  // One thread per SSH session: glibc would give many of them a malloc arena of their own, which
  // dominates the memory of idle sessions (bench/ssh). Two arenas are plenty for this workload.
  mallopt(M_ARENA_MAX, 2);
  // The AV1 video encoder (SVT-AV1) prints its configuration to stderr at every session: errors
  // only, unless the operator set SVT_LOG. Set before any thread starts (setenv is not thread-safe).
  setenv("SVT_LOG", "1", 0);
  CLI::App app{"Vigil - privileged session manager: vault, session proxy, recording, review"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(VIGIL_VERSION));
  vigil::cli::GlobalOptions g;
  app.add_option("-c,--config", g.config_file, "YAML configuration file (docs/config.md); default: built-in defaults")
      ->envname("VIGIL_CONFIG");
  std::function<int()> run;
  vigil::cli::addServe(app, g, run);
  vigil::cli::addMigrate(app, g, run);
  vigil::cli::addUser(app, g, run);
  vigil::cli::addVault(app, g, run);
  vigil::cli::addVersion(app, g, run);
  vigil::cli::addRecordings(app, g, run);
  vigil::cli::addPlay(app, g, run);
  vigil::cli::addRetention(app, g, run);
  vigil::cli::addVerify(app, g, run);
  vigil::cli::addEvidence(app, g, run);
  // `vigil serve -c file` as well as `vigil -c file serve`: subcommands pass unknown options up.
  std::function<void(CLI::App*)> fallthrough = [&](CLI::App* a) {
    for (auto* sub : a->get_subcommands({})) {
      sub->fallthrough();
      fallthrough(sub);
    }
  };
  fallthrough(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return vigil::cli::kExitUsage;
  }
  try {
    return run ? run() : vigil::cli::kExitUsage;
  } catch (const vigil::ConfigError& e) {
    std::cerr << "vigil: " << e.what() << "\n";
    return vigil::cli::kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "vigil: " << e.what() << "\n";
    return vigil::cli::kExitFailure;
  }
}
