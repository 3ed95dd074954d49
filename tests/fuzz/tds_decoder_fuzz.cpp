// libFuzzer target for the TDS decoder and wire format. The first byte picks what is fuzzed:
//   even: a conversation script (see fuzz_support.hpp) through TdsDecoder, decoded whole and one
//         byte at a time; the two reports must be equal;
//   odd:  the rest as a LOGIN7 payload (parse, then rewrite: a rewritten login must parse back
//         with the new user name and password), as a PRELOGIN payload, and as SQLBatch/RPC
//         payloads.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "protocols/tds/tds_decoder.hpp"
#include "protocols/tds/tds_wire.hpp"

namespace {
struct Heard : vigil::tds::TdsDecoder::Callbacks {
  std::vector<std::string> lines;
  void onRequest(const vigil::tds::Request& r) override {
    lines.push_back("q" + r.kind + '\0' + r.text + '\0' + r.parameters + (r.decoded ? "+" : "-"));
  }
  void onAttention() override { lines.push_back("attn"); }
  void onResponse(const vigil::tds::Response& r) override {
    lines.push_back("r" + std::to_string(r.rows) + '\0' + r.error + (r.attention_ack ? "A" : "") + (r.login_ack ? "L" : "") +
                    (r.complete ? "+" : "-"));
  }
  void onMalformed(std::string_view why) override {
    if (why.empty()) std::abort();
    lines.push_back("m" + std::string(why));
  }
};

std::vector<std::string> decode(const std::vector<fuzz::Read>& reads, bool bytewise) {
  Heard h;
  vigil::tds::TdsDecoder d(h);
  for (const auto& r : reads) {
    const std::size_t step = bytewise ? 1 : r.bytes.size();
    for (std::size_t i = 0; i < r.bytes.size(); i += step) {
      if (r.client) d.clientBytes(r.bytes.substr(i, step));
      else d.serverBytes(r.bytes.substr(i, step));
    }
  }
  return h.lines;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const bool wire = (static_cast<std::uint8_t>(in[0]) & 1) != 0;
  in.remove_prefix(1);
  if (!wire) {
    const auto reads = fuzz::script(in);
    if (decode(reads, false) != decode(reads, true)) std::abort();
    return 0;
  }
  std::string why;
  if (auto l = vigil::tds::parseLogin7(in, why)) {
    auto r = vigil::tds::rewriteLogin7(in, "vault_user", "vault-Password-1", why);
    if (r) {
      auto back = vigil::tds::parseLogin7(std::string_view(r->data(), r->size()), why);
      if (!back || back->user_name != "vault_user" ||
          std::string_view(back->password.data(), back->password.size()) != "vault-Password-1")
        std::abort();
    }
  }
  (void)vigil::tds::parsePrelogin(in, why);
  (void)vigil::tds::parseRequest(vigil::tds::kSqlBatch, in);
  (void)vigil::tds::parseRequest(vigil::tds::kRpc, in);
  return 0;
}
