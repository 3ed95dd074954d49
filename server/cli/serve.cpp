// `vigil serve`: the main job. First start: data directory, embedded PostgreSQL, migrations,
// master key, TLS certificate and an initial superuser with a one-time password; later starts
// reuse all of it.
#include <signal.h>
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "server/auth/password.hpp"
#include "server/cli/commands.hpp"
#include "server/crypto/tls_cert.hpp"
#include "server/logging.hpp"
#include "server/runtime.hpp"
#include "protocols/postgres/pg_listener.hpp"
#include "protocols/rdp/listener.hpp"
#include "protocols/ssh/listener.hpp"
#include "protocols/ssh/web_terminal.hpp"
#include "protocols/tds/listener.hpp"
#include "server/services/auth_service.hpp"
#include "server/services/gatekeeper.hpp"
#include "server/services/retention.hpp"
#include "server/services/recording_seal.hpp"
#include "server/services/siem_forwarder.hpp"
#include "web/api/api.hpp"
#include "web/https_server.hpp"

namespace vigil::cli {
namespace {

void createInitialSuperuser(Runtime& rt, services::AuthService& auth) {
  if (rt.store->countUsers() > 0) return;
  std::string pw = auth::generatePassword(20);
  store::User u;
  u.username = "admin";
  u.display_name = "Initial superuser";
  u.roles = {"superuser"};
  u.password_hash = auth.hashPassword(pw);
  u.must_change_password = true;
  auto created = rt.store->createUser(u);
  rt.store->audit({0, "", std::nullopt, "vigil", "", "user_create", "user", std::to_string(created.id), "ok",
                   R"({"username":"admin","roles":["superuser"],"initial":true})"});
  // Shown once on the console, never logged; the first login must replace it.
  std::cout << "Initial superuser: admin  password: " << pw << "\n"
            << "  (one-time password: change it at first login)" << std::endl;
  crypto::wipe(pw);
}

int serve(const GlobalOptions& g) {
  Config cfg = loadConfig(g.config_file);
  Runtime rt(cfg);
  if (!rt.lockForServe()) {
    std::cerr << "vigil: another `vigil serve` is already using " << cfg.data_dir << "\n";
    return kExitFailure;
  }
  setupLogging(cfg, true);

  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);  // reloads the risk rules
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto progress = [](const std::string& s) { spdlog::info("{}", s); };
  rt.openDatabase(progress, false);
  // On an existing database the master key is checked before anything (even a migration) is
  // written: a wrong or missing key stops here with the database untouched.
  const bool fresh = rt.store->schemaVersion() == 0;
  if (!fresh) rt.openVault(true);
  rt.migrate(progress);
  if (fresh) rt.openVault(true);
  // Recordings are hash-chained and sealed with this node's key, kept outside the database.
  auto sealing = std::make_shared<services::RecordingSealing>(
      crypto::Ed25519Signer::loadOrCreate(services::recordingSigningKeyPath(rt.cfg.data_dir)), rt.vault.get(),
      rt.store.get());
  services::RecordingSealing::install(sealing);
  services::installRecordingKeys(*rt.vault, *rt.store);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  if (ensureSelfSignedCertificate(cfg.certPath(), cfg.keyPath(), {"localhost", host}))
    spdlog::info("generated a self-signed TLS certificate {} (replace it with tls.cert_file/tls.key_file)",
                 cfg.certPath().string());

  services::AuthService auth(rt.cfg, *rt.store, *rt.vault);
  createInitialSuperuser(rt, auth);
  services::SessionGatekeeper gatekeeper(rt.cfg, *rt.store, *rt.vault, auth);
  // Sessions this node left open when it was killed end now, as "interrupted"; their recordings
  // stay playable up to the last flush.
  if (int n = gatekeeper.closeInterruptedSessions(); n > 0)
    spdlog::warn("closed {} session(s) left open by an earlier crash (end reason: interrupted)", n);

  // SOC controls of live sessions on this node and, by LISTEN/NOTIFY, on the others.
  services::LiveControl live_control(*rt.store, rt.cfg.node.name);
  live_control.start();

