#include "recorder/video_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace vigil::recorder {
namespace {

std::string avError(int rc, const char* what) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(rc, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

}  // namespace

// Everything FFmpeg, used only by the worker thread.
struct VideoWriter::Encoder {
  AVFormatContext* fmt = nullptr;
  AVCodecContext* cc = nullptr;
  AVStream* st = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* yuv = nullptr;
  AVPacket* pkt = nullptr;
  int width = 0, height = 0;  // even: yuv420p needs it
  std::int64_t last_pts = -1;
  std::int64_t last_key = -1;
  bool header_written = false;
  bool unflushed = false;
  // Our own output (not avio_open): every byte goes through write() below, in order, so the hash
  // chain sees exactly what the file holds. Not seekable: fragmented MP4 never seeks back.
  int fd = -1;
  std::uint64_t offset = 0;
  const VideoOptions* options = nullptr;
  std::string io_error;

  static int writePacket(void* opaque, std::uint8_t* buf, int size) {
    auto* self = static_cast<Encoder*>(opaque);
    std::string_view bytes(reinterpret_cast<char*>(buf), static_cast<std::size_t>(size));
    std::string sealed;
    if (self->options && self->options->seal_chunk) {
      sealed.assign(bytes);
      self->options->seal_chunk(sealed);
      bytes = sealed;
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(self->fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        self->io_error = std::string("write: ") + std::strerror(errno);
        return AVERROR(EIO);
      }
      done += static_cast<std::size_t>(n);
    }
    if (self->options && self->options->chunk_written) {
      if (auto ec = self->options->chunk_written(self->offset, bytes)) {
        self->io_error = "hash chain: " + ec.message();
        return AVERROR(EIO);
      }
    }
    self->offset += done;
    return size;
  }

  void closeOutput() {
    if (fmt && fmt->pb) {
      avio_flush(fmt->pb);
      av_freep(&fmt->pb->buffer);
      avio_context_free(&fmt->pb);
    }
    if (fd >= 0) {
      ::fdatasync(fd);
      ::close(fd);
      fd = -1;
    }
  }
  std::chrono::steady_clock::time_point last_fragment = std::chrono::steady_clock::now();

  ~Encoder() {
    closeOutput();
    if (fmt) avformat_free_context(fmt);
    avcodec_free_context(&cc);
    av_frame_free(&yuv);
    av_packet_free(&pkt);
    sws_freeContext(sws);
  }

  std::string open(const std::string& path, int w, int h, const VideoOptions& o) {
    width = w & ~1;
    height = h & ~1;
    if (width < 2 || height < 2) return "frame too small";
    // The recording holds what was on the screen: created private, written through our own I/O.
    options = &o;
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return std::string("create ") + path + ": " + std::strerror(errno);
    int rc = avformat_alloc_output_context2(&fmt, nullptr, "mp4", path.c_str());
    if (rc < 0 || !fmt) return avError(rc, "mp4 muxer");
    const bool av1 = o.codec == "av1";
    if (!av1 && o.codec != "h264") return "unknown video codec '" + o.codec + "'";
    const char* encoder = av1 ? "libsvtav1" : "libx264";
    const AVCodec* codec = avcodec_find_encoder_by_name(encoder);
    if (!codec) return std::string(encoder) + " encoder not available";
    st = avformat_new_stream(fmt, nullptr);
    cc = avcodec_alloc_context3(codec);
    if (!st || !cc) return "out of memory";
    cc->width = width;
    cc->height = height;
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->time_base = AVRational{1, 1000};  // millisecond timestamps: variable frame rate
    cc->framerate = AVRational{o.max_fps, 1};
    cc->gop_size = 100000;  // keyframes are forced by time (see encode)
    cc->max_b_frames = 0;
    if (fmt->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* copts = nullptr;
    av_dict_set(&copts, "crf", std::to_string(o.crf).c_str(), 0);
    if (av1) {
      // Screen content tools, low-delay prediction (each frame leaves the encoder at once, so a
      // kill loses nothing in a lookahead), one thread per session, a keyframe at least every
      // keyframe_interval's worth of frames at the cap (forced by time as well, see send()).
      const long keyint = std::max<long>(1, static_cast<long>(o.keyframe_interval.count()) * o.max_fps / 1000);
      cc->gop_size = static_cast<int>(keyint);
      av_dict_set(&copts, "preset", "10", 0);
      av_dict_set(&copts, "svtav1-params", ("scm=1:pred-struct=1:lp=1:keyint=" + std::to_string(keyint)).c_str(), 0);
    } else {
      av_dict_set(&copts, "preset", o.preset.c_str(), 0);
      // zerolatency: every frame leaves the encoder at once (nothing lost in a lookahead on a kill).
      av_dict_set(&copts, "tune", "stillimage,zerolatency", 0);
      av_dict_set(&copts, "threads", "1", 0);
    }
    rc = avcodec_open2(cc, codec, &copts);
    av_dict_free(&copts);
    if (rc < 0) return avError(rc, (std::string("open ") + encoder).c_str());
    avcodec_parameters_from_context(st->codecpar, cc);
    st->time_base = AVRational{1, 1000};
    constexpr int kIoBuffer = 64 * 1024;
    auto* iobuf = static_cast<std::uint8_t*>(av_malloc(kIoBuffer));
    if (!iobuf) return "out of memory";
    fmt->pb = avio_alloc_context(iobuf, kIoBuffer, 1, this, nullptr, &Encoder::writePacket, nullptr);
    if (!fmt->pb) {
      av_free(iobuf);
      return "out of memory";
    }
    fmt->pb->seekable = 0;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVDictionary* mopts = nullptr;
    // Fragmented MP4: the moov comes first, then self-contained fragments that we cut ourselves;
    // a killed process leaves every fragment written so far playable.
    av_dict_set(&mopts, "movflags", "frag_custom+empty_moov+default_base_moof", 0);
    rc = avformat_write_header(fmt, &mopts);
    av_dict_free(&mopts);
    if (rc < 0) return io_error.empty() ? avError(rc, "write header") : io_error;
    header_written = true;
    avio_flush(fmt->pb);
    if (!io_error.empty()) return io_error;
    yuv = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!yuv || !pkt) return "out of memory";
    yuv->format = AV_PIX_FMT_YUV420P;
    yuv->width = width;
    yuv->height = height;
    rc = av_frame_get_buffer(yuv, 0);
    if (rc < 0) return avError(rc, "frame buffer");
    return {};
  }

