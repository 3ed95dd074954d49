// `vigil retention run [--dry-run] [--json]`: one retention run now (the same job `vigil serve`
// runs in the background), with progress per batch on stderr. Audited (actor cli:<login>).
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "server/cli/commands.hpp"
#include "server/runtime.hpp"
#include "server/services/retention.hpp"

namespace vigil::cli {
namespace {

int runRetention(const GlobalOptions& g, bool dry_run) {
  Runtime rt(loadConfig(g.config_file));
  rt.openDatabase([](const std::string&) {});
  const char* login = getlogin();
  const std::string actor = std::string("cli:") + (login ? login : std::to_string(getuid()));
  services::RetentionJob job(rt.cfg, *rt.store);
  auto rep = job.runOnce(dry_run, actor, [&](const services::RetentionReport& r) {
    std::cerr << (dry_run ? "would delete " : "deleted ") << r.deleted << " of " << r.due << " session(s) due"
              << (r.failed ? ", " + std::to_string(r.failed) + " failed" : "") << std::endl;
  });
  rt.store->audit({0, "", std::nullopt, actor, "local", "retention_run", "retention", "", "ok",
                   nlohmann::json{{"dry_run", dry_run}, {"deleted", rep.deleted}, {"due", rep.due},
                                  {"failed", rep.failed}}.dump()});
  if (g.json) {
    std::cout << nlohmann::json{{"dry_run", rep.dry_run}, {"due", rep.due}, {"deleted", rep.deleted},
                                {"events_deleted", rep.events_deleted}, {"files_deleted", rep.files_deleted},
                                {"moved_cold", rep.moved_cold}, {"failed", rep.failed},
                                {"session_ids", rep.session_ids}}.dump()
              << std::endl;
  } else {
    std::cout << (dry_run ? "dry run: " : "") << rep.deleted << " session(s) " << (dry_run ? "due for deletion" : "deleted")
              << ", " << rep.files_deleted << " file(s), " << rep.events_deleted << " timeline row(s), "
              << rep.moved_cold << " moved to the cold tier, " << rep.failed << " failed" << std::endl;
    for (auto& id : rep.session_ids) std::cout << "  " << id << "\n";
  }
  return rep.failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void addRetention(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* ret = app.add_subcommand("retention", "Retention of recordings (safe retention classes, legal holds)");
  ret->require_subcommand(1);
  static bool dry_run = false;
  auto* r = ret->add_subcommand("run", "Delete recordings and timelines of ended sessions past retention now");
  r->add_flag("--dry-run", dry_run, "Only list the sessions that would be deleted");
  r->add_flag("--json", g.json, "Print the report as JSON");
  r->callback([&] { run = [&] { return runRetention(g, dry_run); }; });
}

}  // namespace vigil::cli
