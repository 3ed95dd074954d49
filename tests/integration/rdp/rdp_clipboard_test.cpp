// The RDP clipboard through `vigil serve`, as each safe's rule says, with real programs only:
// xfreerdp (+clipboard) on a private Xvfb -> Vigil's RDP listener -> xrdp (TLS, the vault's
// password) in front of a private Xvnc, whose clipboard xrdp-chansrv bridges to X selections.
// Text is put on one side's X clipboard with xclip and read on the other side with xclip.
#include <algorithm>
#include <memory>

#include "xrdp_target.hpp"

using namespace rdp_e2e;

namespace {

XrdpTarget& xrdp() {
  static XrdpTarget t(world().tmp());
  return t;
}

struct ClipboardSession {
  std::int64_t account = 0;
  Proc client;
};

/// A safe with clipboard rule `rule`, an account on the xrdp target, and xfreerdp through Vigil
/// with its clipboard on, connected (the target's desktop is up).
ClipboardSession openSession(World& w, const std::string& rule, const std::string& name) {
  auto r = w.env().admin().post("/api/v1/safes", {{"name", uniq("clip-" + name)},
                                                  {"policy", {{"trust_on_first_use", true}, {"clipboard", rule}}}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  REQUIRE(r.json()["policy"]["clipboard"] == rule);
  const std::int64_t safe = r.json()["id"];
  w.grant(safe, w.alice.id);
  const std::int64_t target = w.makeTarget(uniq("xrdp-" + name), xrdp().port(), "");
  auto a = w.env().admin().post("/api/v1/accounts", {{"safe_id", safe}, {"target_id", target}, {"username", "vigil"},
                                                     {"secret_kind", "password"}, {"secret", xrdp().password()}});
  INFO(a.body);
  REQUIRE(a.status == 201);
  ClipboardSession s;
  s.account = a.json()["id"];
  auto l = w.launch(w.alice, s.account);
  // The portal's own command line turns the client's clipboard on only where the safe allows it.
  CHECK(contains(l["rdp"]["command"].get<std::string>(), rule == "deny" ? "-clipboard" : "+clipboard"));
  CHECK(contains(l["rdp"]["file"].get<std::string>(), rule == "deny" ? "redirectclipboard:i:0" : "redirectclipboard:i:1"));
  const std::string log = "xfreerdp-clip-" + name + ".log";
  s.client = w.xfreerdp(l["token"], log, nullptr, "unused", "+clipboard");
  bool up = false;  // the session row exists once Vigil let the client in; the target's desktop follows
  for (int i = 0; i < 100 && !up; ++i) {
    auto list = w.sessionsOf(s.account);
    up = !list.empty() && list.front()["ended_at"].is_null();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO("xfreerdp log: " << readFile(w.tmp() + "/" + log) << "\nxrdp log: " << xrdp().log());
  REQUIRE(up);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the VNC desktop and the clipboard channels' start-up
  REQUIRE(s.client.alive());
  return s;
}

std::vector<json> clipboardRows(World& w, const std::string& sid, std::size_t at_least) {
  std::vector<json> rows;
  for (int i = 0; i < 50; ++i) {
    rows = w.events(sid, "clipboard");
    if (rows.size() >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return rows;
}

/// Share of the pixels of the first frame of `sid`'s video that are not black (luma above 24).
double firstFrameLitShare(World& w, const std::string& sid) {
  std::string video;
  for (int i = 0; i < 50 && video.empty(); ++i) {
    auto r = w.env().admin().get("/api/v1/sessions/" + sid + "/recording/file");
    if (r.status == 200) video = r.body;
    else std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (video.empty()) return -1;
  const std::string mp4 = w.tmp() + "/first-" + sid + ".mp4", raw = w.tmp() + "/first-" + sid + ".gray";
  std::ofstream(mp4, std::ios::binary) << video;
  auto r = vigil::test::runCommand("ffmpeg -v error -y -i " + mp4 + " -frames:v 1 -f rawvideo -pix_fmt gray " + raw);
  if (r.exit_code != 0) return -1;
  const std::string px = readFile(raw);
  std::size_t lit = 0;
  for (const char c : px)
    if (static_cast<unsigned char>(c) > 24) ++lit;
  return px.empty() ? -1 : static_cast<double>(lit) / static_cast<double>(px.size());
}

const json* rowTo(const std::vector<json>& rows, const std::string& direction) {
  for (auto& r : rows)
    if (r["details"]["direction"] == direction) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("the RDP clipboard crosses as the safe says: allow_log relays text both ways and logs it, allow relays "
          "it without the text, deny relays nothing",
          "[rdp][e2e][clipboard]") {
  World& w = world();
  const std::string client_env = w.client().env();
  const std::string target_env = xrdp().env();

  SECTION("allow_log") {
    auto s = openSession(w, "allow_log", "log");
    const std::string from_target = "from-target-" + api_test::randomHex(4);
    Proc owner = setClipboard(target_env, from_target, w.tmp() + "/xclip-target-log.log");
    INFO("xrdp log: " << xrdp().log());
    CHECK(waitClipboard(client_env, from_target, 15000));
    const std::string from_client = "Grüße vom Client " + api_test::randomHex(4);
    Proc owner2 = setClipboard(client_env, from_client, w.tmp() + "/xclip-client-log.log");
    CHECK(waitClipboard(target_env, from_client, 15000));
    CHECK(readClipboard(target_env) == from_client);  // pasted again: relayed again, not logged again
    // A second round each way: every copy crosses (xrdp asks for the data more than once per copy).
    const std::string again_target = "again-target-" + api_test::randomHex(4);
    owner = setClipboard(target_env, again_target, w.tmp() + "/xclip-target-log2.log");
    CHECK(waitClipboard(client_env, again_target, 15000));
    const std::string again_client = "again-client-" + api_test::randomHex(4);
    owner2 = setClipboard(client_env, again_client, w.tmp() + "/xclip-client-log2.log");
    CHECK(waitClipboard(target_env, again_client, 15000));
    s.client.stop();
    const std::string sid = w.endedSession(s.account, 1)["id"];
    auto rows = clipboardRows(w, sid, 4);
    // One row per copy and direction, however often it was pasted.
    CHECK(rows.size() == 4);
    for (const auto& text : {from_target, from_client, again_target, again_client})
      CHECK(std::count_if(rows.begin(), rows.end(), [&](const json& r) { return r["text"] == text; }) == 1);
    INFO("clipboard rows: " << json(rows).dump());
    const json* to_client = rowTo(rows, "to_client");
    const json* to_target = rowTo(rows, "to_target");
    REQUIRE(to_client);
    REQUIRE(to_target);
    CHECK((*to_client)["text"] == from_target);
    CHECK((*to_client)["details"]["logged"] == true);
    CHECK((*to_client)["details"]["chars"] == from_target.size());
    CHECK((*to_target)["text"] == from_client);
    CHECK((*to_target)["details"]["chars"] == 25);  // characters: the text is 27 bytes ("ü" and "ß")
    // Logged text is searchable like typed text.
    auto found = w.env().admin().get("/api/v1/sessions/" + sid + "/events?kind=clipboard&q=" + from_target);
    REQUIRE(found.status == 200);
    CHECK(found.json()["items"].size() == 1);
  }

  SECTION("allow") {
    auto s = openSession(w, "allow", "nolog");
    const std::string from_target = "quiet-" + api_test::randomHex(6);
    Proc owner = setClipboard(target_env, from_target, w.tmp() + "/xclip-target-allow.log");
    CHECK(waitClipboard(client_env, from_target, 15000));
    s.client.stop();
    const std::string sid = w.endedSession(s.account, 1)["id"];
    auto rows = clipboardRows(w, sid, 1);
    INFO("clipboard rows: " << json(rows).dump());
    const json* to_client = rowTo(rows, "to_client");
    REQUIRE(to_client);
    CHECK((*to_client)["text"] == "");
    CHECK((*to_client)["details"]["logged"] == false);
    CHECK((*to_client)["details"]["chars"] == from_target.size());
    // Nowhere in the session's timeline.
    auto all = w.env().admin().get("/api/v1/sessions/" + sid + "/events?limit=500");
    REQUIRE(all.status == 200);
    CHECK_FALSE(contains(all.body, from_target));
  }

  SECTION("nothing crosses while the SOC has the session suspended; it does again after resume") {
    auto s = openSession(w, "allow_log", "suspend");
    const std::string sid = w.sessionsOf(s.account).front()["id"];
    auto r = w.env().admin().post("/api/v1/sessions/" + sid + "/suspend", {{"message", "clipboard check"}});
    REQUIRE(r.status == 200);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const std::string held = "held-" + api_test::randomHex(6);
    Proc owner = setClipboard(target_env, held, w.tmp() + "/xclip-target-suspend.log");
    CHECK_FALSE(waitClipboard(client_env, held, 5000));
    r = w.env().admin().post("/api/v1/sessions/" + sid + "/resume", json::object());
    REQUIRE(r.status == 200);
    CHECK(waitClipboard(client_env, held, 15000));
    s.client.stop();
    w.endedSession(s.account, 1);
    auto rows = clipboardRows(w, sid, 1);
    INFO("clipboard rows: " << json(rows).dump());
    // Only the transfer after resume is on the timeline, after the "resumed" note.
    REQUIRE_FALSE(rows.empty());
    std::int64_t resumed_at = -1;
    for (auto& e : w.events(sid, "lifecycle"))
      if (contains(e["text"].get<std::string>(), "resumed")) resumed_at = e["offset_ms"];
    REQUIRE(resumed_at >= 0);
    for (auto& row : rows) CHECK(row["offset_ms"].get<std::int64_t>() >= resumed_at);
  }

  SECTION("a new session's first picture holds nothing of an earlier session's screen") {
    // An earlier session to the shadow target: its screen is a white xterm.
    auto l = w.launch(w.alice, w.account);
    auto earlier = w.xfreerdp(l["token"], "xfreerdp-before-xrdp.log");
    std::this_thread::sleep_for(std::chrono::seconds(4));
    earlier.stop();
    // The xrdp target's desktop is black; until it has painted, Vigil's copy of it must be too
    // (not memory that held the earlier session's pixels).
    auto s = openSession(w, "allow", "first-frame");
    s.client.stop();
    const std::string sid = w.endedSession(s.account, 1)["id"];
    const double lit = firstFrameLitShare(w, sid);
    INFO("share of lit pixels in the first frame: " << lit);
    CHECK(lit >= 0);
    CHECK(lit < 0.02);
  }

  SECTION("deny") {
    auto s = openSession(w, "deny", "deny");
    const std::string from_target = "denied-" + api_test::randomHex(6);
    Proc owner = setClipboard(target_env, from_target, w.tmp() + "/xclip-target-deny.log");
    CHECK_FALSE(waitClipboard(client_env, from_target, 5000));
    const std::string from_client = "denied-too-" + api_test::randomHex(6);
    Proc owner2 = setClipboard(client_env, from_client, w.tmp() + "/xclip-client-deny.log");
    CHECK_FALSE(waitClipboard(target_env, from_client, 5000));
    s.client.stop();
    const std::string sid = w.endedSession(s.account, 1)["id"];
    CHECK(w.events(sid, "clipboard").empty());
    bool refused_noted = false;
    for (auto& e : w.events(sid, "note"))
      if (contains(e.dump(), "clipboard (cliprdr)")) refused_noted = true;
    CHECK(refused_noted);
  }
}
