#pragma once
// Screen video recorder for graphical sessions (RDP): the session thread hands over the
// framebuffer when it changed, a worker thread encodes it (H.264, variable frame rate,
// millisecond timestamps) into fragmented MP4. The session never waits for the encoder: there is
// one pending frame slot and a newer frame replaces the one not yet encoded (frames merge).
// Fragments are cut at least every `fragment_interval`, so a SIGKILL leaves a playable file up
// to the last fragment. Keyframes come by time (every `keyframe_interval`), not by frame count.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace vigil::recorder {

struct VideoOptions {
  /// "h264" (libx264: cheap to encode, plays everywhere) or "av1" (SVT-AV1 with screen-content
  /// tools: about a third of the size for text screens, several times the CPU and ~100 MB more).
  std::string codec = "h264";
  int max_fps = 5;                                    // frame-rate cap (changed frames only)
  int crf = 30;                                       // the codec's quality (lower = better, larger)
  std::string preset = "veryfast";                    // x264 preset (AV1 uses SVT preset 10)
  std::chrono::milliseconds keyframe_interval{10000};
  std::chrono::milliseconds fragment_interval{1000};  // data reaches the file at least this often
  /// Called once, from the worker thread, on the first encoding or write error.
  std::function<void(const std::string&)> on_error;
  /// Called (worker thread) after each run of bytes reached the file at `offset`, in file order:
  /// the hash chain of tamper evidence (recorder/recording_chain). An error fails the recording.
  std::function<std::error_code(std::uint64_t offset, std::string_view bytes)> chunk_written;
  /// Called (worker thread) with each run of bytes before it is written: replaces it with what
  /// goes in the file (encryption at rest, recorder/recording_cipher). chunk_written then sees
  /// the replaced bytes.
  std::function<void(std::string& chunk)> seal_chunk;
};

/// The CRF of a safe's quality preset ("low", "standard", "high"; else standard) for a codec:
/// x264 34 / 30 / 24, SVT-AV1 50 / 40 / 32.
int crfForQuality(std::string_view quality, std::string_view codec = "h264");

class VideoWriter {
 public:
  /// Creates the writer; the file (mode 0600) is opened with the first frame (its size sets the
  /// video's size). Never fails here: errors arrive through on_error / close().
  VideoWriter(std::string path, VideoOptions options);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  /// Copies a BGRX frame taken at `ms` (milliseconds since the session start). Session thread;
  /// never blocks on the encoder. False once failed or closed.
  bool frame(const std::uint8_t* bgrx, int width, int height, int stride, std::int64_t ms);
  /// Encodes what is pending, repeats the last picture at `end_ms` (so the video lasts as long as
  /// the session), writes the trailer and joins the worker. Idempotent. Returns '' or an error.
  std::string close(std::int64_t end_ms);

  std::uint64_t bytesWritten() const;
  std::uint64_t framesEncoded() const;
  bool failed() const;

 private:
  struct Encoder;
  struct Pending {
    std::vector<std::uint8_t> pixels;  // tightly packed BGRX
    int width = 0, height = 0;
    std::int64_t ms = 0;
    bool full = false;
  };
  void run();

  const std::string path_;
  const VideoOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  Pending pending_;
  std::vector<std::uint8_t> spare_;  // recycled buffer
  bool closing_ = false;
  bool closed_ = false;
  bool failed_ = false;
  std::int64_t end_ms_ = -1;
  std::string error_;
  std::uint64_t bytes_ = 0;
  std::uint64_t frames_ = 0;
  std::unique_ptr<Encoder> enc_;
  std::thread thread_;
};

}  // namespace vigil::recorder
