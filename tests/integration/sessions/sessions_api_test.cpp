// The sessions API: who sees which sessions and recordings, keyset paging newest first, bad
// input; the SSH keys API; the safe's channel policy fields.
#include <set>

#include "sessions_env.hpp"
#include "support/vigil_server.hpp"

using namespace sessions_test;
using Status = vigil::proto::Grant::Status;

namespace {

std::string startAndEnd(Env& e, const User& u, std::int64_t account_id) {
  auto client = sshClient();
  auto g = e.gk().authorizeUser(u.u.id, account_id, client);
  INFO(g.message);
  REQUIRE(g.status == Status::Ok);
  std::string error;
  auto s = e.gk().startSession(g, client, error);
  REQUIRE(s);
  s->channelOpened("shell", "", "xterm", 80, 24);
  s->output("$ ");
  s->end("client_closed", "", 0, 2);
  return s->id();
}

std::set<std::string> ids(const vigil::test::HttpResult& r) {
  std::set<std::string> out;
  const json j = r.json();  // kept: a range-for over a temporary's member would dangle
  for (auto& it : j["items"]) out.insert(it["id"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("sessions are visible to their user, to viewers and monitors of the safe, and to superusers only",
          "[integration][sessions][api][authz]") {
  auto& e = env();
  auto f = e.fixture();
  auto other = e.fixture();
  auto owner = e.makeUser({"admin"});
  auto viewer = e.makeUser({"admin"});
  auto monitor = e.makeUser({"soc"});
  auto auditor = e.makeUser({"auditor"});
  auto outsider = e.makeUser({"admin", "vault_admin"});
  e.store().setMember(f.safe.id, owner.u.id, {"connect"});
  e.store().setMember(f.safe.id, viewer.u.id, {"view_recordings"});
  e.store().setMember(f.safe.id, monitor.u.id, {"monitor_live"});
  e.store().setMember(f.safe.id, auditor.u.id, {"connect"});
  e.store().setMember(other.safe.id, outsider.u.id, {"connect", "view_recordings"});
  const std::string id = startAndEnd(e, owner, f.account.id);
  const std::string elsewhere = startAndEnd(e, outsider, other.account.id);
  e.gk().eventWriter().flush();

  CHECK(ids(owner.http->get("/api/v1/sessions")).count(id) == 1);
  CHECK(ids(owner.http->get("/api/v1/sessions")).count(elsewhere) == 0);
  CHECK(ids(viewer.http->get("/api/v1/sessions")).count(id) == 1);
  CHECK(ids(monitor.http->get("/api/v1/sessions")).count(id) == 1);
  CHECK(ids(outsider.http->get("/api/v1/sessions")).count(id) == 0);
  CHECK(ids(e.admin().http->get("/api/v1/sessions")).count(id) == 1);
  CHECK(ids(e.admin().http->get("/api/v1/sessions")).count(elsewhere) == 1);
  CHECK(outsider.http->get("/api/v1/sessions/" + id).status == 404);
  CHECK(outsider.http->get("/api/v1/sessions/" + id + "/events").status == 404);
  CHECK(outsider.http->get("/api/v1/sessions/" + id + "/recording").status == 404);
  CHECK(monitor.http->get("/api/v1/sessions/" + id).status == 200);

  // Recordings: view_recordings (or an auditor member, or a superuser); not the session's own user.
  auto own = owner.http->get("/api/v1/sessions/" + id + "/recording");
  CHECK(own.status == 403);
  CHECK(own.errorCode() == "forbidden");
  auto denied = e.lastAudit("recording_download", id);
  REQUIRE(denied);
  CHECK((*denied)["_outcome"] == "denied");
  CHECK(monitor.http->get("/api/v1/sessions/" + id + "/recording").status == 403);
  CHECK(viewer.http->get("/api/v1/sessions/" + id + "/recording").status == 200);
  CHECK(auditor.http->get("/api/v1/sessions/" + id + "/recording").status == 200);
  CHECK(e.admin().http->get("/api/v1/sessions/" + id + "/recording").status == 200);

  // Filters.
  auto bySafe = e.admin().http->get("/api/v1/sessions?safe_id=" + std::to_string(f.safe.id));
  CHECK(ids(bySafe) == std::set<std::string>{id});
  CHECK(ids(e.admin().http->get("/api/v1/sessions?user_id=" + std::to_string(outsider.u.id))) ==
        std::set<std::string>{elsewhere});
  CHECK(ids(e.admin().http->get("/api/v1/sessions?account_id=" + std::to_string(f.account.id))) ==
        std::set<std::string>{id});
  CHECK(ids(e.admin().http->get("/api/v1/sessions?target_id=" + std::to_string(f.target.id))) ==
        std::set<std::string>{id});
  CHECK(ids(e.admin().http->get("/api/v1/sessions?status=ended&safe_id=" + std::to_string(f.safe.id))).count(id) == 1);
  CHECK(ids(e.admin().http->get("/api/v1/sessions?status=active&safe_id=" + std::to_string(f.safe.id))).empty());
}

TEST_CASE("sessions page newest first with before and next_before", "[integration][sessions][api][paging]") {
  auto& e = env();
  auto f = e.fixture(false);
  auto u = e.makeUser({"admin"});
  e.store().setMember(f.safe.id, u.u.id, {"connect"});
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) made.push_back(startAndEnd(e, u, f.account.id));
  e.gk().eventWriter().flush();
  std::vector<std::string> seen;
  std::string url = "/api/v1/sessions?limit=2&user_id=" + std::to_string(u.u.id);
  std::string next;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = u.http->get(url + (next.empty() ? "" : "&before=" + next));
    REQUIRE(r.status == 200);
    const json j = r.json();
    for (auto& it : j["items"]) seen.push_back(it["id"]);
    if (j["next_before"].is_null()) break;
    next = j["next_before"];
  }
  std::vector<std::string> newestFirst(made.rbegin(), made.rend());
  CHECK(seen == newestFirst);
}

TEST_CASE("the sessions API answers bad input with clear errors", "[integration][sessions][api][badinput]") {
  auto& e = env();
  auto& a = *e.admin().http;
  CHECK(a.get("/api/v1/sessions?status=open").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?before=123").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?before=zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?limit=0").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?user_id=x").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?q=").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?q=%00").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?match=" + std::string(300, 'a')).errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions?match=%27%22%26%7C%21").status == 200);  // tsquery syntax is not interpreted
  CHECK(a.get("/api/v1/sessions/not-a-uuid").status == 404);
  CHECK(a.get("/api/v1/sessions/0190a0b0-0000-7000-8000-000000000000").status == 404);
  CHECK(a.get("/api/v1/sessions/0190a0b0-0000-7000-8000-000000000000/events?kind=x").status == 404);
  auto f = e.fixture(false);
  e.store().setMember(f.safe.id, e.admin().u.id, {"connect"});
  const std::string id = startAndEnd(e, e.admin(), f.account.id);
  CHECK(a.get("/api/v1/sessions/" + id + "/events?kind=keystroke").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions/" + id + "/events?after=-1").errorCode() == "validation_failed");
  CHECK(a.get("/api/v1/sessions").status == 200);  // still serving
}

TEST_CASE("ssh keys: valid keys get OpenSSH's fingerprint, garbage and weak keys are refused",
          "[integration][sessions][api][keys]") {
  auto& e = env();
  auto u = e.makeUser({"admin"});
  const std::string dir = vigil::test::makeTempDir("vigil-keys");
  struct K {
    std::string type, bits;
  };
  std::vector<std::int64_t> created;
  for (const K& k : {K{"ed25519", ""}, K{"ecdsa", "256"}, K{"ecdsa", "384"}, K{"ecdsa", "521"}, K{"rsa", "2048"}}) {
    const std::string f = dir + "/" + k.type + k.bits;
    REQUIRE(vigil::test::runCommand("ssh-keygen -q -N '' -t " + k.type + (k.bits.empty() ? "" : " -b " + k.bits) +
                                    " -C me@laptop -f " + f).exit_code == 0);
    std::string pub = vigil::test::runCommand("cat " + f + ".pub").output;
    std::string expect = vigil::test::runCommand("ssh-keygen -lf " + f + ".pub").output;  // "256 SHA256:... c (ED25519)"
    expect = expect.substr(expect.find(' ') + 1);
    expect = expect.substr(0, expect.find(' '));
    auto r = u.http->post("/api/v1/me/ssh-keys", json{{"public_key", pub}});
    INFO(k.type << k.bits << " " << r.body);
    REQUIRE(r.status == 201);
    CHECK(r.json()["fingerprint"] == expect);
    CHECK(r.json()["comment"] == "me@laptop");
    CHECK(r.json()["algorithm"] == pub.substr(0, pub.find(' ')));
    created.push_back(r.json()["id"]);
    // The same key again is a conflict.
    CHECK(u.http->post("/api/v1/me/ssh-keys", json{{"public_key", pub}}).status == 409);
  }
  REQUIRE(vigil::test::runCommand("ssh-keygen -q -N '' -t rsa -b 1024 -f " + dir + "/weak").exit_code == 0);
  auto weak = u.http->post("/api/v1/me/ssh-keys", json{{"public_key", vigil::test::runCommand("cat " + dir + "/weak.pub").output}});
  CHECK(weak.errorCode() == "validation_failed");
  CHECK(contains(weak.body, "2048"));
  std::string ed = vigil::test::runCommand("cat " + dir + "/ed25519.pub").output;
  for (const std::string& bad :
       {std::string("garbage"), std::string("ssh-ed25519"), std::string("ssh-ed25519 !!!notbase64"),
        std::string("ssh-dss AAAAB3NzaC1kc3MAAACBAP"), std::string("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="),
        "ssh-rsa " + ed.substr(12), "command=\"x\" " + ed, ed.substr(0, 40), std::string(20000, 'a')}) {
    auto r = u.http->post("/api/v1/me/ssh-keys", json{{"public_key", bad}});
    INFO(bad.substr(0, 60) << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(r.errorCode() == "validation_failed");
  }
  CHECK(u.http->post("/api/v1/me/ssh-keys", json{{"public_key", ed}, {"extra", 1}}).status == 400);
  CHECK(u.http->post("/api/v1/me/ssh-keys", json{{"public_key", 5}}).status == 400);
  std::filesystem::remove_all(dir);

  auto list = u.http->get("/api/v1/me/ssh-keys");
  REQUIRE(list.status == 200);
  CHECK(list.json()["items"].size() == created.size());
  // Another user cannot delete them; the owner can, once.
  auto other = e.makeUser({"admin"});
  CHECK(other.http->del("/api/v1/me/ssh-keys/" + std::to_string(created[0])).status == 404);
  CHECK(u.http->del("/api/v1/me/ssh-keys/" + std::to_string(created[0])).status == 204);
  CHECK(u.http->del("/api/v1/me/ssh-keys/" + std::to_string(created[0])).status == 404);
  CHECK(u.http->get("/api/v1/me/ssh-keys").json()["items"].size() == created.size() - 1);
  CHECK(e.lastAudit("ssh_key_add", u.u.username));
  CHECK(e.lastAudit("ssh_key_delete", u.u.username));
}

TEST_CASE("the safe's channel policy is read and written through the API and reaches the grant",
          "[integration][sessions][api][policy]") {
  auto& e = env();
  auto& a = *e.admin().http;
  auto r = a.post("/api/v1/safes", json{{"name", uniq("policy")}});
  REQUIRE(r.status == 201);
  auto p = r.json()["policy"];
  CHECK(p["allow_file_transfer"] == true);
  CHECK(p["allow_port_forwarding"] == false);
  CHECK(p["allow_agent_forwarding"] == false);
  CHECK(p["allow_x11_forwarding"] == false);
  CHECK(p["trust_on_first_use"] == false);
  const auto safe_id = r.json()["id"].get<std::int64_t>();
  auto up = a.patch("/api/v1/safes/" + std::to_string(safe_id),
                    json{{"policy", {{"allow_file_transfer", false}, {"allow_port_forwarding", true},
                                     {"allow_agent_forwarding", true}, {"allow_x11_forwarding", true},
                                     {"trust_on_first_use", true}}}});
  REQUIRE(up.status == 200);
  auto g = a.get("/api/v1/safes/" + std::to_string(safe_id)).json()["policy"];
  CHECK(g["allow_file_transfer"] == false);
  CHECK(g["allow_port_forwarding"] == true);
  CHECK(g["trust_on_first_use"] == true);
  CHECK(g["record_sessions"] == true);  // untouched
  CHECK(a.patch("/api/v1/safes/" + std::to_string(safe_id), json{{"policy", {{"allow_x11_forwarding", "yes"}}}})
            .errorCode() == "validation_failed");

  auto safe = *e.store().safeById(safe_id);
  auto t = e.makeTarget();
  auto acct = e.makeAccount(safe, t);
  auto u = e.makeUser({"admin"}, false);
  e.store().setMember(safe_id, u.u.id, {"connect"});
  auto grant = e.gk().authorizeUser(u.u.id, acct.id, sshClient());
  REQUIRE(grant.status == Status::Ok);
  CHECK_FALSE(grant.policy.allow_file_transfer);
  CHECK(grant.policy.allow_port_forwarding);
  CHECK(grant.policy.allow_agent_forwarding);
  CHECK(grant.policy.allow_x11_forwarding);
  CHECK(grant.policy.trust_on_first_use);
}

TEST_CASE("pg_trgm is installed by the migration on the embedded cluster", "[integration][sessions][schema]") {
  auto& e = env();
  CHECK(e.psql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'") == "pg_trgm");
  CHECK(e.psql("SELECT count(*) FROM pg_indexes WHERE indexname IN ('session_events_fts','session_events_trgm')") == "2");
  CHECK(e.store().schemaVersion() >= 2);
}
