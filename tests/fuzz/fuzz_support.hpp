#pragma once
// Shared by the decoder fuzz targets: the input is a script of reads, each one control byte
// (bit 0: 0 = client -> server, 1 = server -> client; bits 1-7: length 0..127) and that many
// bytes. Every target decodes the script twice, as scripted and one byte at a time, and traps if
// the two reports differ: a decoder must not depend on where its input was cut.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/ssh/sftp_decoder.hpp"

namespace fuzz {

struct Read {
  bool client;
  std::string_view bytes;
};

inline std::vector<Read> script(std::string_view in) {
  std::vector<Read> reads;
  while (!in.empty()) {
    const auto ctrl = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    const std::size_t n = std::min<std::size_t>(ctrl >> 1, in.size());
    reads.push_back({(ctrl & 1) == 0, in.substr(0, n)});
    in.remove_prefix(n);
  }
  return reads;
}

struct Heard : vigil::ssh::SftpDecoder::Callbacks {
  std::vector<std::string> lines;
  void onFileOperation(const vigil::proto::FileOperation& op) override {
    lines.push_back(op.operation + '\0' + op.path + '\0' + op.path2 + '\0' + std::to_string(op.bytes) +
                    (op.ok ? "+" : "-"));
  }
  void onMalformed(std::string_view why) override {
    if (why.empty()) std::abort();  // a reason is always given
    lines.push_back("malformed " + std::string(why));
  }
};

/// Feeds `reads` to a fresh decoder from `make`, whole or byte by byte; returns the report.
template <class Make>
std::vector<std::string> decode(const std::vector<Read>& reads, bool bytewise, Make make) {
  Heard h;
  auto d = make(h);
  for (const auto& r : reads) {
    const std::size_t step = bytewise ? 1 : r.bytes.size();
    for (std::size_t i = 0; i < r.bytes.size(); i += step) {
      const auto part = r.bytes.substr(i, step);
      if (r.client) d->clientBytes(part);
      else d->serverBytes(part);
    }
  }
  d->finish();
  d->finish();
  std::size_t malformed = 0;
  for (const auto& l : h.lines) malformed += l.rfind("malformed ", 0) == 0;
  if (malformed > 1) std::abort();  // onMalformed is reported once
  return h.lines;
}

template <class Make>
void differential(std::string_view in, Make make) {
  const auto reads = script(in);
  if (decode(reads, false, make) != decode(reads, true, make)) std::abort();
}

}  // namespace fuzz
