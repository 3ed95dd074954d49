// POST /api/v1/accounts/{id}/launch: a one-time launch token for the caller and one account,
// with the command line to use it. The token is shown here once; only its hash is stored.
#include <algorithm>
#include <cctype>

#include "server/services/access_requests.hpp"
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

HttpResponse launch(RequestContext& c) {
  if (!c.deps.gatekeeper) throw ApiError(503, "unavailable", "sessions are not enabled on this server");
  allowOnlyFields(c.body, {});
  const auto account_id = c.idParam(0);
  std::string error;
  auto issued = c.deps.gatekeeper->issueLaunchToken(c.user(), account_id, c.req.remote_addr, error);
  if (!issued) {
    // Someone with no permission at all on the safe learns nothing about the account.
    auto a = c.deps.store.accountById(account_id);
    if (!a || safePermissions(c, a->safe_id).empty()) throw ApiError(404, "not_found", "no such account");
    // The portal opens its access request form on this code.
    if (error == services::kApprovalRequiredMessage) throw ApiError(403, "approval_required", error);
    throw ApiError(403, "forbidden", error);
  }
  json body{{"token", issued->token},
            {"expires_at", issued->expires_at},
            {"protocol", issued->account.protocol},
            {"account_id", issued->account.id}};
  const auto& cfg = c.deps.cfg;
  if (issued->account.protocol == "ssh" && cfg.ssh.enabled) {
    const std::string host = cfg.sshPublicHost();
    const std::string port = std::to_string(cfg.ssh.port);
    body["ssh"] = {{"host", host},
                   {"port", cfg.ssh.port},
                   {"user", issued->token},
                   {"command", "ssh -p " + port + " " + issued->token + "@" + host}};
  }
  if (issued->account.protocol == "tds" && cfg.tds_proxy.enabled) {
    // SQL clients log in with the account's SQL login and the token as the password.
    const std::string host = cfg.tds_proxy.public_host.empty() ? cfg.sshPublicHost() : cfg.tds_proxy.public_host;
    const std::string port = std::to_string(cfg.tds_proxy.port);
    const std::string& login = issued->account.username;
    const bool plain = std::all_of(login.begin(), login.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-' || ch == '@';
    });
    std::string quoted = "'";
    for (char ch : login) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    quoted += "'";
    body["tds"] = {{"host", host},
                   {"port", cfg.tds_proxy.port},
                   {"user", login},
                   {"command", "tsql -H " + host + " -p " + port + " -U " + (plain ? login : quoted) + " -P " + issued->token},
                   {"connection_string", "Server=" + host + "," + port + ";User ID=" + login + ";Password=" + issued->token +
                                             ";Encrypt=True;TrustServerCertificate=True"}};
  }
  if (issued->account.protocol == "postgres" && cfg.postgres_proxy.enabled) {
    // The token is the password (psql asks for it; PGPASSWORD works too). The database defaults
    // to the account's name, as libpq's does; the person may change dbname.
    const std::string host = cfg.postgresPublicHost();
    const std::string& user = issued->account.username;
    const std::string conninfo = "host=" + host + " port=" + std::to_string(cfg.postgres_proxy.port) + " user=" + user +
                                 " dbname=" + user + " sslmode=require";
    body["postgres"] = {{"host", host},
                        {"port", cfg.postgres_proxy.port},
                        {"user", user},
                        {"database", user},
                        {"password", issued->token},
                        {"conninfo", conninfo},
                        {"command", "psql \"" + conninfo + "\""}};
  }
  if (issued->account.protocol == "rdp" && cfg.rdp.enabled) {
    // A .rdp file for the person's own client: Vigil's RDP listener, the token as the user name.
    const std::string host = cfg.rdp.public_host.empty() ? cfg.sshPublicHost() : cfg.rdp.public_host;
    const std::string address = host + ":" + std::to_string(cfg.rdp.port);
    // The client offers its clipboard only where the safe lets text cross (Vigil enforces it anyway).
    const bool clipboard = issued->policy.clipboard != "deny";
    const std::string file = "full address:s:" + address + "\r\n" +
                             "username:s:" + issued->token + "\r\n" +
                             "screen mode id:i:1\r\n"
                             "desktopwidth:i:1280\r\n"
                             "desktopheight:i:800\r\n"
                             "session bpp:i:32\r\n"
                             "authentication level:i:0\r\n"
                             "enablecredsspsupport:i:0\r\n"
                             "prompt for credentials:i:0\r\n"
                             "redirectclipboard:i:" + (clipboard ? "1" : "0") + "\r\n" +
                             "redirectprinters:i:0\r\n"
                             "drivestoredirect:s:\r\n"
                             "audiomode:i:2\r\n";
    body["rdp"] = {{"host", host},
                   {"port", cfg.rdp.port},
                   {"user", issued->token},
                   {"filename", issued->account.target_name + ".rdp"},
                   {"file", file},
                   {"command", "xfreerdp /v:" + address + " /u:" + issued->token + " /rfx /cert:ignore" +
                                   (clipboard ? " +clipboard" : " -clipboard")}};
  }
  auto r = jsonResponse(201, body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void addLaunchRoutes(std::vector<Route>& r) { r.push_back({"POST", "/api/v1/accounts/{id}/launch", true, launch}); }

}  // namespace vigil::web
