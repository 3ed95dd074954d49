#include "server/services/evidence_bundle.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>

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

std::string fileSha256(const fs::path& p, std::uint64_t& size) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  size = 0;
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = f.gcount();
    if (n <= 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
    size += static_cast<std::uint64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
  return out;
}

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
  std::vector<fs::path> files{"report.csv", "verify.py", "README.txt"};
  writeText(req.out / "report.csv", accessReportCsv(rows));
  fs::copy_file(req.verifier, req.out / "verify.py", fs::copy_options::overwrite_existing);
  ::chmod((req.out / "verify.py").c_str(), 0700);

  for (const auto& row : rows) {
    const fs::path rel = fs::path("sessions") / row.session_id;
    const fs::path dir = req.out / rel;
    fs::create_directories(dir);
    writeText(dir / "session.json", rowJson(row).dump(2) + "\n");
    files.push_back(rel / "session.json");
    std::string state = "no_recording";
    auto s = store.sessionById(row.session_id);
    const fs::path src = s && !s->recording_path.empty() && s->purged_at.empty()
                             ? req.recordings_dir / s->recording_path : fs::path();
    if (!src.empty() && fs::exists(src)) {
      // ".cast.zst" or ".mp4": everything from the first dot of the file name.
      const std::string name = src.filename().string();
      const fs::path dst = dir / ("recording" + name.substr(std::min(name.find('.'), name.size())));
      fs::copy_file(src, dst, fs::copy_options::overwrite_existing);  // follows the cold tier's link
      ::chmod(dst.c_str(), 0600);
      files.push_back(rel / dst.filename());
      sum.bytes += fs::file_size(dst);
      if (auto seal = store.recordingSeal(row.session_id)) {
        writeText(dir / "manifest.txt", seal->manifest);
        writeText(dir / "signature.b64", seal->signature + "\n");
        writeText(dir / "public-key.b64", seal->public_key + "\n");
        writeText(dir / "chunks.txt", seal->chunk_index);
        for (const char* f : {"manifest.txt", "signature.b64", "public-key.b64", "chunks.txt"}) files.push_back(rel / f);
        state = "sealed";
        ++sum.sealed;
      } else {
        const fs::path side = recorder::chunkIndexPath(src.string());
        if (fs::exists(side)) {
          fs::copy_file(side, dir / "chunks.txt", fs::copy_options::overwrite_existing);
          files.push_back(rel / "chunks.txt");
        }
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
  sum.sessions = rows.size();
  writeText(req.out / "README.txt", readme(req, sum));

  json listed = json::array();
  for (const auto& f : files) {
    std::uint64_t size = 0;
    const std::string sha = fileSha256(req.out / f, size);
    listed.push_back({{"path", f.generic_string()}, {"sha256", sha}, {"size", size}});
  }
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  json index{{"version", 1},          {"created_at", isoTime(static_cast<long long>(now))},
             {"node", req.node},      {"from", req.query.from},
             {"to", req.query.to},    {"safe_ids", req.query.safe_ids},
             {"sessions", sessions},  {"files", listed}};
  const std::string text = index.dump(2) + "\n";
  writeText(req.out / "bundle.json", text);
  const auto sig = signer.sign(text);
  writeText(req.out / "bundle.json.sig", crypto::base64Encode(sig.data(), sig.size()) + "\n");
  writeText(req.out / "signing-key.b64", signer.publicKeyBase64() + "\n");
  return sum;
}

}  // namespace vigil::services
