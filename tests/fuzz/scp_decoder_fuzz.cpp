// libFuzzer target for ScpDecoder. The first byte picks the exec command line (upload, recursive
// upload, download, recursive download) from its low bits, or with bit 2 set takes the command
// line from the input up to a newline.
#include <memory>

#include "fuzz_support.hpp"
#include "protocols/ssh/scp_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* const kCommands[] = {"scp -t /d/", "scp -r -p -t /d", "scp -f /s/file", "scp -r -f /s/dir/"};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const auto pick = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  std::string command;
  if ((pick & 4) == 0) {
    command = kCommands[pick & 3];
  } else {
    const auto nl = in.find('\n');
    command = std::string(in.substr(0, nl));
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  }
  fuzz::differential(in, [&](fuzz::Heard& h) { return std::make_unique<vigil::ssh::ScpDecoder>(h, command); });
  return 0;
}
