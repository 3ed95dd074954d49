#include "recorder/asciicast_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>
#include <zstd.h>

namespace vigil::recorder {
namespace {

// Length of a UTF-8 sequence starting with `lead` and the allowed range of its second byte
// (Unicode Table 3-7); 0 for a byte that cannot start one.
struct LeadInfo {
  int length;
  unsigned char lo, hi;
};
LeadInfo leadInfo(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  return {0, 0, 0};
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

void appendEscapedAscii(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: break;
  }
  if (c < 0x20) {
    static constexpr char kHex[] = "0123456789abcdef";
    const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
    out.append(esc, sizeof esc);
  } else {
    out += static_cast<char>(c);
  }
}

std::error_code lastError() { return {errno, std::generic_category()}; }

}  // namespace

void appendJsonUtf8(std::string& out, std::string_view input, std::string& carry, bool final) {
  std::string joined;
  if (!carry.empty()) {
    joined = carry + std::string(input);
    input = joined;
    carry.clear();
  }
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  const std::size_t n = input.size();
  std::size_t i = 0;
  out.reserve(out.size() + n + n / 8);
  while (i < n) {
    // Bulk output is mostly plain printable ASCII: copy such runs at once.
    std::size_t run = i;
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') ++run;
    if (run > i) {
      out.append(reinterpret_cast<const char*>(p + i), run - i);
      i = run;
      continue;
    }
    const LeadInfo lead = leadInfo(p[i]);
    if (lead.length == 1) {
      appendEscapedAscii(out, p[i++]);
      continue;
    }
    if (lead.length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    // Maximal valid prefix: each ill-formed subpart becomes one U+FFFD, as Python's (and so
    // asciinema's) decoder does.
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 1; k < lead.length; ++k, ++j) {
      if (j >= n) break;
      const unsigned char lo = k == 1 ? lead.lo : 0x80, hi = k == 1 ? lead.hi : 0xBF;
      if (p[j] < lo || p[j] > hi) {
        ok = false;
        break;
      }
    }
    if (ok && j - i == static_cast<std::size_t>(lead.length)) {
      out.append(reinterpret_cast<const char*>(p + i), j - i);
    } else if (ok && !final) {  // ran out of input mid-character
      carry.assign(reinterpret_cast<const char*>(p + i), n - i);
      return;
    } else {
      out += kReplacement;
    }
    i = j;
  }
}

struct AsciicastWriter::Encoder {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  std::string line;
  std::string carry_output, carry_input;
  ~Encoder() { ZSTD_freeCCtx(cctx); }

  // Compresses `in` (possibly empty) with `mode`, appending compressed bytes to `out`.
  std::error_code feed(std::string_view in, ZSTD_EndDirective mode) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    char buf[16384];
    for (;;) {
      ZSTD_outBuffer output{buf, sizeof buf, 0};
      const std::size_t left = ZSTD_compressStream2(cctx, &output, &input, mode);
      if (ZSTD_isError(left)) return std::make_error_code(std::errc::io_error);
      out.append(buf, output.pos);
      const bool done = mode == ZSTD_e_continue ? input.pos == input.size : left == 0;
      if (done) return {};
    }
  }

  void encodeEvent(const Event& e, bool final) {
    line.clear();
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "[%lld.%06lld, \"%c\", \"",
                  static_cast<long long>(e.at.count() / 1000000),
                  static_cast<long long>(e.at.count() % 1000000), static_cast<char>(e.type));
    line += stamp;
    std::string* carry = e.type == EventType::Output  ? &carry_output
                         : e.type == EventType::Input ? &carry_input
                                                      : nullptr;
    std::string none;
    appendJsonUtf8(line, e.data, carry ? *carry : none, final || !carry);
    line += "\"]\n";
  }
};

AsciicastWriter::AsciicastWriter(int fd, AsciicastOptions options)
    : options_(std::move(options)), fd_(fd), start_(std::chrono::steady_clock::now()),
      encoder_(std::make_unique<Encoder>()) {}

