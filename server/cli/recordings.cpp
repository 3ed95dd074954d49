// `vigil recordings ls|export` and `vigil play`: the recordings of proxied sessions from a
// terminal on the server host (same configuration and database as `vigil serve`). Reading a
// recording is audited (recording_play / recording_export, actor cli:<login>).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "recorder/asciicast_reader.hpp"
#include "recorder/encrypted_file_reader.hpp"
#include "server/cli/commands.hpp"
#include "server/runtime.hpp"
#include "recorder/recording_cipher.hpp"
#include "server/services/ids.hpp"
#include "server/services/recording_seal.hpp"
#include "server/services/session_filters.hpp"
#include "web/api/session_access.hpp"

namespace vigil::cli {
namespace {

using json = nlohmann::json;

struct LsOptions {
  std::string from, to, user, target, safe, protocol, review_status, query, cursor, sort;
  std::string min_risk;
  int limit = 50;
};

std::unique_ptr<Runtime> openDb(const GlobalOptions& g) {
  auto rt = std::make_unique<Runtime>(loadConfig(g.config_file));
  rt->openDatabase([](const std::string&) {});
  return rt;
}

std::string cliActor() {
  const char* login = getlogin();
  return std::string("cli:") + (login ? login : std::to_string(getuid()));
}

void auditCli(Runtime& rt, const std::string& action, const std::string& session, const json& details) {
  rt.store->audit({0, "", std::nullopt, cliActor(), "local", action, "session", session, "ok", details.dump()});
}

/// Resolves a target or safe given by id or by name (names need a scan: few of them).
template <class Lister>
std::optional<std::int64_t> idByName(const std::string& v, Lister&& list) {
  if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) return std::stoll(v);
  store::Page p;
  p.limit = 500;
  for (;;) {
    auto rows = list(p);
    for (auto& r : rows)
      if (r.name == v) return r.id;
    if (rows.size() < static_cast<std::size_t>(p.limit)) return std::nullopt;
    p.after = rows.back().id;
  }
}

std::string duration(std::int64_t ms) {
  const auto s = ms / 1000;
  char b[32];
  std::snprintf(b, sizeof b, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60),
                static_cast<long long>(s % 60));
  return b;
}

int usage(const std::string& why) {
  std::cerr << "vigil: " << why << "\n";
  return kExitUsage;
}

int runLs(const GlobalOptions& g, const LsOptions& o) {
  store::SessionQuery q;
  std::vector<std::pair<std::string, std::string>> filters{{"from", o.from},         {"to", o.to},
                                                           {"user", o.user},         {"protocol", o.protocol},
                                                           {"min_risk", o.min_risk}, {"review_status", o.review_status},
                                                           {"text", o.query},        {"sort", o.sort}};
  for (auto& [name, value] : filters)
    if (!value.empty())
      if (auto why = services::applySessionFilter(q, name, value); !why.empty()) return usage(why);
  if (auto why = services::applySessionFilter(q, "limit", std::to_string(o.limit)); !why.empty()) return usage(why);
  if (!o.cursor.empty()) {
    std::string why;
    auto key = services::decodeCursor(q.sort, o.cursor, why);
    if (!key) return usage("--cursor: " + why);
    q.after = key;
  }
  auto rt = openDb(g);
  if (!o.target.empty()) {
    q.target_id = idByName(o.target, [&](const store::Page& p) { return rt->store->listTargets(p); });
    if (!q.target_id) return std::cerr << "vigil: no target '" << o.target << "'\n", kExitNotFound;
  }
  if (!o.safe.empty()) {
    q.safe_id = idByName(o.safe, [&](const store::Page& p) { return rt->store->listSafes(p, std::nullopt); });
    if (!q.safe_id) return std::cerr << "vigil: no safe '" << o.safe << "'\n", kExitNotFound;
  }
  auto page = rt->store->querySessions(q);
  const std::string next = page.next ? services::encodeCursor(q.sort, *page.next) : "";
  if (g.json) {
    json items = json::array();
    for (auto& s : page.items) items.push_back(web::sessionJson(s));
    std::cout << json{{"items", items}, {"next_cursor", next.empty() ? json(nullptr) : json(next)}}.dump() << std::endl;
    return kExitOk;
  }
  std::cout << std::left << std::setw(37) << "ID" << std::setw(21) << "STARTED" << std::setw(10) << "DURATION"
            << std::setw(16) << "USER" << std::setw(28) << "ACCOUNT@TARGET" << std::setw(9) << "PROTOCOL"
            << std::setw(6) << "RISK" << std::setw(24) << "REVIEW" << "STATUS\n";
  for (auto& s : page.items)
    std::cout << std::setw(37) << s.id << std::setw(21) << s.started_at << std::setw(10)
              << duration(s.duration_ms.value_or(0)) << std::setw(16) << s.username << std::setw(28)
              << (s.account_user + "@" + s.target_name) << std::setw(9) << s.protocol << std::setw(6) << s.risk_score
              << std::setw(24) << s.review_status << (s.ended_at.empty() ? "active" : "ended") << "\n";
  if (!next.empty()) std::cerr << "more: --cursor " << next << "\n";
  return kExitOk;
}

