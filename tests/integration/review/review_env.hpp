#pragma once
// Shared by the review tests: the in-process Vigil of tests/integration/sessions, one terminal
// session recorded through the real SessionRecorder from a real bash on a pty (commands, output
// lines, a file operation), and synthetic session rows for the filter/sort/paging cases.
#include <filesystem>
#include <thread>

#include "integration/sessions/pty_shell.hpp"
#include "integration/sessions/sessions_env.hpp"
#include "server/services/ids.hpp"

namespace review_test {

using namespace sessions_test;
using json = nlohmann::json;

inline std::string enc(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += '%', out += hex[c >> 4], out += hex[c & 15];
  }
  return out;
}

struct Recorded {
  std::string id;
  std::string marker;  // unique per run: in the command, the output and the file name
  User owner;
  Env::Fixture f;
  std::string file;  // absolute recording path
};

/// One real terminal session: `echo cmd-<m>` (command), a line only the output shows
/// (`shown-<m>`, built by printf so it is never typed), a 4 s pause, and an SFTP-style upload of
/// /srv/upload-<m>.tar.gz.
inline Recorded& recorded() {
  static Recorded r = [] {
    auto& e = env();
    Recorded x;
    x.marker = uniq("mk");
    for (auto& c : x.marker) if (c == '-') c = 'x';
    x.f = e.fixture();
    x.owner = e.makeUser({"admin"});
    e.store().setMember(x.f.safe.id, x.owner.u.id, {"connect"});
    vigil::proto::ClientInfo client{"ssh", "198.51.100.7:50022", "ssh"};
    auto grant = e.gk().authorizeUser(x.owner.u.id, x.f.account.id, client);
    REQUIRE(grant.status == vigil::proto::Grant::Status::Ok);
    std::string error;
    auto session = e.gk().startSession(grant, client, error);
    REQUIRE(session);
    x.id = session->id();
    {
      PtyShell sh(*session);
      session->channelOpened("shell", "", "xterm", 80, 24);
      REQUIRE(sh.pump(5000, "$ "));
      sh.type("echo cmd-" + x.marker + "\r");
      REQUIRE(sh.pump(3000, "$ "));
      sh.type("printf 'sho%s-" + x.marker + "\\n' wn\r");
      REQUIRE(sh.pump(3000, "$ "));
      sh.pump(4000);  // an idle gap (> 3 s)
      vigil::proto::FileOperation op;
      op.operation = "upload";
      op.path = "/srv/upload-" + x.marker + ".tar.gz";
      op.bytes = 1234;
      op.ok = true;
      session->fileOperation(op);
      sh.type("exit\r");
      sh.pump(500);
      session->end("client_closed", "", sh.fromClient(), sh.toClient());
    }
    e.gk().eventWriter().flush();
    auto row = e.store().sessionById(x.id);
    REQUIRE(row);
    x.file = (e.cfg().recordingsDir() / row->recording_path).string();
    return x;
  }();
  return r;
}

/// A session row without a recording, with the given columns set by SQL.
inline std::string syntheticSession(Env& e, const Env::Fixture& f, const std::string& username,
                                    const std::string& set_sql) {
  vigil::store::SessionRecord s;
  s.id = vigil::services::newUuidV7();
  s.username = username;
  s.account_id = f.account.id;
  s.account_user = "root";
  s.target_id = f.target.id;
  s.target_name = f.target.name;
  s.safe_id = f.safe.id;
  s.safe_name = f.safe.name;
  s.protocol = "ssh";
  s.via = "ssh";
  e.store().insertSession(s);
  if (!set_sql.empty()) e.psql("UPDATE sessions SET " + set_sql + " WHERE id = '" + s.id + "'");
  return s.id;
}

inline std::vector<std::string> idsOf(const json& items) {
  std::vector<std::string> out;
  for (auto& it : items) out.push_back(it.contains("session") ? it["session"]["id"].get<std::string>() : it["id"].get<std::string>());
  return out;
}

}  // namespace review_test