  // Risk rules: an unusable file at start stops start-up (later reloads keep the old rules).
  auto risk = std::make_shared<services::RiskService>(
      *rt.store, gatekeeper.eventWriter(),
      services::RiskService::Options{rt.cfg.risk.rules_file, std::chrono::milliseconds(rt.cfg.risk.poll_interval_ms)});
  if (auto r = risk->reload(); !r.ok) {
    std::cerr << "vigil: risk rules " << rt.cfg.risk.rules_file << ": " << r.error.message() << "\n";
    return kExitFailure;
  }
  // lock_user ends the user's other sessions, on every node.
  risk->terminate_user_sessions = [&live_control](std::int64_t user_id, const std::string& reason) {
    live_control.terminateUserSessions(user_id, reason);
  };
  risk->start();
  gatekeeper.setRisk(risk);

  // The SSH listener binds before the portal so that the port shown for launch commands is real.
  std::unique_ptr<ssh::SshListener> ssh_listener;
  if (rt.cfg.ssh.enabled) {
    ssh::ListenerOptions so;
    so.bind_address = rt.cfg.ssh.address;
    so.port = rt.cfg.ssh.port;
    so.host_key_file = rt.cfg.sshHostKeyPath().string();
    so.max_sessions = rt.cfg.ssh.max_sessions;
    so.max_unauthenticated = rt.cfg.ssh.max_unauthenticated;
    so.login_grace_seconds = rt.cfg.ssh.login_grace_seconds;
    so.connect_timeout_seconds = rt.cfg.ssh.connect_timeout_seconds;
    ssh_listener = std::make_unique<ssh::SshListener>(gatekeeper, so);
    std::string error;
    if (!ssh_listener->start(error)) {
      std::cerr << "vigil: SSH listener on " << so.bind_address << ":" << so.port << ": " << error << "\n";
      return kExitFailure;
    }
    rt.cfg.ssh.port = static_cast<std::uint16_t>(ssh_listener->port());
  }

  std::unique_ptr<tds::TdsListener> tds_listener;
  if (rt.cfg.tds_proxy.enabled) {
    tds::ListenerOptions to;
    to.bind_address = rt.cfg.tds_proxy.address;
    to.port = rt.cfg.tds_proxy.port;
    to.cert_file = cfg.certPath().string();
    to.key_file = cfg.keyPath().string();
    to.login_grace_seconds = rt.cfg.tds_proxy.login_grace_seconds;
    to.connect_timeout_seconds = rt.cfg.tds_proxy.connect_timeout_seconds;
    tds_listener = std::make_unique<tds::TdsListener>(gatekeeper, to);
    std::string error;
    if (!tds_listener->start(error)) {
      std::cerr << "vigil: TDS listener on " << to.bind_address << ":" << to.port << ": " << error << "\n";
      return kExitFailure;
    }
    rt.cfg.tds_proxy.port = static_cast<std::uint16_t>(tds_listener->port());
  }
  // The PostgreSQL proxy, also before the portal (its port goes into psql command lines).
  std::unique_ptr<pg::PgListener> pg_listener;
  if (rt.cfg.postgres_proxy.enabled) {
    pg::ListenerOptions po;
    po.bind_address = rt.cfg.postgres_proxy.address;
    po.port = rt.cfg.postgres_proxy.port;
    po.cert_file = cfg.certPath().string();
    po.key_file = cfg.keyPath().string();
    po.allow_cleartext = rt.cfg.postgres_proxy.allow_cleartext;
    po.max_connections = rt.cfg.postgres_proxy.max_connections;
    po.login_grace_seconds = rt.cfg.postgres_proxy.login_grace_seconds;
    po.connect_timeout_seconds = rt.cfg.postgres_proxy.connect_timeout_seconds;
    pg_listener = std::make_unique<pg::PgListener>(gatekeeper, po);
    std::string error;
    if (!pg_listener->start(error)) {
      std::cerr << "vigil: PostgreSQL listener on " << po.bind_address << ":" << po.port << ": " << error << "\n";
      return kExitFailure;
    }
    rt.cfg.postgres_proxy.port = static_cast<std::uint16_t>(pg_listener->port());
  }
  // The RDP listener (issue 6): TLS with the portal's certificate.
  std::unique_ptr<rdp::RdpListener> rdp_listener;
  if (rt.cfg.rdp.enabled) {
    rdp::ListenerOptions ro;
    ro.bind_address = rt.cfg.rdp.address;
    ro.port = rt.cfg.rdp.port;
    ro.cert_file = cfg.certPath().string();
    ro.key_file = cfg.keyPath().string();
    ro.max_sessions = rt.cfg.rdp.max_sessions;
    ro.connect_timeout_seconds = rt.cfg.rdp.connect_timeout_seconds;
    rdp_listener = std::make_unique<rdp::RdpListener>(gatekeeper, ro);
    std::string error;
    if (!rdp_listener->start(error)) {
      std::cerr << "vigil: RDP listener on " << ro.bind_address << ":" << ro.port << ": " << error << "\n";
      return kExitFailure;
    }
    rt.cfg.rdp.port = static_cast<std::uint16_t>(rdp_listener->port());
  }