/// The session and its recording file, or an exit code.
std::variant<std::pair<store::SessionRecord, std::string>, int> loadRecording(Runtime& rt, const std::string& id,
                                                                              bool need_file) {
  if (!services::isUuid(id)) return usage("session id: must be a UUID");
  auto s = rt.store->sessionById(id);
  if (!s) return std::cerr << "vigil: no session " << id << "\n", kExitNotFound;
  if (!need_file) return std::make_pair(*s, std::string());
  if (s->recording_path.empty() || s->recording_path.find("..") != std::string::npos)
    return std::cerr << "vigil: session " << id << " has no recording\n", kExitFailure;
  std::string file = (rt.cfg.recordingsDir() / s->recording_path).string();
  // An encrypted recording needs the master keyring (the vault) to be read.
  if (recorder::isEncryptedRecording(file)) {
    rt.openVault(false);
    services::installRecordingKeys(*rt.vault, *rt.store);
  }
  return std::make_pair(*s, std::move(file));
}

int runPlay(const GlobalOptions& g, const std::string& id, double speed, double skip_idle) {
  if (!(speed > 0 && speed <= 1000)) return usage("--speed: must be greater than 0 and at most 1000");
  if (skip_idle < 0) return usage("--skip-idle: must be 0 (off) or a number of seconds");
  auto rt = openDb(g);
  auto loaded = loadRecording(*rt, id, true);
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  auto& [s, file] = std::get<0>(loaded);
  auditCli(*rt, "recording_play", s.id, {{"speed", speed}, {"skip_idle", skip_idle}});
  double prev = 0;
  std::size_t events = 0;
  bool truncated = false;
  auto ec = recorder::readAsciicast(
      file, nullptr,
      [&](recorder::AsciicastEvent&& e) {
        if (e.type != 'o') return;
        double gap = std::max(0.0, e.time - prev);
        if (skip_idle > 0 && gap > skip_idle) gap = skip_idle;
        prev = e.time;
        if (gap > 0) std::this_thread::sleep_for(std::chrono::duration<double>(gap / speed));
        std::cout.write(e.data.data(), static_cast<std::streamsize>(e.data.size()));
        std::cout.flush();
        ++events;
      },
      &truncated);
  if (ec && events == 0) return std::cerr << "vigil: cannot read the recording: " << ec.message() << "\n", kExitFailure;
  if (ec) std::cerr << "\nvigil: the recording is damaged after " << prev << " s: " << ec.message() << "\n";
  else if (truncated && !s.ended_at.empty()) std::cerr << "\nvigil: the recording is truncated after " << prev << " s\n";
  return ec ? kExitFailure : kExitOk;
}

std::string clock(std::int64_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%02lld:%02lld:%02lld.%03lld", static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return b;
}