std::unique_ptr<AsciicastWriter> AsciicastWriter::create(const std::string& path,
                                                         AsciicastOptions options,
                                                         std::error_code& ec) {
  ec.clear();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    ec = lastError();
    return nullptr;
  }
  std::unique_ptr<AsciicastWriter> w(new AsciicastWriter(fd, std::move(options)));
  nlohmann::json header = {{"version", 2},
                           {"width", w->options_.width},
                           {"height", w->options_.height},
                           {"timestamp", static_cast<long long>(std::time(nullptr))},
                           {"env", {{"TERM", w->options_.term}}}};
  if (!w->options_.title.empty()) header["title"] = w->options_.title;
  ZSTD_CCtx_setParameter(w->encoder_->cctx, ZSTD_c_compressionLevel,
                         w->options_.compression_level);
  // A terminal recording's useful history is short, and every open session keeps its context
  // for its whole life: a 32 KiB window with small tables keeps it near 140 KiB resident instead
  // of ~3 MiB at level 6's defaults, for recordings within 0.3 % of the same size (bench/ssh).
  ZSTD_CCtx_setParameter(w->encoder_->cctx, ZSTD_c_windowLog, 15);
  ZSTD_CCtx_setParameter(w->encoder_->cctx, ZSTD_c_hashLog, 14);
  ZSTD_CCtx_setParameter(w->encoder_->cctx, ZSTD_c_chainLog, 14);
  // The header is a frame of its own so the file is playable from the first moment.
  const std::string line =
      header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  ec = w->encoder_->feed(line, ZSTD_e_end);
  if (!ec && w->options_.seal_chunk) w->options_.seal_chunk(w->encoder_->out);
  const std::string& out = w->encoder_->out;
  if (!ec && ::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
    ec = errno ? lastError() : std::make_error_code(std::errc::io_error);
  if (!ec && w->options_.chunk_written) ec = w->options_.chunk_written(0, out);
  if (ec) {
    ::close(fd);
    w->fd_ = -1;
    w->closed_ = true;
    ::unlink(path.c_str());
    return nullptr;
  }
  w->bytes_written_ = out.size();
  w->encoder_->out.clear();
  w->thread_ = std::thread([raw = w.get()] { raw->run(); });
  return w;
}

AsciicastWriter::~AsciicastWriter() { close(); }

bool AsciicastWriter::appendResize(unsigned cols, unsigned rows) {
  return append(EventType::Resize, std::to_string(cols) + "x" + std::to_string(rows));
}

bool AsciicastWriter::append(EventType type, std::string_view data) {
  const auto at = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  return appendAt(type, data, at);
}

bool AsciicastWriter::appendAt(EventType type, std::string_view data,
                               std::chrono::microseconds at) {
  std::string copy(data);  // outside the lock: the writer thread contends for it
  const std::size_t cost = copy.size() + sizeof(Event);
  std::lock_guard lock(mutex_);
  if (closing_ || error_ || queued_bytes_ + cost > options_.queue_budget) return false;
  // Concurrent callers may stamp out of order; a player needs time never to go back.
  last_at_ = std::max(last_at_, at);
  const bool was_empty = queue_.empty();
  queue_.push_back(Event{type, last_at_, std::move(copy)});
  queued_bytes_ += cost;
  if (was_empty) wake_.notify_one();
  return true;
}

bool AsciicastWriter::waitForRoom(std::size_t bytes, std::chrono::milliseconds timeout) {
  const std::size_t cost = bytes + sizeof(Event);
  std::unique_lock lock(mutex_);
  return room_.wait_for(lock, timeout, [&] {
    return closing_ || error_ || queued_bytes_ + cost <= options_.queue_budget;
  }) && !closing_ && !error_;
}

