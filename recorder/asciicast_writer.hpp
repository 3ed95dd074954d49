#pragma once
// asciicast v2 recorder: the session's I/O thread queues events, a background thread encodes,
// compresses (zstd) and writes them. Recordings contain keystrokes, including passwords typed
// at prompts: treat the files as secrets (they are created 0600) and never log their content.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace vigil::recorder {

enum class EventType : char { Output = 'o', Input = 'i', Resize = 'r' };

struct AsciicastOptions {
  unsigned width = 80;
  unsigned height = 24;
  std::string term = "xterm-256color";
  std::string title;
  /// Pending data reaches the file at least this often, so a kill -9 loses about this much.
  std::chrono::milliseconds flush_interval{1000};
  /// A zstd frame is closed this often (and on close). Flushes in between end a zstd block
  /// only: the frame keeps its history, which is what makes keystroke-sized events compress
  /// well. AsciicastReader reads up to the last block; `zstd -d` up to the last whole frame.
  /// Zero ends a frame at every flush.
  std::chrono::milliseconds frame_interval{10000};
  int compression_level = 6;
  /// Bytes of queued, not yet encoded event data; beyond it append* returns false.
  std::size_t queue_budget = 8u << 20;
  /// fdatasync after every flush (always done on close).
  bool sync_each_flush = false;
  /// Called once, from the writer thread, on the first write error.
  std::function<void(std::error_code)> on_error;
  /// Sealing (recording_chain, recording_cipher): called on the writer thread with each chunk of
  /// bytes about to be written (the header, then one per flush); may replace them (encryption).
  std::function<void(std::string& chunk)> seal_chunk;
  /// Called on the writer thread after a chunk reached the file at `offset` (the hash chain).
  /// An error fails the recording like a write error.
  std::function<std::error_code(std::uint64_t offset, std::string_view chunk)> chunk_written;
  /// Test seam: runs on the writer thread before it takes events from the queue.
  std::function<void()> before_drain;
};

class AsciicastWriter {
public:
  /// Creates `path` (O_EXCL, mode 0600), writes the header, starts the writer thread.
  /// Returns null and sets `ec` if the file cannot be created.
  static std::unique_ptr<AsciicastWriter> create(const std::string& path, AsciicastOptions options,
                                                 std::error_code& ec);
  ~AsciicastWriter();
  AsciicastWriter(const AsciicastWriter&) = delete;
  AsciicastWriter& operator=(const AsciicastWriter&) = delete;

  /// Queues terminal output (any bytes; copied). I/O thread. False: queue full, failed or closed.
  bool appendOutput(std::string_view bytes) { return append(EventType::Output, bytes); }
  /// Queues user input (any bytes; copied). I/O thread. False as for appendOutput.
  bool appendInput(std::string_view bytes) { return append(EventType::Input, bytes); }
  /// Queues a terminal resize. I/O thread. False as for appendOutput.
  bool appendResize(unsigned cols, unsigned rows);
  /// Queues an event stamped now (relative to the recording start). Any thread.
  bool append(EventType type, std::string_view data);
  /// Queues an event with an explicit offset from the start (replays, tests). Offsets must not
  /// decrease. Any thread.
  bool appendAt(EventType type, std::string_view data, std::chrono::microseconds at);

  /// Blocks until `bytes` more fit in the queue (the writer thread drained it), the writer
  /// failed or closed, or `timeout` passed; true when there is room. The session's own thread
  /// calls it when append* returned false, so a fast producer is slowed to the encoder's pace
  /// (back-pressure) instead of losing its recording.
  bool waitForRoom(std::size_t bytes, std::chrono::milliseconds timeout);

  /// Drains the queue, ends the frame, fdatasyncs and closes the file. Idempotent; any thread
  /// but the writer's. Returns the first error, if any.
  std::error_code close();
  /// First write error, or empty. Any thread.
  std::error_code error() const;
  /// Compressed bytes written to the file so far (header included). Any thread.
  std::uint64_t bytesWritten() const { return bytes_written_.load(); }
  /// Events encoded so far. Any thread.
  std::uint64_t eventsWritten() const { return events_written_.load(); }

private:
  struct Event {
    EventType type;
    std::chrono::microseconds at;
    std::string data;
  };
  struct Encoder;

  AsciicastWriter(int fd, AsciicastOptions options);
  void run();
  void fail(std::error_code ec);

  AsciicastOptions options_;
  int fd_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<Encoder> encoder_;

  std::mutex close_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable room_;  // the writer thread emptied the queue, failed or closed
  std::deque<Event> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  std::error_code error_;
  std::chrono::microseconds last_at_{0};

  std::atomic<std::uint64_t> bytes_written_{0};
  std::atomic<std::uint64_t> events_written_{0};
  std::thread thread_;
};

/// Appends `bytes` to `out` as the contents of a JSON string, invalid UTF-8 replaced by U+FFFD.
/// An incomplete sequence at the end is left in `carry` (prepend it to the next chunk) unless
/// `final`, so a character split across two reads is not mangled.
void appendJsonUtf8(std::string& out, std::string_view bytes, std::string& carry, bool final);

}  // namespace vigil::recorder