  std::string drain() {
    for (;;) {
      int rc = avcodec_receive_packet(cc, pkt);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
      if (rc < 0) return avError(rc, "encode");
      // Under VFR the next frame's time is unknown: a short duration for a fragment's last sample
      // (the muxer would guess from the previous gap and stretch the video's end).
      pkt->duration = 100;
      av_packet_rescale_ts(pkt, cc->time_base, st->time_base);
      pkt->stream_index = st->index;
      rc = av_write_frame(fmt, pkt);
      av_packet_unref(pkt);
      if (rc < 0) return io_error.empty() ? avError(rc, "write") : io_error;
      unflushed = true;
    }
  }

  std::string send(std::int64_t ms, const VideoOptions& o) {
    // The video's clock is the session's: the first picture (the target's desktop once connected)
    // is shown from 0, so time t in the video is time t of the session and its transcript (the
    // muxer would otherwise start the video at the first picture's time).
    if (last_pts < 0) ms = 0;
    else if (ms <= last_pts) ms = last_pts + 1;
    last_pts = ms;
    yuv->pts = ms;
    if (last_key < 0 || ms - last_key >= o.keyframe_interval.count()) {
      yuv->pict_type = AV_PICTURE_TYPE_I;
      last_key = ms;
    } else {
      yuv->pict_type = AV_PICTURE_TYPE_NONE;
    }
    int rc = avcodec_send_frame(cc, yuv);
    if (rc < 0) return avError(rc, "encode");
    return drain();
  }

  std::string encode(const std::uint8_t* pixels, int w, int h, std::int64_t ms, const VideoOptions& o) {
    // A resized desktop is scaled into the video's first size.
    sws = sws_getCachedContext(sws, w, h, AV_PIX_FMT_BGR0, width, height, AV_PIX_FMT_YUV420P,
                               (w == width && h == height) ? SWS_POINT : SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws) return "swscale";
    int rc = av_frame_make_writable(yuv);
    if (rc < 0) return avError(rc, "frame");
    const std::uint8_t* src[4] = {pixels, nullptr, nullptr, nullptr};
    const int stride[4] = {w * 4, 0, 0, 0};
    sws_scale(sws, src, stride, 0, h, yuv->data, yuv->linesize);
    return send(ms, o);
  }

  /// Ends the current fragment so it reaches the file.
  std::string fragment() {
    if (!unflushed) return {};
    int rc = av_write_frame(fmt, nullptr);
    if (rc < 0) return io_error.empty() ? avError(rc, "fragment") : io_error;
    avio_flush(fmt->pb);
    if (!io_error.empty()) return io_error;
    unflushed = false;
    last_fragment = std::chrono::steady_clock::now();
    return {};
  }

