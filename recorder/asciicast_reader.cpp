#include "recorder/asciicast_reader.hpp"

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <unistd.h>
#include <zstd.h>

#include "recorder/encrypted_file_reader.hpp"
#include "recorder/recording_cipher.hpp"

namespace vigil::recorder {
namespace {

// Parses one complete line; false if it is not valid asciicast v2.
bool parseLine(std::string_view line, bool& have_header,
               const std::function<void(const nlohmann::json&)>& on_header,
               const std::function<void(AsciicastEvent&&)>& on_event) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return false;
  if (!have_header) {
    if (!j.is_object() || j.value("version", 0) != 2) return false;
    have_header = true;
    if (on_header) on_header(j);
    return true;
  }
  if (!j.is_array() || j.size() < 3 || !j[0].is_number() || !j[1].is_string() ||
      !j[2].is_string())
    return false;
  const auto& kind = j[1].get_ref<const std::string&>();
  if (kind.size() != 1) return false;
  if (on_event)
    on_event(AsciicastEvent{j[0].get<double>(), kind[0], j[2].get<std::string>()});
  return true;
}

}  // namespace

std::error_code readAsciicast(const std::string& path,
                              const std::function<void(const nlohmann::json&)>& on_header,
                              const std::function<void(AsciicastEvent&&)>& on_event,
                              bool* truncated) {
  // An encrypted file is read through its reader (the compressed stream, record by record), a
  // plain one from its own descriptor.
  std::unique_ptr<EncryptedFileReader> enc;
  std::size_t next_record = 0;
  int fd = -1;
  if (isEncryptedRecording(path)) {
    std::error_code open_ec;
    enc = EncryptedFileReader::open(path, open_ec);
    if (!enc) return open_ec;
  } else {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {errno, std::generic_category()};
  }
  std::string plain;
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> ds(ZSTD_createDStream(),
                                                                ZSTD_freeDStream);
  std::string text;  // decompressed, not yet split into lines
  std::vector<char> in(ZSTD_DStreamInSize()), out(ZSTD_DStreamOutSize());
  bool have_header = false, mid_frame = false;
  std::error_code ec;

  auto takeLines = [&]() -> bool {
    std::size_t start = 0, nl;
    while ((nl = text.find('\n', start)) != std::string::npos) {
      if (!parseLine(std::string_view(text).substr(start, nl - start), have_header, on_header,
                     on_event))
        return false;
      start = nl + 1;
    }
    text.erase(0, start);
    return true;
  };

  for (;;) {
    const char* data = in.data();
    ssize_t n;
    if (enc) {
      if (next_record == enc->records()) break;
      if ((ec = enc->record(next_record++, plain))) break;
      n = static_cast<ssize_t>(plain.size());
      if (n == 0) continue;
      data = plain.data();
    } else {
      n = ::read(fd, in.data(), in.size());
      if (n < 0 && errno == EINTR) continue;
    }
    if (n < 0) {
      ec = {errno, std::generic_category()};
      break;
    }
    if (n == 0) break;
    ZSTD_inBuffer input{data, static_cast<std::size_t>(n), 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      const std::size_t ret = ZSTD_decompressStream(ds.get(), &output, &input);
      if (ZSTD_isError(ret)) {
        ec = std::make_error_code(std::errc::illegal_byte_sequence);
        break;
      }
      mid_frame = ret != 0;
      text.append(out.data(), output.pos);
    }
    if (!ec && !takeLines()) ec = std::make_error_code(std::errc::illegal_byte_sequence);
    if (ec) break;
  }
  // Input ended: data the decoder still holds from complete blocks comes out with no more input.
  if (!ec && mid_frame) {
    for (;;) {
      ZSTD_inBuffer input{nullptr, 0, 0};
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      const std::size_t ret = ZSTD_decompressStream(ds.get(), &output, &input);
      if (ZSTD_isError(ret) || output.pos == 0) break;
      text.append(out.data(), output.pos);
    }
    if (!takeLines()) ec = std::make_error_code(std::errc::illegal_byte_sequence);
  }
  if (fd >= 0) ::close(fd);
  if (!ec && !have_header) ec = std::make_error_code(std::errc::illegal_byte_sequence);
  if (truncated) *truncated = mid_frame || !text.empty() || (enc && enc->truncated());
  return ec;
}

AsciicastRecording readAsciicastFile(const std::string& path, std::error_code& ec) {
  AsciicastRecording rec;
  ec = readAsciicast(
      path, [&](const nlohmann::json& h) { rec.header = h; },
      [&](AsciicastEvent&& e) { rec.events.push_back(std::move(e)); }, &rec.truncated);
  return rec;
}

}  // namespace vigil::recorder
