// libFuzzer target for PgDecoder (protocols/postgres). The first byte picks the mode: even =
// after the login (both directions typed, as the proxy feeds it), odd = from the startup packet.
// Every input is decoded twice, as scripted and one byte at a time; the reports must be equal,
// onMalformed at most once, with a reason.
#include <cstdlib>
#include <memory>

#include "fuzz_support.hpp"
#include "protocols/postgres/pg_decoder.hpp"

namespace {

struct PgHeard : vigil::pg::PgDecoder::Callbacks {
  std::vector<std::string> lines;
  int malformed = 0;
  void onStatement(const vigil::proto::SqlStatement& s) override {
    lines.push_back(s.kind + '\0' + s.text + '\0' + s.parameters + '\0' + std::to_string(s.rows) + '\0' + s.command_tag +
                    '\0' + s.error + '\0' + std::to_string(s.duration_ms));
  }
  void onStartup(const vigil::pg::Startup& st) override { lines.push_back("startup " + st.get("user")); }
  void onCancelRequest(std::int32_t p, std::int32_t k) override { lines.push_back("cancel " + std::to_string(p) + " " + std::to_string(k)); }
  void onReady(char s) override { lines.push_back(std::string("ready ") + s); }
  void onMalformed(std::string_view why) override {
    if (why.empty()) std::abort();
    ++malformed;
    lines.push_back("malformed " + std::string(why));
  }
};

std::vector<std::string> decode(const std::vector<fuzz::Read>& reads, bool after_login, bool bytewise) {
  PgHeard h;
  vigil::pg::PgDecoder::Options o;
  o.after_login = after_login;
  o.max_message = 1 << 16;
  o.now_ms = [] { return std::int64_t{7}; };
  vigil::pg::PgDecoder d(h, o);
  for (const auto& r : reads) {
    const std::size_t step = bytewise ? 1 : r.bytes.size();
    for (std::size_t i = 0; i < r.bytes.size(); i += step) {
      const auto part = r.bytes.substr(i, step);
      if (r.client) d.clientBytes(part);
      else d.serverBytes(part);
    }
  }
  d.finish();
  d.finish();
  if (h.malformed > 1) std::abort();
  return h.lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const bool after_login = (in[0] & 1) == 0;
  in.remove_prefix(1);
  const auto reads = fuzz::script(in);
  if (decode(reads, after_login, false) != decode(reads, after_login, true)) std::abort();
  return 0;
}