  std::string finish(std::int64_t end_ms, const VideoOptions& o) {
    std::string err;
    // Repeat the last picture at the end so the video lasts as long as the session.
    if (end_ms > last_pts + 100) {
      if (av_frame_make_writable(yuv) >= 0) err = send(end_ms, o);
    }
    if (err.empty()) {
      int rc = avcodec_send_frame(cc, nullptr);
      if (rc < 0) err = avError(rc, "flush encoder");
    }
    if (err.empty()) err = drain();
    int rc = av_write_trailer(fmt);
    if (err.empty() && rc < 0) err = avError(rc, "trailer");
    closeOutput();
    if (err.empty() && !io_error.empty()) err = io_error;
    return err;
  }
};

VideoWriter::VideoWriter(std::string path, VideoOptions options)
    : path_(std::move(path)), options_(std::move(options)) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_ERROR); });  // x264 prints statistics at info
  thread_ = std::thread([this] { run(); });
}

VideoWriter::~VideoWriter() { close(-1); }

int crfForQuality(std::string_view quality, std::string_view codec) {
  const bool av1 = codec == "av1";
  if (quality == "low") return av1 ? 50 : 34;
  if (quality == "high") return av1 ? 32 : 24;
  return av1 ? 40 : 30;
}

bool VideoWriter::frame(const std::uint8_t* bgrx, int width, int height, int stride, std::int64_t ms) {
  if (!bgrx || width <= 0 || height <= 0 || stride < width * 4) return false;
  std::lock_guard lk(mu_);
  if (failed_ || closing_) return false;
  const std::size_t row = static_cast<std::size_t>(width) * 4;
  pending_.pixels.resize(row * static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y)
    std::memcpy(pending_.pixels.data() + row * y, bgrx + static_cast<std::size_t>(stride) * y, row);
  pending_.width = width;
  pending_.height = height;
  pending_.ms = ms;
  pending_.full = true;  // replaces a frame the worker has not taken yet (merge)
  wake_.notify_one();
  return true;
}

void VideoWriter::run() {
  std::vector<std::uint8_t> work;
  const auto min_gap = std::chrono::milliseconds(1000 / (options_.max_fps > 0 ? options_.max_fps : 5));
  auto next_allowed = std::chrono::steady_clock::now();
  std::string err;
  std::unique_lock lk(mu_);
  auto fail = [&](const std::string& e) {
    if (failed_) return;
    failed_ = true;
    error_ = e;
    auto cb = options_.on_error;
    lk.unlock();
    if (cb) cb(e);
    lk.lock();
  };
  for (;;) {
    wake_.wait_for(lk, options_.fragment_interval, [&] { return closing_ || pending_.full; });
    if (pending_.full && !failed_) {
      if (!closing_ && std::chrono::steady_clock::now() < next_allowed) {
        // Frame-rate cap: wait, a newer frame may replace this one meanwhile.
        wake_.wait_until(lk, next_allowed, [&] { return closing_; });
      }
      std::swap(work, pending_.pixels);
      const int w = pending_.width, h = pending_.height;
      const std::int64_t ms = pending_.ms;
      pending_.full = false;
      lk.unlock();
      next_allowed = std::chrono::steady_clock::now() + min_gap;
      if (!enc_) {
        enc_ = std::make_unique<Encoder>();
        err = enc_->open(path_, w, h, options_);
      }
      if (err.empty()) err = enc_->encode(work.data(), w, h, ms, options_);
      lk.lock();
      if (!err.empty()) fail(err);
      else ++frames_;
    }
    if (enc_ && enc_->header_written && !failed_ &&
        std::chrono::steady_clock::now() - enc_->last_fragment >= options_.fragment_interval) {
      lk.unlock();
      err = enc_->fragment();
      lk.lock();
      if (!err.empty()) fail(err);
    }
    if (closing_ && !pending_.full) break;
    if (closing_ && failed_) break;
  }
  const std::int64_t end_ms = end_ms_;
  lk.unlock();
  if (enc_ && enc_->header_written) {
    err = enc_->finish(end_ms, options_);
    lk.lock();
    if (!err.empty()) fail(err);
    lk.unlock();
  }
  enc_.reset();
  struct stat sb {};
  if (::stat(path_.c_str(), &sb) == 0) {
    std::lock_guard g(mu_);
    bytes_ = static_cast<std::uint64_t>(sb.st_size);
  }
}

std::string VideoWriter::close(std::int64_t end_ms) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return error_;
    closed_ = true;
    closing_ = true;
    end_ms_ = end_ms;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  return error_;
}

std::uint64_t VideoWriter::bytesWritten() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

std::uint64_t VideoWriter::framesEncoded() const {
  std::lock_guard lk(mu_);
  return frames_;
}

bool VideoWriter::failed() const {
  std::lock_guard lk(mu_);
  return failed_;
}

}  // namespace vigil::recorder