/// The screen video of a graphical session as MP4 (decrypted when the safe encrypts recordings).
int exportVideo(Runtime& rt, const store::SessionRecord& s, const std::string& file, std::ostream& out) {
  if (file.size() < 4 || file.compare(file.size() - 4, 4, ".mp4") != 0)
    return std::cerr << "vigil: session " << s.id << " has no video (a terminal recording: use --format asciicast)\n",
           kExitFailure;
  std::uint64_t bytes = 0;
  std::string chunk;
  if (recorder::isEncryptedRecording(file)) {
    std::error_code ec;
    auto enc = recorder::EncryptedFileReader::open(file, ec);
    if (!enc) return std::cerr << "vigil: cannot open the encrypted video: " << ec.message() << "\n", kExitFailure;
    for (std::size_t i = 0; i < enc->records(); ++i) {
      if ((ec = enc->record(i, chunk)))
        return std::cerr << "vigil: the video does not decrypt after " << bytes << " bytes: " << ec.message() << "\n",
               kExitFailure;
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      bytes += chunk.size();
    }
    if (enc->truncated()) std::cerr << "vigil: the video ends inside a record (the recording was cut short)\n";
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::cerr << "vigil: cannot read " << file << "\n", kExitFailure;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      out.write(buf, in.gcount());
      bytes += static_cast<std::uint64_t>(in.gcount());
    }
  }
  out.flush();
  if (!out) return std::cerr << "vigil: writing the video failed\n", kExitFailure;
  auditCli(rt, "recording_export", s.id, {{"format", "video"}, {"bytes", bytes}});
  return kExitOk;
}

int runExport(const GlobalOptions& g, const std::string& id, const std::string& format, const std::string& out_file) {
  if (format != "json" && format != "asciicast" && format != "text" && format != "video")
    return usage("--format: must be json, asciicast, text or video");
  auto rt = openDb(g);
  auto loaded = loadRecording(*rt, id, format == "asciicast" || format == "video");
  if (auto* code = std::get_if<int>(&loaded)) return *code;
  auto& [s, file] = std::get<0>(loaded);
  std::ofstream f;
  if (!out_file.empty()) {
    f.open(out_file, std::ios::binary | std::ios::trunc);
    if (!f) return std::cerr << "vigil: cannot write " << out_file << "\n", kExitFailure;
  }
  std::ostream& out = out_file.empty() ? std::cout : f;
  std::size_t count = 0;
  if (format == "video") return exportVideo(*rt, s, file, out);
  if (format == "asciicast") {
    auto ec = recorder::readAsciicast(
        file, [&](const json& h) { out << h.dump(-1, ' ', false, json::error_handler_t::replace) << "\n"; },
        [&](recorder::AsciicastEvent&& e) {
          const double t = std::round(e.time * 1e6) / 1e6;
          out << json::array({t, std::string(1, e.type), e.data}).dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
          ++count;
        });
    if (ec && count == 0) return std::cerr << "vigil: cannot read the recording: " << ec.message() << "\n", kExitFailure;
    if (ec) std::cerr << "vigil: the recording is damaged after event " << count << "; exported what was readable\n";
  } else {
    // The timeline: commands, output lines, files, risk and lifecycle events, in time order.
    std::vector<store::SessionEvent> events;
    store::Page p;
    p.limit = 500;
    for (;;) {
      auto rows = rt->store->listSessionEvents(s.id, std::nullopt, p);
      for (auto& e : rows) events.push_back(std::move(e));
      if (rows.size() < 500) break;
      p.after = events.back().id;
    }
    std::stable_sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.offset_ms < b.offset_ms; });
    if (format == "text") {
      out << "# session " << s.id << " " << s.username << " as " << s.account_user << "@" << s.target_name << " ("
          << s.protocol << "), started " << s.started_at << (s.ended_at.empty() ? ", active" : ", ended " + s.ended_at)
          << "\n";
    }
    for (auto& e : events) {
      if (format == "text") {
        std::string text = e.text;
        // Multi-line events (output batches) keep one line per line, indented.
        for (std::size_t p2 = 0; (p2 = text.find('\n', p2)) != std::string::npos; p2 += 2) text.insert(p2 + 1, "  ");
        out << "[" << e.at << " +" << clock(e.offset_ms) << "] " << e.kind << ": " << text << "\n";
      } else {
        json d = json::parse(e.details_json, nullptr, false);
        out << json{{"schema", "vigil.session_event.v1"},
                    {"session_id", s.id},
                    {"event_id", e.id},
                    {"at", e.at},
                    {"offset_ms", e.offset_ms},
                    {"kind", e.kind},
                    {"text", e.text},
                    {"details", d.is_discarded() ? json::object() : d},
                    {"user", s.username},
                    {"user_id", s.user_id ? json(*s.user_id) : json(nullptr)},
                    {"account", s.account_user},
                    {"target", s.target_name},
                    {"target_address", s.target_address},
                    {"safe", s.safe_name},
                    {"protocol", s.protocol},
                    {"client_addr", s.client_addr},
                    {"session_started_at", s.started_at},
                    {"session_ended_at", s.ended_at.empty() ? json(nullptr) : json(s.ended_at)},
                    {"risk_score", s.risk_score},
                    {"review_status", s.review_status}}
                   .dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
      }
      ++count;
    }
  }
  out.flush();
  auditCli(*rt, "recording_export", s.id, {{"format", format}, {"events", count}});
  return kExitOk;
}

}  // namespace

