// RDP through `vigil serve`, end to end, with real programs only: xfreerdp (the person's client)
// -> Vigil's RDP listener (launch token as the user name) -> FreeRDP's shadow server (NLA with
// the vault credential) showing an xterm on a private Xvfb.
#include "rdp_env.hpp"
#include <algorithm>
#include <cstdio>
#include <memory>

using namespace rdp_e2e;

namespace {

/// Share of the top `rows` rows of the client's display that show the amber suspension notice.
double amberShare(World& w, int rows) {
  const std::string raw = w.tmp() + "/client-top.rgb";
  auto grab = vigil::test::runCommand(w.client().env() + "ffmpeg -v error -y -f x11grab -video_size 1280x" +
                                      std::to_string(rows) + " -i " + w.client().display() +
                                      " -frames:v 1 -f rawvideo -pix_fmt rgb24 " + raw);
  if (grab.exit_code != 0) return -1;
  const std::string px = readFile(raw);
  std::size_t amber = 0, total = px.size() / 3;
  for (std::size_t i = 0; i + 2 < px.size(); i += 3) {
    const auto r = static_cast<unsigned char>(px[i]), g = static_cast<unsigned char>(px[i + 1]),
               b = static_cast<unsigned char>(px[i + 2]);
    if (r > 200 && g > 120 && g < 190 && b < 60) ++amber;
  }
  return total ? static_cast<double>(amber) / static_cast<double>(total) : 0;
}

/// The pixels of a 48x48 box around the pointer that the pointer itself covers on display `d`
/// (x11grab with and without drawing the pointer, which it reads through XFixes), and where.
struct CursorMask {
  int x = -1, y = -1;
  std::vector<bool> covered;
  std::size_t count() const { return static_cast<std::size_t>(std::count(covered.begin(), covered.end(), true)); }
};
CursorMask cursorMask(World& w, XDisplay& d, const std::string& name) {
  CursorMask m;
  auto loc = vigil::test::runCommand(d.env() + "xdotool getmouselocation --shell");
  if (loc.exit_code != 0) return m;
  std::sscanf(loc.output.c_str() + loc.output.find("X="), "X=%d", &m.x);
  std::sscanf(loc.output.c_str() + loc.output.find("Y="), "Y=%d", &m.y);
  const int gx = std::max(0, m.x - 24), gy = std::max(0, m.y - 24);
  std::string shots[2];
  for (int draw = 0; draw < 2; ++draw) {
    const std::string raw = w.tmp() + "/" + name + "-" + std::to_string(draw) + ".rgb";
    auto grab = vigil::test::runCommand(d.env() + "ffmpeg -v error -y -f x11grab -draw_mouse " + std::to_string(draw) +
                                        " -video_size 48x48 -i " + d.display() + "+" + std::to_string(gx) + "," +
                                        std::to_string(gy) + " -frames:v 1 -f rawvideo -pix_fmt rgb24 " + raw);
    if (grab.exit_code != 0) return m;
    shots[draw] = readFile(raw);
  }
  if (shots[0].size() != 48 * 48 * 3 || shots[1].size() != shots[0].size()) return m;
  for (std::size_t i = 0; i < shots[0].size(); i += 3)
    m.covered.push_back(shots[0].compare(i, 3, shots[1], i, 3) != 0);
  return m;
}

bool waitFileContains(const std::string& path, const std::string& needle, int ms) {
  for (int i = 0; i < ms / 100; ++i) {
    if (contains(readFile(path), needle)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

/// A short recorded session on a safe of its own: `name` names the target and the client log;
/// the text typed is "echo <name> <random>". Returns the ended session's id.
std::string shortSession(World& w, std::int64_t safe_id, const std::string& name) {
  w.grant(safe_id, w.alice.id);
  const std::int64_t account = w.makeAccount(safe_id, w.makeTarget(uniq("win-" + name), w.targetPort(), ""));
  auto l = w.launch(w.alice, account);
  const std::string log = "xfreerdp-" + name + ".log";
  auto client = w.xfreerdp(l["token"], log);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  INFO("xfreerdp log: " << readFile(w.tmp() + "/" + log));
  REQUIRE(client.alive());
  typeInto(w, "echo " + name + " " + api_test::randomHex(4));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  client.stop();
  return w.endedSession(account, 1)["id"];
}

/// The session's video through the API (the end is written asynchronously: retried a while).
std::string fetchVideo(World& w, const std::string& sid) {
  std::string video;
  for (int i = 0; i < 50 && video.empty(); ++i) {
    auto r = w.env().admin().get("/api/v1/sessions/" + sid + "/recording/file");
    if (r.status == 200) video = r.body;
    else std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return video;
}

}  // namespace

TEST_CASE("xfreerdp with a launch token reaches the target through Vigil, typed text arrives, and the session is recorded as video with keystrokes",
          "[rdp][e2e]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.account);
  REQUIRE(l["protocol"] == "rdp");
  REQUIRE(l.contains("rdp"));
  CHECK(contains(l["rdp"]["file"].get<std::string>(), "username:s:" + l["token"].get<std::string>()));
  CHECK(contains(l["rdp"]["file"].get<std::string>(), "full address:s:127.0.0.1:" + S(w.rdpPort())));

  // The person's client asks for clipboard and drive redirection: Vigil relays neither.
  auto client = w.xfreerdp(l["token"], "xfreerdp-ok.log", nullptr, "unused", "+clipboard /drive:share," + w.tmp());
  std::this_thread::sleep_for(std::chrono::seconds(5));
  INFO("xfreerdp log: " << readFile(w.tmp() + "/xfreerdp-ok.log"));
  INFO("vigil log: " << w.env().serverLogs().substr(0, 4000));
  REQUIRE(client.alive());  // still connected

  const std::string marker = "vigil" + api_test::randomHex(4);
  const std::string out = w.tmp() + "/typed.txt";
  typeInto(w, "echo " + marker + " > " + out);
  CHECK(waitFileContains(out, marker, 15000));

  // The target's pointer shapes reach the person's client: over the xterm the target shows an
  // I-beam, over its bare root window another shape; the client's window takes each one.
  // freerdp-shadow handles one queued X event per wake-up, so under load a cursor change can wait
  // for the next one: the pointer goes out and back until the client shows the target's shape.
  {
    const std::string move = w.client().env() + "xdotool search --limit 1 --class xfreerdp mousemove --window %1 ";
    CursorMask on_target, on_client;
    std::size_t differ = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      vigil::test::runCommand(move + "1200 760");
      std::this_thread::sleep_for(std::chrono::milliseconds(800));
      vigil::test::runCommand(move + "400 300");
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      on_target = cursorMask(w, w.targetDisplay(), "cursor-target");
      on_client = cursorMask(w, w.client(), "cursor-client");
      if (on_target.covered.size() != 48 * 48 || on_client.covered.size() != 48 * 48) continue;
      differ = 0;
      for (std::size_t i = 0; i < on_target.covered.size(); ++i) differ += on_target.covered[i] != on_client.covered[i];
      if (on_target.count() > 20 && differ * 5 <= on_target.count()) break;
    }
    REQUIRE(on_target.covered.size() == 48 * 48);
    REQUIRE(on_client.covered.size() == 48 * 48);
    CHECK(on_client.x == on_target.x);
    CHECK(on_client.y == on_target.y);
    INFO("pointer pixels: target " << on_target.count() << ", client " << on_client.count() << ", differing " << differ);
    CHECK(on_target.count() > 20);
    CHECK(differ * 5 <= on_target.count());  // the same shape at the same hot spot
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a few more frames for the video
  REQUIRE(client.alive());
  client.stop();

  auto s = w.endedSession(w.account, 1);
  INFO(s.dump());
  CHECK(s["protocol"] == "rdp");
  CHECK(s["via"] == "rdp");
  CHECK(s["end_reason"] == "client_closed");
  const std::string sid = s["id"];
  {
    std::string refused;
    for (auto& e : w.events(sid, "note"))
      if (contains(e["text"].get<std::string>(), "not relayed")) refused = e["text"];
    INFO(refused);
    CHECK(contains(refused, "clipboard (cliprdr)"));
    CHECK(contains(refused, "drives, printers and smart cards (rdpdr)"));
  }
  {
    // Each shape went to the client (the default on activation, then the target's changes).
    const std::string logs = w.env().serverLogs();
    const auto at = logs.find("session=" + sid + " ended: client_closed (pointer updates: ");
    REQUIRE(at != std::string::npos);
    const long sent = std::atol(logs.c_str() + logs.find(": ", logs.find("pointer updates", at)) + 2);
    CHECK(sent >= 3);
  }

  // Trust on first use pinned the target's certificate.
  auto t = w.env().admin().get("/api/v1/targets/" + S(w.target)).json();
  CHECK(t["certificate_fingerprint"].get<std::string>().size() == 95);  // "AB:CD:…", as the portal shows it

  // The keystroke transcript holds the typed line.
  bool typed = false;
  for (auto& e : w.events(sid, "keystrokes"))
    if (contains(e["text"].get<std::string>(), "echo " + marker)) typed = true;
  CHECK(typed);

  // The video: served with its type, decodable, more than one frame, a real duration.
  std::string video;
  for (int i = 0; i < 50; ++i) {
    auto r = w.env().admin().get("/api/v1/sessions/" + sid + "/recording/file");
    if (r.status == 200 && api_test::header(r, "content-type") == "video/mp4") {
      video = r.body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(video.size() > 1000);
  const std::string file = w.tmp() + "/" + sid + ".mp4";
  std::ofstream(file, std::ios::binary) << video;
  auto probe = vigil::test::runCommand(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,nb_read_frames,width,height "
      "-show_entries format=duration -of json " + file);
  INFO(probe.output);
  REQUIRE(probe.exit_code == 0);
  auto pj = json::parse(probe.output);
  CHECK(pj["streams"][0]["codec_name"] == "av1");  // the default codec of a safe
  CHECK(std::stoi(pj["streams"][0]["nb_read_frames"].get<std::string>()) > 1);
  CHECK(std::stod(pj["format"]["duration"].get<std::string>()) > 3.0);
  CHECK(pj["streams"][0]["width"] == 1280);

  // A range request (the browser's <video> seeks with them).
  auto part = w.env().admin().request("GET", "/api/v1/sessions/" + sid + "/recording/file", "", "",
                                       {{"Range", "bytes=0-99"}});
  CHECK(part.status == 206);
  CHECK(part.body.size() == 100);

  // The video is sealed like terminal recordings: hash-chained and signed; verify says intact.
  auto verify = w.env().server().cli("verify --json " + sid);
  INFO(verify.output);
  CHECK(verify.exit_code == 0);
  auto vj = json::parse(verify.output.substr(verify.output.find('{')));
  CHECK(vj["status"] == "intact");
  CHECK(vj["chunk_count"].get<int>() >= 2);
  CHECK(vj["file_size"].get<std::size_t>() == video.size());
}

TEST_CASE("the SOC watches an RDP session as pictures, suspends it (input dropped), resumes it, and terminates it",
          "[rdp][e2e][live]") {
  auto& w = world();
  const auto before = w.sessionsOf(w.account).size();
  auto l = w.launch(w.alice, w.account);
  auto client = w.xfreerdp(l["token"], "xfreerdp-live.log");
  std::string sid;
  for (int i = 0; i < 100 && sid.empty(); ++i) {
    auto list = w.sessionsOf(w.account);
    if (list.size() > before && list.front()["ended_at"].is_null()) sid = list.front()["id"];
    else std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO("xfreerdp log: " << readFile(w.tmp() + "/xfreerdp-live.log"));
  REQUIRE(!sid.empty());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(client.alive());

  // Watching: the picture's size, then JPEG pictures of the target's screen.
  vigil::test::WsClient watcher(w.env().port());
  REQUIRE(!watcher.connect("/api/v1/sessions/" + sid + "/watch", w.env().admin().cookie()));
  std::string jpeg;
  json announced;
  for (int i = 0; i < 20 && jpeg.empty(); ++i) {
    auto m = watcher.read(std::chrono::seconds(10));
    REQUIRE(!m.ec);
    if (m.text) announced = json::parse(m.data);
    else jpeg = m.data;
  }
  INFO(announced.dump());
  CHECK(announced["type"] == "image");
  CHECK(announced["width"] == 1280);
  REQUIRE(jpeg.size() > 1000);
  CHECK(jpeg.substr(0, 3) == std::string("\xff\xd8\xff", 3));
  const std::string picture = w.tmp() + "/live.jpg";
  std::ofstream(picture, std::ios::binary) << jpeg;
  auto probe = vigil::test::runCommand("ffprobe -v error -show_entries stream=codec_name,width,height -of json " + picture);
  INFO(probe.output);
  REQUIRE(probe.exit_code == 0);
  CHECK(json::parse(probe.output)["streams"][0]["width"] == 1280);
  CHECK(json::parse(probe.output)["streams"][0]["height"] == 800);

  // Suspend: what the person types does not reach the target.
  auto r = w.env().admin().post("/api/v1/sessions/" + sid + "/suspend", {{"message", "checking a change ticket"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  const std::string held = w.tmp() + "/held.txt", after = w.tmp() + "/after.txt";
  typeInto(w, "echo held > " + held);
  CHECK_FALSE(waitFileContains(held, "held", 4000));
  // The person sees why: a notice across the top of their picture (not in the target's screen).
  CHECK(amberShare(w, 30) > 0.5);
  auto events = w.events(sid, "lifecycle");
  bool noted = false;
  for (auto& e : events)
    if (contains(e["text"].get<std::string>(), "suspended: checking a change ticket")) noted = true;
  CHECK(noted);

  // Resume: input reaches the target again.
  r = w.env().admin().post("/api/v1/sessions/" + sid + "/resume", json::object());
  REQUIRE(r.status == 200);
  const std::string marker = "back" + api_test::randomHex(4);
  typeInto(w, "echo " + marker + " > " + after);
  CHECK(waitFileContains(after, marker, 15000));
  CHECK(amberShare(w, 30) < 0.05);  // the notice is gone
  // New pictures came while the screen changed.
  std::size_t pictures = 0;
  for (int i = 0; i < 10 && pictures == 0; ++i) {
    auto m = watcher.read(std::chrono::seconds(5));
    if (m.ec) break;
    if (!m.text) ++pictures;
  }
  CHECK(pictures >= 1);

  // Terminate: xfreerdp is disconnected, the session ends as terminated, the watcher is told.
  r = w.env().admin().post("/api/v1/sessions/" + sid + "/terminate", {{"reason", "policy violation"}});
  REQUIRE(r.status == 200);
  CHECK(client.waitExit(20000));
  CHECK(watcher.readUntilClosed(std::chrono::seconds(20)));
  bool told = false;
  for (auto& t : watcher.texts)
    if (t.is_object() && t.value("type", "") == "closed" && contains(t.value("message", ""), "terminated")) told = true;
  CHECK(told);
  auto s = w.endedSession(w.account, before + 1);
  CHECK(s["id"] == sid);
  CHECK(s["end_reason"] == "terminated");
}

TEST_CASE("a safe's video settings (AV1, a frame-rate cap, low quality) are what its RDP recordings use",
          "[rdp][e2e][video]") {
  auto& w = world();
  // Bad settings are refused with a clear message.
  auto bad = w.env().admin().post("/api/v1/safes", {{"name", uniq("rdp-bad")}, {"policy", {{"video_codec", "hevc"}}}});
  CHECK(bad.status == 400);
  CHECK(contains(bad.body, "video_codec"));
  bad = w.env().admin().post("/api/v1/safes", {{"name", uniq("rdp-bad")}, {"policy", {{"video_max_fps", 0}}}});
  CHECK(bad.status == 400);

  auto safe = w.env().admin().post("/api/v1/safes", {{"name", uniq("rdp-av1")},
                                                     {"policy", {{"trust_on_first_use", true}, {"video_codec", "av1"},
                                                                 {"video_max_fps", 2}, {"video_quality", "low"}}}});
  INFO(safe.body);
  REQUIRE(safe.status == 201);
  CHECK(safe.json()["policy"]["video_codec"] == "av1");
  CHECK(safe.json()["policy"]["video_max_fps"] == 2);
  CHECK(safe.json()["policy"]["video_quality"] == "low");
  const std::string sid = shortSession(w, safe.json()["id"], "av1");
  const std::string video = fetchVideo(w, sid);
  REQUIRE(video.size() > 500);
  const std::string file = w.tmp() + "/" + sid + ".mp4";
  std::ofstream(file, std::ios::binary) << video;
  auto probe = vigil::test::runCommand(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,nb_read_frames "
      "-show_entries format=duration -of json " + file);
  INFO(probe.output);
  REQUIRE(probe.exit_code == 0);
  auto pj = json::parse(probe.output);
  CHECK(pj["streams"][0]["codec_name"] == "av1");
  const double seconds = std::stod(pj["format"]["duration"].get<std::string>());
  const int frames = std::stoi(pj["streams"][0]["nb_read_frames"].get<std::string>());
  CHECK(seconds > 5.0);
  // At most 2 changed frames a second (plus the last picture repeated at the end).
  CHECK(frames <= static_cast<int>(seconds * 2) + 2);
}

TEST_CASE("a safe that encrypts recordings: the RDP video is encrypted at rest and plays and seeks through the API",
          "[rdp][e2e][encryption]") {
  auto& w = world();
  auto safe = w.env().admin().post("/api/v1/safes", {{"name", uniq("rdp-enc")},
                                                     {"policy", {{"trust_on_first_use", true}, {"encrypt_recordings", true}}}});
  INFO(safe.body);
  REQUIRE(safe.status == 201);
  const std::string sid = shortSession(w, safe.json()["id"], "encrypted");

  // On disk: the encrypted-recording preamble, no MP4 box in the clear.
  const std::string rel = w.env().psql("SELECT recording_path FROM sessions WHERE id = '" + sid + "'");
  REQUIRE_FALSE(rel.empty());
  const std::string on_disk = readFile(w.env().server().dataDir() + "/recordings/" + rel);
  CHECK(on_disk.rfind("VIGIL-ENC v1 " + sid + " ", 0) == 0);
  CHECK(on_disk.find("ftyp") == std::string::npos);
  CHECK(on_disk.find("moof") == std::string::npos);

  // Through the API: the plaintext MP4, whole and by ranges (what the player's <video> asks).
  const std::string video = fetchVideo(w, sid);
  REQUIRE(video.size() > 1200);
  CHECK(video.substr(4, 4) == "ftyp");
  CHECK(video.size() < on_disk.size());
  auto part = w.env().admin().request("GET", "/api/v1/sessions/" + sid + "/recording/file", "", "",
                                       {{"Range", "bytes=100-1099"}});
  REQUIRE(part.status == 206);
  CHECK(part.body == video.substr(100, 1000));
  CHECK(part.headers["content-range"] == "bytes 100-1099/" + std::to_string(video.size()));
  auto tail = w.env().admin().request("GET", "/api/v1/sessions/" + sid + "/recording/file", "", "",
                                       {{"Range", "bytes=-10"}});
  REQUIRE(tail.status == 206);
  CHECK(tail.body == video.substr(video.size() - 10));
  auto beyond = w.env().admin().request("GET", "/api/v1/sessions/" + sid + "/recording/file", "", "",
                                         {{"Range", "bytes=" + std::to_string(video.size()) + "-"}});
  CHECK(beyond.status == 416);
  const std::string file = w.tmp() + "/" + sid + "-enc.mp4";
  std::ofstream(file, std::ios::binary) << video;
  auto probe = vigil::test::runCommand("ffprobe -v error -show_entries format=duration -of csv=p=0 " + file);
  INFO(probe.output);
  REQUIRE(probe.exit_code == 0);
  CHECK(std::stod(probe.output) > 5.0);

  // Sealed like any recording: the chain covers the ciphertext and verifies without the key.
  auto verify = w.env().server().cli("verify --json " + sid);
  INFO(verify.output);
  CHECK(verify.exit_code == 0);
  auto vj = json::parse(verify.output.substr(verify.output.find('{')));
  CHECK(vj["status"] == "intact");
  CHECK(vj["encrypted"] == true);
  CHECK(vj["file_size"].get<std::size_t>() == on_disk.size());
  // The CLI exports the decrypted video for an administrator.
  const std::string exported = w.tmp() + "/" + sid + "-export.mp4";
  auto ex = w.env().server().cli("recordings export " + sid + " --format video -o " + exported);
  INFO(ex.output);
  CHECK(ex.exit_code == 0);
  CHECK(readFile(exported) == video);
  CHECK(w.env().server().cli("recordings export " + sid + " --format vid").exit_code == 2);
}

TEST_CASE("an identity login (vigiluser%account%target) with the Vigil password, and with TOTP the code after it, opens an RDP session",
          "[rdp][e2e][identity]") {
  auto& w = world();
  Principal bob = w.env().makeUser({});
  w.grant(w.tofu_safe, bob.id);
  const std::string target_name = w.env().admin().get("/api/v1/targets/" + S(w.target)).json()["name"];
  const std::string login = bob.username + "%" + w.targetUser() + "%" + target_name;
  auto sessionsOfBob = [&] {
    std::vector<json> out;
    for (auto& s : w.sessionsOf(w.account))
      if (s["username"] == bob.username) out.push_back(s);
    return out;
  };
  auto connectedSession = [&](std::size_t count) -> json {
    for (int i = 0; i < 100; ++i) {
      auto list = sessionsOfBob();
      if (list.size() >= count && list.front()["active"] == true) return list.front();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {};
  };

  // The Vigil password alone (no TOTP yet): the session opens as bob, with the vault credential.
  {
    auto client = w.xfreerdp(login, "xfreerdp-identity.log", nullptr, bob.password);
    const json s = connectedSession(1);
    INFO("xfreerdp log: " << readFile(w.tmp() + "/xfreerdp-identity.log"));
    REQUIRE(!s.is_null());
    CHECK(s["via"] == "rdp");
    CHECK(s["account_user"] == w.targetUser());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(client.alive());
  }
  // A wrong password: refused and audited, no session.
  {
    auto client = w.xfreerdp(login, "xfreerdp-identity-bad.log", nullptr, "not-" + bob.password);
    CHECK(client.waitExit(30000));
    CHECK(w.auditCount("session_refused", "bad_password") >= 1);
  }
  // bob enrols TOTP: the password alone is refused now; the password followed by the code opens it.
  auto en = bob.http().post("/api/v1/me/mfa/enroll", json::object());
  REQUIRE(en.status == 200);
  const auto key = api_test::base32Decode(en.json()["secret"].get<std::string>());
  const std::uint64_t confirm_step = api_test::nowStep();
  REQUIRE(bob.http().post("/api/v1/me/mfa/confirm", {{"code", api_test::totpAt(key, confirm_step)}}).status == 200);
  {
    const int before = w.auditCount("session_refused", "totp_missing");
    auto client = w.xfreerdp(login, "xfreerdp-identity-nototp.log", nullptr, bob.password);
    CHECK(client.waitExit(30000));
    CHECK(w.auditCount("session_refused", "totp_missing") == before + 1);  // the SOC sees the attempt
  }
  {
    const std::string code = api_test::totpAt(key, std::max(api_test::nowStep(), confirm_step + 1));
    auto client = w.xfreerdp(login, "xfreerdp-identity-totp.log", nullptr, bob.password + code);
    const json s = connectedSession(2);
    INFO("xfreerdp log: " << readFile(w.tmp() + "/xfreerdp-identity-totp.log"));
    REQUIRE(!s.is_null());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(client.alive());
  }
  CHECK(sessionsOfBob().size() == 2);  // the refused attempts opened none
}

TEST_CASE("several first sessions to a new target at the same moment all connect, and its certificate is pinned once",
          "[rdp][e2e][tofu]") {
  auto& w = world();
  // A target nobody has connected to yet (no pin), on a trust-on-first-use safe.
  const std::int64_t target = w.makeTarget(uniq("win-new"), w.targetPort(), "");
  const std::int64_t account = w.makeAccount(w.tofu_safe, target);
  std::vector<std::unique_ptr<XDisplay>> displays;
  std::vector<Proc> clients;
  for (int i = 0; i < 3; ++i) displays.push_back(std::make_unique<XDisplay>(w.tmp(), "tofu-" + S(i)));
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) tokens.push_back(w.launch(w.alice, account)["token"]);
  for (int i = 0; i < 3; ++i) clients.push_back(w.xfreerdp(tokens[i], "xfreerdp-tofu-" + S(i) + ".log", displays[i].get()));
  std::this_thread::sleep_for(std::chrono::seconds(8));
  int alive = 0;
  for (auto& c : clients) alive += c.alive() ? 1 : 0;
  for (auto& s : w.sessionsOf(account)) {
    INFO(s.dump());
    CHECK(s["end_reason"] != "host_key_mismatch");
  }
  CHECK(alive == 3);
  clients.clear();
  auto t = w.env().admin().get("/api/v1/targets/" + S(target)).json();
  CHECK(t["certificate_fingerprint"].get<std::string>().size() == 95);
}

TEST_CASE("a wrong launch token is refused, audited, and no session is opened", "[rdp][e2e][refusal]") {
  auto& w = world();
  const auto before = w.sessionsOf(w.account).size();
  auto client = w.xfreerdp("abcdefghijklmnopqrstuvwxyz234567", "xfreerdp-bad.log");
  CHECK(client.waitExit(20000));  // Vigil disconnects it
  CHECK(w.sessionsOf(w.account).size() == before);
  CHECK(w.auditCount("session_refused", "rdp") >= 1);
  // The listener keeps serving: a good token still works afterwards (checked by the next test).
}

TEST_CASE("a target certificate that does not match the pinned fingerprint ends the session as host_key_mismatch",
          "[rdp][e2e][refusal]") {
  auto& w = world();
  auto l = w.launch(w.alice, w.bad_account);
  auto client = w.xfreerdp(l["token"], "xfreerdp-mitm.log");
  CHECK(client.waitExit(30000));
  auto s = w.endedSession(w.bad_account, 1);
  CHECK(s["end_reason"] == "host_key_mismatch");
  CHECK(w.auditCount("session_end", "host_key_mismatch") >= 1);
}

TEST_CASE("random bytes and a truncated handshake on the RDP port are dropped and the listener keeps serving",
          "[rdp][e2e][bad-input]") {
  auto& w = world();
  auto send = [&](const std::string& bytes) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(w.rdpPort()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    (void)!write(fd, bytes.data(), bytes.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    close(fd);
  };
  std::string noise;
  for (int i = 0; i < 4096; ++i) noise += static_cast<char>(std::rand() & 0xff);
  send(noise);
  // A TPKT header announcing an X.224 connection request, cut short.
  send(std::string("\x03\x00\x00\x2c\x27\xe0\x00\x00", 8));
  send("");
  auto l = w.launch(w.alice, w.account);
  auto client = w.xfreerdp(l["token"], "xfreerdp-after-noise.log");
  std::this_thread::sleep_for(std::chrono::seconds(5));
  INFO(readFile(w.tmp() + "/xfreerdp-after-noise.log"));
  CHECK(client.alive());
  client.stop();
}
