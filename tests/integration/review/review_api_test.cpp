// The review API on a session recorded from a real bash through the real SessionRecorder:
// search hits (command, output line, file name) with offsets and highlights, playback index and
// snapshots, the recording file with ranges, authorization, reviews, comments, the queue, audit
// rows; and on synthetic rows: every filter, sorts, keyset paging under inserts, bad input.
#include <fstream>
#include <set>

#include "review_env.hpp"

using namespace review_test;

namespace {

json hitsOf(const json& items, const std::string& id) {
  for (auto& it : items)
    if (it["session"]["id"] == id) return it["hits"];
  return json::array();
}

std::string highlighted(const json& hit) {
  auto s = hit["snippet"].get<std::string>();
  auto h = hit["highlights"][0];
  return s.substr(h[0].get<std::size_t>(), h[1].get<std::size_t>() - h[0].get<std::size_t>());  // ASCII here
}

User auditorOf(Env& e, const Env::Fixture& f) {
  auto a = e.makeUser({"auditor"});
  e.store().setMember(f.safe.id, a.u.id, {"view_recordings"});
  return a;
}

}  // namespace

TEST_CASE("search finds a typed command, a line only the output showed and a file name, with offsets and highlights",
          "[integration][review][search]") {
  auto& e = env();
  auto& r = recorded();
  auto& admin = *e.admin().http;
  for (auto [text, kind] : {std::pair<std::string, std::string>{"cmd-" + r.marker, "command"},
                            {"shown-" + r.marker, "output"},
                            {"upload-" + r.marker + ".tar.gz", "file"}}) {
    auto res = admin.get("/api/v1/search?text=" + enc(text));
    INFO(text << " -> " << res.body.substr(0, 600));
    REQUIRE(res.status == 200);
    auto j = res.json();
    auto hits = hitsOf(j["items"], r.id);
    REQUIRE(!hits.empty());
    bool found = false;
    for (auto& h : hits) {
      if (h["kind"] != kind) continue;
      found = true;
      CHECK(h["offset_ms"].get<std::int64_t>() >= 0);
      CHECK(h["offset_ms"].get<std::int64_t>() < 60000);
      CHECK(h["event_id"].get<std::int64_t>() > 0);
      CHECK(highlighted(h) == text);
      CHECK(h["at"].get<std::string>().size() == 20);
    }
    CHECK(found);
    CHECK(j["items"].size() == 1);  // the marker is unique to this session
  }
  // Case-insensitive substring with punctuation, and whole words.
  auto up = admin.get("/api/v1/search?text=" + enc("ECHO CMD-" + r.marker));
  CHECK(idsOf(up.json()["items"]) == std::vector<std::string>{r.id});
  // Search combines with filters.
  CHECK(admin.get("/api/v1/search?text=" + enc("cmd-" + r.marker) + "&protocol=rdp").json()["items"].empty());
  CHECK(idsOf(admin.get("/api/v1/search?text=" + enc("cmd-" + r.marker) + "&user=" + r.owner.u.username).json()["items"]) ==
        std::vector<std::string>{r.id});
  // Injection strings are just text.
  auto inj = admin.get("/api/v1/search?text=" + enc("'; DROP TABLE sessions; --"));
  CHECK(inj.status == 200);
  CHECK(inj.json()["items"].empty());
  CHECK(e.psql("SELECT count(*) > 0 FROM sessions") == "t");
  CHECK(admin.get("/api/v1/search").status == 400);
  CHECK(admin.get("/api/v1/search?text=").status == 400);
}

