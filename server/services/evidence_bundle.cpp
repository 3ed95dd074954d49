#include "server/services/evidence_bundle.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "recorder/recording_chain.hpp"
#include "server/crypto/random.hpp"
#include "server/services/access_report.hpp"

namespace vigil::services {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void writeText(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f.flush()) throw std::runtime_error("cannot write " + p.string());
  ::chmod(p.c_str(), 0600);
}

/// The files of the bundle, each hashed once as it is written (bundle.json lists them).
class Files {
 public:
  explicit Files(fs::path root) : root_(std::move(root)) {}

  void text(const fs::path& rel, const std::string& content) {
    writeText(root_ / rel, content);
    const auto d = crypto::sha256(content);
    listed_.push_back({{"path", rel.generic_string()}, {"sha256", crypto::hexEncode(d.data(), d.size())},
                       {"size", content.size()}});
  }

  /// Copies `src` (following the cold tier's link) to `rel`, hashing on the way; returns its size.
  std::uint64_t copy(const fs::path& src, const fs::path& rel, mode_t mode = 0600) {
    std::ifstream in(src, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + src.string());
    const fs::path dst = root_ / rel;
    std::ofstream out(dst, std::ios::binary | std::ios::trunc);
    ::chmod(dst.c_str(), mode);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    std::uint64_t size = 0;
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto n = in.gcount();
      if (n <= 0) break;
      out.write(buf.data(), n);
      EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
      size += static_cast<std::uint64_t>(n);
    }
    if (in.bad() || !out.flush()) throw std::runtime_error("cannot copy " + src.string() + " to " + dst.string());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    listed_.push_back({{"path", rel.generic_string()}, {"sha256", crypto::hexEncode(md, len)}, {"size", size}});
    return size;
  }

  const json& listed() const { return listed_; }

 private:
  fs::path root_;
  json listed_ = json::array();
};

json rowJson(const store::AccessReportRow& r) {
  json j = json::object();
  const auto& cols = accessReportColumns();
  const auto cells = accessReportCells(r);
  for (std::size_t i = 0; i < cols.size(); ++i) j[cols[i]] = cells[i];
  return j;
}

std::string readme(const EvidenceRequest& req, const EvidenceSummary& s) {
  return "Vigil evidence bundle\n=====================\n\nSessions started from " + req.query.from + " to " +
         req.query.to + " (" + std::to_string(s.sessions) + " sessions: " + std::to_string(s.sealed) + " sealed, " +
         std::to_string(s.unsealed) + " unsealed, " + std::to_string(s.without_recording) +
         " without a recording" + (s.missing ? ", " + std::to_string(s.missing) + " whose recording file is MISSING" : "") +
         ").\n\n"
         "Verify it offline (Python 3 and the openssl command; nothing else):\n\n"
         "    python3 verify.py . --public-key <the Vigil signing key you got from the operator>\n\n"
         "Files:\n"
         "  report.csv                  who accessed which account on which target, when, how long, under\n"
         "                              which approval, risk events, review status\n"
         "  bundle.json, bundle.json.sig  every file below with its SHA-256, signed (Ed25519) by signing-key.b64\n"
         "  sessions/<id>/session.json  the report row of the session\n"
         "  sessions/<id>/recording.*   the recording exactly as stored (encrypted ones stay encrypted)\n"
         "  sessions/<id>/manifest.txt  the manifest the node signed when the recording closed (exact bytes)\n"
         "  sessions/<id>/signature.b64, public-key.b64  its signature and the key that made it\n"
         "  sessions/<id>/chunks.txt    the hash chain: \"<index> <offset> <length> <sha256>\" per chunk\n"
         "  verify.py                   the verifier\n";
}

}  // namespace

EvidenceSummary writeEvidenceBundle(store::Store& store, const crypto::Ed25519Signer& signer,
                                    const EvidenceRequest& req,
                                    const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  std::error_code ec;
  if (fs::exists(req.out) && !fs::is_empty(req.out, ec))
    throw std::runtime_error(req.out.string() + " exists and is not empty");
  fs::create_directories(req.out / "sessions");
  fs::permissions(req.out, fs::perms::owner_all, ec);
  if (!fs::exists(req.verifier)) throw std::runtime_error("the verifier " + req.verifier.string() + " is missing");

  const auto rows = store.accessReport(req.query);
  EvidenceSummary sum;
  json sessions = json::array();
  Files files(req.out);
  files.text("report.csv", accessReportCsv(rows));
  files.copy(req.verifier, "verify.py", 0700);

  for (const auto& row : rows) {
    const fs::path rel = fs::path("sessions") / row.session_id;
    fs::create_directories(req.out / rel);
    files.text(rel / "session.json", rowJson(row).dump(2) + "\n");
    std::string state = "no_recording";
    auto s = store.sessionById(row.session_id);
    const fs::path src = s && !s->recording_path.empty() && s->purged_at.empty()
                             ? req.recordings_dir / s->recording_path : fs::path();
    if (!src.empty() && fs::exists(src)) {
      // ".cast.zst" or ".mp4": everything from the first dot of the file name.
      const std::string name = src.filename().string();
      sum.bytes += files.copy(src, rel / ("recording" + name.substr(std::min(name.find('.'), name.size()))));
      if (auto seal = store.recordingSeal(row.session_id)) {
        files.text(rel / "manifest.txt", seal->manifest);
        files.text(rel / "signature.b64", seal->signature + "\n");
        files.text(rel / "public-key.b64", seal->public_key + "\n");
        files.text(rel / "chunks.txt", seal->chunk_index);
        state = "sealed";
        ++sum.sealed;
      } else {
        const fs::path side = recorder::chunkIndexPath(src.string());
        if (fs::exists(side)) files.copy(side, rel / "chunks.txt");
        state = "unsealed";
        ++sum.unsealed;
      }
    } else if (!src.empty()) {
      state = "missing";  // recorded and never purged: a file that is gone is evidence too
      ++sum.missing;
    } else {
      ++sum.without_recording;
    }
    sessions.push_back({{"id", row.session_id}, {"recording", state}});
    sum.session_ids.push_back(row.session_id);
    ++sum.sessions;
    if (progress) progress(sum.sessions, rows.size(), row.session_id);
  }
  files.text("README.txt", readme(req, sum));

  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  json index{{"version", 1},          {"created_at", isoTime(static_cast<long long>(now))},
             {"node", req.node},      {"from", req.query.from},
             {"to", req.query.to},    {"safe_ids", req.query.safe_ids},
             {"sessions", sessions},  {"files", files.listed()}};
  const std::string text = index.dump(2) + "\n";
  writeText(req.out / "bundle.json", text);
  const auto sig = signer.sign(text);
  writeText(req.out / "bundle.json.sig", crypto::base64Encode(sig.data(), sig.size()) + "\n");
  writeText(req.out / "signing-key.b64", signer.publicKeyBase64() + "\n");
  return sum;
}

}  // namespace vigil::services