std::error_code AsciicastWriter::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void AsciicastWriter::fail(std::error_code ec) {
  {
    std::lock_guard lock(mutex_);
    if (error_) return;
    error_ = ec;
  }
  room_.notify_all();
  if (options_.on_error) options_.on_error(ec);
}

void AsciicastWriter::run() {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> dirty_since, frame_since;
  std::deque<Event> batch;
  Encoder& enc = *encoder_;
  std::chrono::microseconds last_at{0};

  auto writeOut = [&]() -> std::error_code {
    if (enc.out.empty()) return {};
    if (options_.seal_chunk) options_.seal_chunk(enc.out);
    const std::uint64_t offset = bytes_written_.load();
    std::size_t done = 0;
    while (done < enc.out.size()) {
      const ssize_t n = ::write(fd_, enc.out.data() + done, enc.out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? lastError() : std::make_error_code(std::errc::io_error);
      done += static_cast<std::size_t>(n);
      bytes_written_ += static_cast<std::uint64_t>(n);
    }
    std::error_code ec;
    if (options_.chunk_written) ec = options_.chunk_written(offset, enc.out);
    enc.out.clear();
    return ec;
  };

  for (;;) {
    if (options_.before_drain) options_.before_drain();
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return closing_ || !queue_.empty(); };
      if (dirty_since)
        wake_.wait_until(lock, *dirty_since + options_.flush_interval, ready);
      else
        wake_.wait(lock, ready);
      batch.swap(queue_);
      queued_bytes_ = 0;
      room_.notify_all();
      closing = closing_;
      if (error_) {  // failed: nothing more reaches the file; wait for close()
        batch.clear();
        dirty_since.reset();
        if (closing) return;
        continue;
      }
    }

    std::error_code ec;
    for (Event& e : batch) {
      enc.encodeEvent(e, false);
      last_at = e.at;
      if ((ec = enc.feed(enc.line, ZSTD_e_continue))) break;
      ++events_written_;
      if (!dirty_since) dirty_since = Clock::now();
      if (!frame_since) frame_since = Clock::now();
    }
    batch.clear();
    if (!ec && closing) {
      // A character cut off by the end of the session is still shown, as U+FFFD.
      for (auto [carry, type] : {std::pair{&enc.carry_output, EventType::Output},
                                 std::pair{&enc.carry_input, EventType::Input}}) {
        if (carry->empty()) continue;
        enc.encodeEvent(Event{type, last_at, {}}, true);
        if ((ec = enc.feed(enc.line, ZSTD_e_continue))) break;
        ++events_written_;
        dirty_since = frame_since = Clock::now();
      }
    }

    const auto now = Clock::now();
    // Closing ends an open frame even when nothing was queued since the last flush: otherwise the
    // file would end mid-frame and read as truncated.
    if (!ec && (dirty_since || (closing && frame_since)) &&
        (closing || now >= *dirty_since + options_.flush_interval)) {
      const bool end_frame = closing || options_.frame_interval.count() == 0 ||
                             now >= *frame_since + options_.frame_interval;
      ec = enc.feed({}, end_frame ? ZSTD_e_end : ZSTD_e_flush);
      if (!ec) ec = writeOut();
      if (!ec && options_.sync_each_flush && ::fdatasync(fd_) != 0) ec = lastError();
      dirty_since.reset();
      if (end_frame) frame_since.reset();
    } else if (!ec && enc.out.size() >= (1u << 16)) {
      ec = writeOut();  // keep memory bounded during long bursts
    }
    if (ec) fail(ec);
    if (closing) return;
  }
}

std::error_code AsciicastWriter::close() {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (closed_) return error_;
    closing_ = true;
  }
  wake_.notify_one();
  room_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::error_code ec;
  if (::fdatasync(fd_) != 0) ec = lastError();
  if (::close(fd_) != 0 && !ec) ec = lastError();
  fd_ = -1;
  if (ec) fail(ec);
  std::lock_guard lock(mutex_);
  closed_ = true;
  return error_;
}

}  // namespace vigil::recorder