TEST_CASE("the session's timeline has output events; kind lists and text filter the events",
          "[integration][review][events]") {
  auto& e = env();
  auto& r = recorded();
  auto j = e.admin().http->get("/api/v1/sessions/" + r.id + "/events?kind=output,file&limit=100").json();
  bool output = false, file = false;
  for (auto& ev : j["items"]) {
    CHECK((ev["kind"] == "output" || ev["kind"] == "file"));
    if (ev["kind"] == "output" && contains(ev["text"].get<std::string>(), "shown-" + r.marker)) output = true;
    if (ev["kind"] == "file") file = true;
  }
  CHECK(output);
  CHECK(file);
  auto q = e.admin().http->get("/api/v1/sessions/" + r.id + "/events?q=" + enc("cmd-" + r.marker)).json();
  CHECK(!q["items"].empty());
  CHECK(e.admin().http->get("/api/v1/sessions/" + r.id + "/events?kind=bogus").status == 400);
}

TEST_CASE("the playback index and a chunk: the screen at t shows the command's output, idle gaps, one audit row",
          "[integration][review][playback]") {
  auto& e = env();
  auto& r = recorded();
  auto auditor = auditorOf(e, r.f);
  auto& http = *auditor.http;
  auto before = e.audit("recording_play").size();
  auto idx = http.get("/api/v1/sessions/" + r.id + "/playback/index");
  INFO(idx.body.substr(0, 500));
  REQUIRE(idx.status == 200);
  auto j = idx.json();
  CHECK(j["width"] == 80);
  CHECK(j["height"] == 24);
  CHECK(j["active"] == false);
  CHECK(j["damaged"].is_null());
  const auto duration = j["duration_ms"].get<std::int64_t>();
  CHECK(duration > 3000);
  REQUIRE(!j["idle_gaps"].empty());
  CHECK(j["idle_gaps"][0][1].get<std::int64_t>() - j["idle_gaps"][0][0].get<std::int64_t>() > 3000);
  CHECK(j["markers"].is_array());
  REQUIRE(http.get("/api/v1/sessions/" + r.id + "/playback/index").status == 200);
  CHECK(e.audit("recording_play").size() == before + 1);  // once per viewer per session per hour

  // The screen at the start of the pause after printf (the longest gap) shows its output.
  json longest = j["idle_gaps"][0];
  for (auto& g : j["idle_gaps"])
    if (g[1].get<std::int64_t>() - g[0].get<std::int64_t>() > longest[1].get<std::int64_t>() - longest[0].get<std::int64_t>())
      longest = g;
  const auto at = longest[0].get<std::int64_t>() + 1;
  auto c = http.get("/api/v1/sessions/" + r.id + "/playback?from_ms=" + std::to_string(at) +
                    "&to_ms=" + std::to_string(duration + 1));
  REQUIRE(c.status == 200);
  auto cj = c.json();
  CHECK(cj["snapshot"].get<std::string>().rfind("\x1b[0m\x1b[H\x1b[2J", 0) == 0);
  CHECK(contains(cj["snapshot"].get<std::string>(), "shown-" + r.marker));
  CHECK(cj["end"] == true);
  for (auto& ev : cj["events"]) {
    CHECK(ev[0].get<std::int64_t>() >= at);
    CHECK((ev[1] == "o" || ev[1] == "r"));
  }
  // At 0 nothing was shown yet.
  auto z = http.get("/api/v1/sessions/" + r.id + "/playback?from_ms=0&to_ms=1000").json();
  CHECK_FALSE(contains(z["snapshot"].get<std::string>(), "shown-"));
  CHECK(z["end"] == false);
  // Bad windows.
  CHECK(http.get("/api/v1/sessions/" + r.id + "/playback?from_ms=5&to_ms=5").status == 400);
  CHECK(http.get("/api/v1/sessions/" + r.id + "/playback?from_ms=0&to_ms=600001").status == 400);
  CHECK(http.get("/api/v1/sessions/" + r.id + "/playback?from_ms=abc&to_ms=10").status == 400);
  CHECK(http.get("/api/v1/sessions/" + r.id + "/playback").status == 400);
}