void addRecordings(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto* rec = app.add_subcommand("recordings", "List and export session recordings");
  rec->require_subcommand(1);
  static LsOptions o;
  auto* ls = rec->add_subcommand("ls", "List sessions (newest first), with filters");
  ls->add_option("--from", o.from, "Started at or after (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
  ls->add_option("--to", o.to, "Started at or before (a date includes that whole day)");
  ls->add_option("--user", o.user, "Vigil user name (exact)");
  ls->add_option("--target", o.target, "Target name or id");
  ls->add_option("--safe", o.safe, "Safe name or id");
  ls->add_option("--protocol", o.protocol, "ssh, rdp, postgres or tds");
  ls->add_option("--min-risk", o.min_risk, "Minimum risk score");
  ls->add_option("--review-status", o.review_status,
                 "unreviewed, reviewed_ok, reviewed_suspicious or requires_investigation");
  ls->add_option("--query", o.query, "Text typed, shown or executed (substring or words)");
  ls->add_option("--sort", o.sort, "started_desc (default), started_asc, risk_desc or duration_desc");
  ls->add_option("--limit", o.limit, "At most this many sessions (1-200, default 50)");
  ls->add_option("--cursor", o.cursor, "Continue after a previous page (printed as 'more: --cursor ...')");
  ls->add_flag("--json", g.json, "Print {\"items\": [...], \"next_cursor\"} as JSON");
  ls->callback([&] { run = [&] { return runLs(g, o); }; });

  static std::string id, format, out_file;
  auto* ex = rec->add_subcommand("export", "Export one session: json (timeline events, one JSON object per line), "
                                           "asciicast (the terminal recording), text (transcript) or video (an RDP "
                                           "session's screen video as MP4, decrypted)");
  ex->add_option("id", id, "Session id")->required();
  ex->add_option("--format", format, "json, asciicast, text or video")->required();
  ex->add_option("-o,--output", out_file, "Write to this file instead of standard output");
  ex->callback([&] { run = [&] { return runExport(g, id, format, out_file); }; });
}

void addPlay(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  static std::string id;
  static double speed = 1, skip_idle = 0;
  auto* play = app.add_subcommand("play", "Replay a session's terminal recording with its real timing");
  play->add_option("id", id, "Session id")->required();
  play->add_option("--speed", speed, "Playback speed factor (default 1)");
  play->add_option("--skip-idle", skip_idle, "Shorten pauses longer than this many seconds to it (0: off)");
  play->callback([&] { run = [&] { return runPlay(g, id, speed, skip_idle); }; });
}

}  // namespace vigil::cli
