// Administrative subcommands: migrate, user add|passwd|mfa-reset|lock|unlock, vault rekey, version.
// They open the same database as `vigil serve` (starting the embedded cluster if it is not
// running, and stopping it again afterwards).
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "server/auth/password.hpp"
#include "server/cli/commands.hpp"
#include "server/runtime.hpp"
#include "server/services/user_rules.hpp"

namespace vigil::cli {
namespace {

using json = nlohmann::json;


void say(const GlobalOptions& g, const std::string& s) {
  if (!g.json) std::cerr << s << "\n";
}

std::unique_ptr<Runtime> open(const GlobalOptions& g, bool vault) {
  auto rt = std::make_unique<Runtime>(loadConfig(g.config_file));
  rt->openDatabase([&](const std::string& s) { say(g, s); });
  if (vault) rt->openVault(false);
  return rt;
}

void auditCli(Runtime& rt, const std::string& action, const store::User& u, const std::string& details) {
  const char* login = getlogin();
  rt.store->audit({0, "", std::nullopt, std::string("cli:") + (login ? login : std::to_string(getuid())), "local",
                   action, "user", std::to_string(u.id), "ok", details});
}

/// A password from stdin (--password-stdin) or a generated one-time password.
std::string obtainPassword(bool from_stdin, bool& generated) {
  std::string pw;
  if (from_stdin) {
    std::getline(std::cin, pw);
    if (auto why = auth::passwordPolicyViolation(pw); !why.empty()) {
      crypto::wipe(pw);
      throw std::runtime_error("password: " + why);
    }
    generated = false;
  } else {
    pw = auth::generatePassword(20);
    generated = true;
  }
  return pw;
}

json userOut(const store::User& u) {
  return {{"id", u.id}, {"username", u.username}, {"roles", u.roles}, {"locked", u.locked},
          {"mfa_enrolled", u.totp_enrolled}, {"must_change_password", u.must_change_password}};
}

void printPassword(const GlobalOptions& g, const store::User& u, const std::string& pw, bool generated) {
  if (g.json) {
    json j = userOut(u);
    if (generated) j["one_time_password"] = pw;
    std::cout << j.dump() << std::endl;
  } else if (generated) {
    std::cout << "user " << u.username << ": one-time password " << pw << " (must be changed at first login)" << std::endl;
  } else {
    std::cout << "user " << u.username << ": password set" << std::endl;
  }
}

}  // namespace

void addMigrate(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("migrate", "Apply pending database migrations and exit");
  cmd->add_flag("--json", g.json, "Print the result as JSON");
  cmd->callback([&] {
    run = [&] {
      auto rt = std::make_unique<Runtime>(loadConfig(g.config_file));
      std::vector<std::string> applied;
      rt->openDatabase([&](const std::string& s) { say(g, s); }, false);
      applied = rt->store->migrate(rt->cfg.sql_dir, [&](const std::string& n) { say(g, "applying " + n); });
      int version = rt->store->schemaVersion();
      if (g.json) std::cout << json{{"applied", applied}, {"schema_version", version}}.dump() << std::endl;
      else std::cout << applied.size() << " migration(s) applied; schema version " << version << std::endl;
      return kExitOk;
    };
  });
}

void addUser(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* user = app.add_subcommand("user", "Manage local users");
  user->require_subcommand(1);
  static std::string name, display;
  static std::vector<std::string> roles;
  static bool pw_stdin = false;

  auto* add = user->add_subcommand("add", "Create a local user (prints a one-time password unless --password-stdin)");
  add->add_option("username", name, "Login name")->required();
  add->add_option("-r,--role", roles, "Role (repeatable): superuser, vault_admin, admin, auditor, soc")
      ->required()->check(CLI::IsMember(services::kRoles));
  add->add_option("-d,--display-name", display, "Display name");
  add->add_flag("--password-stdin", pw_stdin, "Read the password from the first line of standard input");
  add->add_flag("--json", g.json, "Print the result as JSON");
  add->callback([&] {
    run = [&] {
      if (auto why = services::usernameViolation(name); !why.empty()) {
        std::cerr << "vigil: user name: " << why << "\n";
        return kExitUsage;
      }
      auto rt = open(g, false);
      if (rt->store->userByName(name)) {
        std::cerr << "vigil: user '" << name << "' already exists\n";
        return kExitFailure;
      }
      bool generated = false;
      std::string pw = obtainPassword(pw_stdin, generated);
      store::User u;
      u.username = name;
      u.display_name = display;
      u.roles = roles;
      u.password_hash = auth::hashPassword(pw, {rt->cfg.auth.argon2_t_cost, rt->cfg.auth.argon2_m_cost_kib,
                                                rt->cfg.auth.argon2_parallelism});
      u.must_change_password = generated;
      auto created = rt->store->createUser(u);
      auditCli(*rt, "user_create", created, json{{"username", name}, {"roles", roles}}.dump());
      printPassword(g, created, pw, generated);
      crypto::wipe(pw);
      return kExitOk;
    };
  });

  auto* passwd = user->add_subcommand("passwd", "Set a user's password (a generated one-time password unless --password-stdin)");
  passwd->add_option("username", name, "Login name")->required();
  passwd->add_flag("--password-stdin", pw_stdin, "Read the password from the first line of standard input");
  passwd->add_flag("--json", g.json, "Print the result as JSON");
  passwd->callback([&] {
    run = [&] {
      auto rt = open(g, false);
      auto u = rt->store->userByName(name);
      if (!u) return std::cerr << "vigil: no user '" << name << "'\n", kExitNotFound;
      if (u->source != "local") return std::cerr << "vigil: '" << name << "' is a directory (LDAP) user\n", kExitFailure;
      bool generated = false;
      std::string pw = obtainPassword(pw_stdin, generated);
      u->password_hash = auth::hashPassword(pw, {rt->cfg.auth.argon2_t_cost, rt->cfg.auth.argon2_m_cost_kib,
                                                 rt->cfg.auth.argon2_parallelism});
      u->must_change_password = generated;
      rt->store->updateUser(*u);
      rt->store->deleteUserPortalSessions(u->id);
      auditCli(*rt, "password_change", *u, R"({"by":"cli"})");
      printPassword(g, *u, pw, generated);
      crypto::wipe(pw);
      return kExitOk;
    };
  });

  struct Simple {
    const char* name;
    const char* help;
    const char* action;
  };
  static const Simple simple[] = {{"mfa-reset", "Remove a user's TOTP enrolment", "mfa_reset"},
                                  {"lock", "Lock a user and end their portal sessions", "user_lock"},
                                  {"unlock", "Unlock a user (also clears a failed-login lockout)", "user_unlock"}};
  for (auto& s : simple) {
    auto* cmd = user->add_subcommand(s.name, s.help);
    cmd->add_option("username", name, "Login name")->required();
    cmd->add_flag("--json", g.json, "Print the result as JSON");
    cmd->callback([&g, &run, &s] {
      run = [&g, &s] {
        auto rt = open(g, false);
        auto u = rt->store->userByName(name);
        if (!u) return std::cerr << "vigil: no user '" << name << "'\n", kExitNotFound;
        const std::string action = s.action;
        if (action == "mfa_reset") {
          rt->store->setTotp(u->id, std::nullopt, false);
        } else {
          u->locked = action == "user_lock";
          rt->store->updateUser(*u);
          if (!u->locked) rt->store->clearLockout(u->id);
          if (u->locked) rt->store->deleteUserPortalSessions(u->id);
        }
        auditCli(*rt, action, *u, R"({"by":"cli"})");
        auto fresh = rt->store->userById(u->id);
        if (g.json) std::cout << userOut(*fresh).dump() << std::endl;
        else std::cout << "user " << name << ": " << s.name << " done" << std::endl;
        return kExitOk;
      };
    });
  }
}

void addVault(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* vault = app.add_subcommand("vault", "Vault maintenance");
  vault->require_subcommand(1);
  auto* rekey = vault->add_subcommand(
      "rekey", "Generate a new master key and re-wrap every data key under it (the server may keep running)");
  rekey->add_flag("--json", g.json, "Print the result as JSON");
  rekey->callback([&] {
    run = [&] {
      auto rt = open(g, true);
      auto rep = rt->vault->rekey([&](std::int64_t done, std::int64_t total) {
        say(g, "re-wrapped " + std::to_string(done) + " of " + std::to_string(total) + " secrets");
      });
      rt->store->audit({0, "", std::nullopt, "cli", "local", "vault_rekey", "vault", rep.new_key_id, "ok",
                        json{{"old_key_id", rep.old_key_id}, {"new_key_id", rep.new_key_id},
                             {"rewrapped", rep.rewrapped}}.dump()});
      if (g.json)
        std::cout << json{{"old_key_id", rep.old_key_id}, {"new_key_id", rep.new_key_id}, {"rewrapped", rep.rewrapped}}.dump()
                  << std::endl;
      else
        std::cout << "master key " << rep.old_key_id << " replaced by " << rep.new_key_id << "; " << rep.rewrapped
                  << " secret(s) re-wrapped" << std::endl;
      return kExitOk;
    };
  });
}

void addVersion(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("version", "Print the version");
  cmd->add_flag("--json", g.json, "Print as JSON");
  cmd->callback([&] {
    run = [&] {
      if (g.json) std::cout << json{{"version", VIGIL_VERSION}}.dump() << std::endl;
      else std::cout << "vigil " << VIGIL_VERSION << std::endl;
      return kExitOk;
    };
  });
}

}  // namespace vigil::cli