TEST_CASE("the recording file is served with ranges only to those who may play it", "[integration][review][file]") {
  auto& e = env();
  auto& r = recorded();
  auto auditor = auditorOf(e, r.f);
  const std::string url = "/api/v1/sessions/" + r.id + "/recording/file";
  const std::string disk = [&] {
    std::ifstream f(r.file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();
  REQUIRE(disk.size() > 20);
  auto whole = auditor.http->get(url);
  CHECK(whole.status == 200);
  CHECK(whole.body == disk);
  CHECK(whole.headers["accept-ranges"] == "bytes");
  auto part = auditor.http->request("GET", url, "", "", {{"Range", "bytes=2-9"}});
  CHECK(part.status == 206);
  CHECK(part.body == disk.substr(2, 8));
  CHECK(part.headers["content-range"] == "bytes 2-9/" + std::to_string(disk.size()));
  auto tail = auditor.http->request("GET", url, "", "", {{"Range", "bytes=-5"}});
  CHECK(tail.status == 206);
  CHECK(tail.body == disk.substr(disk.size() - 5));
  auto open = auditor.http->request("GET", url, "", "", {{"Range", "bytes=10-"}});
  CHECK(open.body == disk.substr(10));
  auto past = auditor.http->request("GET", url, "", "", {{"Range", "bytes=" + std::to_string(disk.size() + 10) + "-"}});
  CHECK(past.status == 416);
  CHECK(past.headers["content-range"] == "bytes */" + std::to_string(disk.size()));
  {
    // A range response carries at most 8 MiB; the client asks on from where it ended.
    const std::string big = disk + std::string(9u << 20, 'x');
    std::ofstream(r.file, std::ios::binary | std::ios::trunc) << big;
    auto first = auditor.http->request("GET", url, "", "", {{"Range", "bytes=0-"}});
    CHECK(first.status == 206);
    CHECK(first.body.size() == (8u << 20));
    CHECK(first.headers["content-range"] == "bytes 0-" + std::to_string((8u << 20) - 1) + "/" + std::to_string(big.size()));
    auto rest = auditor.http->request("GET", url, "", "", {{"Range", "bytes=" + std::to_string(8u << 20) + "-"}});
    CHECK(rest.status == 206);
    CHECK(first.body + rest.body == big);
    std::ofstream(r.file, std::ios::binary | std::ios::trunc) << disk;  // as it was
  }

  // Who may not: a user without a membership, the session's own user (even with view_recordings).
  e.store().setMember(r.f.safe.id, r.owner.u.id, {"connect", "view_recordings"});
  auto outsider = e.makeUser({"auditor"});
  for (const std::string& path : std::vector<std::string>{url, "/api/v1/sessions/" + r.id + "/playback/index",
                                 "/api/v1/sessions/" + r.id + "/playback?from_ms=0&to_ms=10",
                                 "/api/v1/sessions/" + r.id + "/reviews", "/api/v1/sessions/" + r.id + "/comments"}) {
    INFO(path);
    CHECK(outsider.http->get(path).status == 403);
    CHECK(recorded().owner.http->get(path).status == 403);
  }
  CHECK(r.owner.http->put("/api/v1/sessions/" + r.id + "/review", {{"status", "reviewed_ok"}}).status == 403);
  CHECK(outsider.http->post("/api/v1/sessions/" + r.id + "/comments", {{"offset_ms", 1}, {"text", "x"}}).status == 403);
  CHECK(e.lastAudit("recording_play", "own_session"));
  CHECK(auditor.http->get("/api/v1/sessions/00000000-0000-7000-8000-000000000000/recording/file").status == 404);
  CHECK(auditor.http->get("/api/v1/sessions/not-a-uuid/playback/index").status == 404);
}

TEST_CASE("reviews keep their history, comments are anchored to offsets, both audited", "[integration][review][workflow]") {
  auto& e = env();
  auto& r = recorded();
  auto auditor = auditorOf(e, r.f);
  auto& http = *auditor.http;
  const std::string base = "/api/v1/sessions/" + r.id;
  auto put = http.put(base + "/review", {{"status", "reviewed_suspicious"}, {"comment", "odd upload"}});
  INFO(put.body);
  REQUIRE(put.status == 200);
  CHECK(put.json()["review_status"] == "reviewed_suspicious");
  REQUIRE(http.put(base + "/review", {{"status", "requires_investigation"}}).status == 200);
  CHECK(http.get(base).status == 200);
  CHECK(e.admin().http->get(base).json()["review_status"] == "requires_investigation");
  auto hist = http.get(base + "/reviews").json()["items"];
  REQUIRE(hist.size() >= 2);
  CHECK(hist[0]["status"] == "requires_investigation");
  CHECK(hist[1]["status"] == "reviewed_suspicious");
  CHECK(hist[1]["comment"] == "odd upload");
  CHECK(hist[0]["reviewer"] == auditor.u.username);
  auto audit = e.lastAudit("session_review", r.id);
  REQUIRE(audit);
  CHECK((*audit)["status"] == "requires_investigation");
  CHECK((*audit)["_actor"] == auditor.u.username);

  CHECK(http.put(base + "/review", {{"status", "fine"}}).status == 400);
  CHECK(http.put(base + "/review", {{"status", "reviewed_ok"}, {"extra", 1}}).status == 400);
  CHECK(http.put(base + "/review", json::object()).status == 400);

  auto c2 = http.post(base + "/comments", {{"offset_ms", 5000}, {"text", "second"}});
  auto c1 = http.post(base + "/comments", {{"offset_ms", 1200}, {"text", "look here\nmultiline"}});
  REQUIRE(c1.status == 201);
  REQUIRE(c2.status == 201);
  CHECK(c1.json()["author"] == auditor.u.username);
  auto list = http.get(base + "/comments").json()["items"];
  REQUIRE(list.size() >= 2);
  CHECK(list[0]["offset_ms"].get<std::int64_t>() <= list[1]["offset_ms"].get<std::int64_t>());
  auto ca = e.lastAudit("session_comment", r.id);
  REQUIRE(ca);
  CHECK(http.post(base + "/comments", {{"offset_ms", -1}, {"text", "x"}}).status == 400);
  CHECK(http.post(base + "/comments", {{"offset_ms", 1}}).status == 400);
  CHECK(http.post(base + "/comments", {{"offset_ms", "1"}, {"text", "x"}}).status == 400);
}

TEST_CASE("filters, sorts and keyset pages over many sessions; pages stay stable while sessions are added",
          "[integration][review][filters]") {
  auto& e = env();
  auto f = e.fixture();
  auto g = e.fixture();
  const std::string u1 = uniq("alice"), u2 = uniq("bob");
  // 12 sessions over 4 days, risk 0..110, two protocols, two users, mixed durations and status.
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    const std::string day = "2026-03-1" + std::to_string(5 + i % 4);
    const std::string set = "started_at = '" + day + "T10:0" + std::to_string(i % 10) + ":00Z', risk_score = " +
                            std::to_string(i * 10) + ", protocol = '" + (i % 3 == 0 ? "postgres" : "ssh") + "'" +
                            (i % 4 == 3 ? "" : ", ended_at = '" + day + "T10:" + std::to_string(10 + i) + ":00Z'") +
                            (i == 5 ? ", review_status = 'reviewed_ok'" : "");
    ids.push_back(syntheticSession(e, i < 6 ? f : g, i % 2 ? u2 : u1, set));
  }
  auto& a = *e.admin().http;
  auto list = [&](const std::string& q) {
    auto res = a.get("/api/v1/sessions?limit=200&" + q);
    INFO(q << " -> " << res.body.substr(0, 400));
    REQUIRE(res.status == 200);
    return res.json();
  };
  auto count = [&](const std::string& q) {
    auto j = list("safe_id=" + std::to_string(f.safe.id) + "&" + q);
    auto k = list("safe_id=" + std::to_string(g.safe.id) + "&" + q);
    return j["items"].size() + k["items"].size();
  };
  CHECK(count("") == 12);
  CHECK(count("user=" + u1) == 6);
  CHECK(count("protocol=postgres") == 4);
  CHECK(count("min_risk=50") == 7);
  CHECK(count("max_risk=20") == 3);
  CHECK(count("min_risk=30&max_risk=60&user=" + u2) == 2);  // 30, 50
  CHECK(count("from=2026-03-16&to=2026-03-17") == 6);       // a date `to` includes that day
  CHECK(count("from=2026-03-16T00:00:00Z&to=2026-03-16T23:59:59Z") == 3);
  CHECK(count("status=active") == 3);
  CHECK(count("review_status=reviewed_ok") == 1);
  CHECK(count("review_status=unreviewed&protocol=ssh") == 7);
  CHECK(count("min_duration=601") == 4);  // i = 10 (20 min) and the 3 active ones (counted up to now)
  CHECK(count("max_duration=660") == 8);  // the other ended ones: 10 min
  CHECK(list("target_id=" + std::to_string(g.target.id))["items"].size() == 6);
  CHECK(list("account_id=" + std::to_string(f.account.id))["items"].size() == 6);

  // Sorts.
  auto risk = list("safe_id=" + std::to_string(g.safe.id) + "&sort=risk_desc")["items"];
  for (std::size_t i = 1; i < risk.size(); ++i) CHECK(risk[i - 1]["risk_score"] >= risk[i]["risk_score"]);
  auto asc = list("safe_id=" + std::to_string(f.safe.id) + "&sort=started_asc")["items"];
  for (std::size_t i = 1; i < asc.size(); ++i) CHECK(asc[i - 1]["started_at"] <= asc[i]["started_at"]);
  auto dur = list("safe_id=" + std::to_string(f.safe.id) + "&sort=duration_desc")["items"];
  for (std::size_t i = 1; i < dur.size(); ++i) CHECK(dur[i - 1]["duration_ms"] >= dur[i]["duration_ms"]);

  // Keyset pages of 5 by risk, with a session added between pages: no row twice, none lost.
  for (const std::string& sort : std::vector<std::string>{"risk_desc", "started_desc", "started_asc"}) {
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      auto j = a.get("/api/v1/sessions?limit=5&sort=" + sort + "&safe_id=" + std::to_string(g.safe.id) +
                     (cursor.empty() ? "" : "&cursor=" + cursor)).json();
      for (auto& it : j["items"]) seen.push_back(it["id"]);
      if (page == 0) syntheticSession(e, g, u1, "started_at = '2026-03-10T00:00:00Z', risk_score = 999");
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"];
    }
    std::set<std::string> uniqIds(seen.begin(), seen.end());
    INFO(sort);
    CHECK(uniqIds.size() == seen.size());
    CHECK(seen.size() >= 6);
  }

  // Bad input: clear 400s, and the server keeps serving.
  for (const std::string& q : std::vector<std::string>{"limit=201", "limit=0", "limit=abc", "min_risk=x", "max_risk=-1", "from=2026-13-01",
                              "to=2026-02-30", "from=yesterday", "sort=random", "protocol=telnet",
                              "review_status=maybe", "cursor=zz", "cursor=" + std::string(40, 'a'),
                              "min_duration=1.5", "user_id=0", "status=done", "min_risk=5&max_risk=1"}) {
    auto res = a.get("/api/v1/sessions?" + q);
    INFO(q << " -> " << res.body);
    CHECK(res.status == 400);
    CHECK(res.errorCode() == "validation_failed");
  }
  // A cursor of another sort is refused.
  auto first = a.get("/api/v1/sessions?limit=1&sort=risk_desc").json();
  REQUIRE(!first["next_cursor"].is_null());
  CHECK(a.get("/api/v1/sessions?sort=started_desc&cursor=" + first["next_cursor"].get<std::string>()).status == 400);
  auto inj = a.get("/api/v1/sessions?user=" + enc("x' OR '1'='1"));
  CHECK(inj.status == 200);
  CHECK(inj.json()["items"].empty());
  CHECK(a.get("/healthz").status == 200);
}

