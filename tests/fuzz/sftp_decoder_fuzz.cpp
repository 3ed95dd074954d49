// libFuzzer target for SftpDecoder. Unless the first byte is odd, the script starts after a
// valid INIT/VERSION exchange so the fuzzer spends its time on requests and replies.
#include <memory>

#include "fuzz_support.hpp"

namespace {
const std::string kHello = std::string("\0\0\0\5\1\0\0\0\3", 9);    // INIT v3 (client, 9 bytes)
const std::string kVersion = std::string("\0\0\0\5\2\0\0\0\3", 9);  // VERSION 3 (server, 9 bytes)
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string input;
  if (!in.empty() && (in[0] & 1) == 0) {
    in.remove_prefix(1);
    input = std::string(1, static_cast<char>(9 << 1)) + kHello + std::string(1, static_cast<char>((9 << 1) | 1)) +
            kVersion;
  } else if (!in.empty()) {
    in.remove_prefix(1);
  }
  input.append(in);
  fuzz::differential(input, [](fuzz::Heard& h) { return std::make_unique<vigil::ssh::SftpDecoder>(h); });
  return 0;
}
