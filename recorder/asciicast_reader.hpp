#pragma once
// Reads zstd-compressed asciicast v2 recordings written by AsciicastWriter, including files cut
// short by a crash: everything up to the last complete line that decompresses is returned.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

namespace vigil::recorder {

struct AsciicastEvent {
  double time = 0;  // seconds since the recording start
  char type = 'o';  // 'o' output, 'i' input, 'r' resize ("COLSxROWS")
  std::string data;
};

struct AsciicastRecording {
  nlohmann::json header;
  std::vector<AsciicastEvent> events;
  bool truncated = false;  // the file ended inside a frame or a line (e.g. after a crash)
};

/// Streams `path`: `on_header` once, then `on_event` per event, in file order. Returns an error
/// if the file cannot be read, is not zstd, or holds a malformed line; a truncated tail is not an
/// error (sets `*truncated` if given). Any thread; callbacks run on the caller's thread.
std::error_code readAsciicast(const std::string& path,
                              const std::function<void(const nlohmann::json&)>& on_header,
                              const std::function<void(AsciicastEvent&&)>& on_event,
                              bool* truncated = nullptr);

/// Reads a whole recording into memory (tests, small files). Sets `ec` on failure.
AsciicastRecording readAsciicastFile(const std::string& path, std::error_code& ec);

}  // namespace vigil::recorder