TEST_CASE("the review queue: unreviewed ended sessions the caller may review, highest risk first, then oldest",
          "[integration][review][queue]") {
  auto& e = env();
  auto f = e.fixture();
  auto auditor = auditorOf(e, f);
  const auto low = syntheticSession(e, f, "q1", "ended_at = now(), risk_score = 10, started_at = now() - interval '2 hours'");
  const auto hiOld = syntheticSession(e, f, "q2", "ended_at = now(), risk_score = 90, started_at = now() - interval '3 hours'");
  const auto hiNew = syntheticSession(e, f, "q3", "ended_at = now(), risk_score = 90, started_at = now() - interval '1 hours'");
  syntheticSession(e, f, "q4", "risk_score = 100");                                         // active
  syntheticSession(e, f, "q5", "ended_at = now(), risk_score = 95, review_status = 'reviewed_ok'");
  const auto own = syntheticSession(e, f, auditor.u.username, "ended_at = now(), risk_score = 99");
  e.psql("UPDATE sessions SET user_id = " + std::to_string(auditor.u.id) + " WHERE id = '" + own + "'");
  std::vector<std::string> got;
  std::string cursor;
  for (int i = 0; i < 20; ++i) {
    auto j = auditor.http->get("/api/v1/review-queue?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor)).json();
    for (auto& it : j["items"]) got.push_back(it["id"]);
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"];
  }
  CHECK(got == std::vector<std::string>{hiOld, hiNew, low});
  // Outsiders see nothing of this safe.
  auto outsider = e.makeUser({"auditor"});
  auto none = outsider.http->get("/api/v1/review-queue").json()["items"];
  for (auto& it : none) CHECK(it["safe_id"] != f.safe.id);
  CHECK(auditor.http->get("/api/v1/review-queue?limit=500").status == 400);
}

TEST_CASE("a truncated or corrupted recording says it is damaged and still plays what it can",
          "[integration][review][damaged]") {
  auto& e = env();
  auto& r = recorded();
  auto auditor = auditorOf(e, r.f);
  namespace fs = std::filesystem;
  auto copyAs = [&](const std::string& name, std::uintmax_t keep) {
    const fs::path dst = fs::path(r.file).parent_path() / name;
    fs::copy_file(r.file, dst, fs::copy_options::overwrite_existing);
    fs::resize_file(dst, keep);
    return fs::relative(dst, e.cfg().recordingsDir()).string();
  };
  const auto size = fs::file_size(r.file);
  const auto cut = copyAs(uniq("cut") + ".cast.zst", size - 7);
  const auto id = syntheticSession(e, r.f, "dmg", "ended_at = now(), recording_path = '" + cut + "'");
  auto j = auditor.http->get("/api/v1/sessions/" + id + "/playback/index").json();
  INFO(j.dump());
  REQUIRE(j["damaged"].is_string());
  CHECK((contains(j["damaged"].get<std::string>(), "truncated") || contains(j["damaged"].get<std::string>(), "corrupt")));
  auto c = auditor.http->get("/api/v1/sessions/" + id + "/playback?from_ms=0&to_ms=600000").json();
  CHECK(c["damaged"].is_string());
  CHECK(!c["events"].empty());

  const fs::path junk = fs::path(r.file).parent_path() / (uniq("junk") + ".cast.zst");
  std::ofstream(junk) << "not zstd at all";
  const auto id2 = syntheticSession(e, r.f, "dmg", "ended_at = now(), recording_path = '" +
                                                       fs::relative(junk, e.cfg().recordingsDir()).string() + "'");
  auto j2 = auditor.http->get("/api/v1/sessions/" + id2 + "/playback/index");
  CHECK(j2.status == 200);
  CHECK(j2.json()["damaged"].is_string());
  CHECK(auditor.http->get("/api/v1/sessions/" + id2 + "/playback?from_ms=0&to_ms=10").json()["events"].empty());
}

TEST_CASE("text search beyond the first sessions probed: rare and common words, every sort, keyset pages in order",
          "[integration][review][search][scale]") {
  // The search probes the newest 400 sessions (in the sort's order) for the text, then continues
  // with what the indexes find: 450 sessions make both paths answer, and their seam must hold.
  auto& e = env();
  auto f = e.fixture();
  const std::string tmpl = syntheticSession(e, f, uniq("many"), "started_at = '2026-01-01T00:00:00Z'");
  e.psql("INSERT INTO sessions SELECT (jsonb_populate_record(s, jsonb_build_object('id', gen_random_uuid(),"
         " 'started_at', s.started_at - make_interval(mins => g), 'ended_at', s.started_at - make_interval(mins => g)"
         " + interval '5 minutes', 'risk_score', g % 7))).* FROM sessions s, generate_series(1, 450) g"
         " WHERE s.id = '" + tmpl + "'");
  const std::string rare = "needle-rare-" + uniq("x"), common = "needle-common-" + uniq("y");
  const std::string safe = std::to_string(f.safe.id);
  // The rare word only in the three oldest sessions; the common one in every 9th (50 sessions).
  e.psql("INSERT INTO session_events (session_id, at, offset_ms, kind, text) SELECT id, started_at, 1000, 'command',"
         " 'grep " + rare + " /var/log/syslog' FROM sessions WHERE safe_id = " + safe +
         " ORDER BY started_at LIMIT 3");
  e.psql("INSERT INTO session_events (session_id, at, offset_ms, kind, text) SELECT id, started_at, 2000, 'command',"
         " 'tail -f /srv/" + common + ".log' FROM (SELECT id, started_at, row_number() OVER (ORDER BY started_at) n"
         " FROM sessions WHERE safe_id = " + safe + ") x WHERE n % 9 = 0");
  auto& a = *e.admin().http;
  auto expected = [&](const std::string& word, const std::string& order) {
    std::string out = e.psql("SELECT string_agg(id::text, ',' ORDER BY " + order + ") FROM sessions s WHERE safe_id = " +
                             safe + " AND EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.text"
                             " LIKE '%" + word + "%')");
    std::vector<std::string> ids;
    for (std::size_t p = 0; p < out.size();) {
      auto c = out.find(',', p);
      ids.push_back(out.substr(p, c == std::string::npos ? std::string::npos : c - p));
      if (c == std::string::npos) break;
      p = c + 1;
    }
    return ids;
  };
  auto pages = [&](const std::string& path) {
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 20; ++page) {
      auto res = a.get(path + (cursor.empty() ? "" : "&cursor=" + cursor));
      INFO(path << " -> " << res.body.substr(0, 300));
      REQUIRE(res.status == 200);
      auto j = res.json();
      for (auto& it : idsOf(j["items"])) seen.push_back(it);
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"];
    }
    return seen;
  };
  CHECK(pages("/api/v1/search?limit=20&safe_id=" + safe + "&text=" + enc(rare)) ==
        expected(rare, "started_at DESC, id DESC"));
  CHECK(pages("/api/v1/sessions?limit=7&safe_id=" + safe + "&q=" + enc(rare)) ==
        expected(rare, "started_at DESC, id DESC"));
  const std::vector<std::pair<std::string, std::string>> sorts{
      {"started_desc", "started_at DESC, id DESC"},
      {"started_asc", "started_at ASC, id ASC"},
      {"risk_desc", "risk_score DESC, started_at DESC, id DESC"}};
  for (const auto& [sort, order] : sorts) {
    INFO(sort);
    auto want = expected(common, order);
    REQUIRE(want.size() == 50);
    CHECK(pages("/api/v1/search?limit=20&sort=" + sort + "&safe_id=" + safe + "&text=" + enc(common)) == want);
    CHECK(pages("/api/v1/sessions?limit=15&sort=" + sort + "&safe_id=" + safe + "&q=" + enc(common)) == want);
  }
}