  web::ApiDeps deps{rt.cfg, *rt.store, *rt.vault, auth};
  deps.gatekeeper = &gatekeeper;
  deps.risk = risk.get();
  // The browser terminal runs through the same proxy core as native ssh clients.
  ssh::WebTerminalOptions wto;
  wto.connect_timeout_seconds = rt.cfg.ssh.connect_timeout_seconds;
  deps.terminal_opener = ssh::makeTerminalOpener(gatekeeper, wto);
  deps.terminal_gatekeeper = &gatekeeper;
  deps.live = &live_control;
  web::Api api(deps);

  web::HttpsServerOptions opts;
  opts.bind_address = cfg.listen.address;
  opts.port = cfg.listen.port;
  opts.cert_file = cfg.certPath().string();
  opts.key_file = cfg.keyPath().string();
  opts.max_body_bytes = cfg.http.max_body_bytes;
  opts.header_timeout_seconds = cfg.http.header_timeout_seconds;
  opts.idle_timeout_seconds = cfg.http.idle_timeout_seconds;
  opts.io_threads = cfg.http.io_threads;
  opts.worker_threads = cfg.http.worker_threads;
  web::HttpsServer server(opts, [&api](const web::HttpRequest& r) { return api.handle(r); });
  server.setWebSocketHandler([&api](const web::HttpRequest& r, web::HttpResponse& refusal) {
    return api.handleWebSocket(r, refusal);
  });
  server.start();

  // SIEM forwarding (docs/siem.md), once the portal URL for the deep links is known.
  services::SiemForwarder siem(rt.cfg, cfg.database.url.empty() ? rt.pg->connectionString() : cfg.database.url,
                               cfg.siem.portal_url.empty() ? cfg.publicUrl(server.port()) : cfg.siem.portal_url);
  siem.start();
  // Retention, legal holds and access-request expiry (issue 8).
  services::RetentionJob retention(rt.cfg, *rt.store);
  retention.start();

  spdlog::info("listening on {}:{}", cfg.listen.address, server.port());
  if (ssh_listener)
    std::cout << "SSH: " << rt.cfg.ssh.address << ":" << ssh_listener->port()
              << "  host key " << ssh_listener->hostKeyFingerprint() << "\n";
  if (tds_listener) std::cout << "TDS: " << rt.cfg.tds_proxy.address << ":" << tds_listener->port() << "\n";
  if (pg_listener)
    std::cout << "PostgreSQL: " << rt.cfg.postgres_proxy.address << ":" << pg_listener->port() << "\n";
  std::cout << "Recording signing key (Ed25519): " << sealing->publicKey() << "\n";
  if (rdp_listener) std::cout << "RDP: " << rt.cfg.rdp.address << ":" << rdp_listener->port() << "\n";
  std::cout << "TLS certificate SHA-256: " << certificateFingerprint(cfg.certPath()) << "\n"
            << "Portal: " << cfg.publicUrl(server.port()) << std::endl;

  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
    auto r = risk->reload();
    rt.store->audit({0, "", std::nullopt, "vigil", "", "risk_rules_reload", "risk_rules", rt.cfg.risk.rules_file,
                     r.ok ? "ok" : "failed",
                     nlohmann::json{{"trigger", "SIGHUP"}, {"version", r.version}, {"rules", r.rules},
                                    {"error", r.error.message()}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }
  spdlog::info("received signal {}, shutting down", sig);
  retention.stop();
  server.stop();
  if (ssh_listener) ssh_listener->stop();  // sessions end as client_closed, recordings closed
  if (tds_listener) tds_listener->stop();
  if (pg_listener) pg_listener->stop();
  if (rdp_listener) rdp_listener->stop();
  siem.stop();  // after the sessions' end events are written and queued
  risk->stop();  // its thread may call live_control, which goes out of scope first
  return kExitOk;  // Runtime's destructor closes the pool and stops the embedded cluster
}

}  // namespace

void addServe(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("serve", "Run the server: HTTPS portal and API (embedded PostgreSQL unless database.url is set)");
  cmd->callback([&] { run = [&] { return serve(g); }; });
}

}  // namespace vigil::cli
