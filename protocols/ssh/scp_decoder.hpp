#pragma once
// ScpDecoder: reads both directions of a legacy scp exec channel (`scp -O`, the rcp protocol:
// the remote runs `scp -t DIR` to receive or `scp -f PATH` to send) and reports one upload or
// download per file. Bytes in, facts out, like SftpDecoder: partial records are buffered, file
// contents are counted and dropped, nothing is altered.
//
// The side that sends files ("source") writes control records — "C<mode> <size> <name>\n" then
// the data and one status byte, "D<mode> 0 <name>\n" to enter a directory, "E\n" to leave it,
// "T<times>\n" before a file with -p, "\1msg\n"/"\2msg\n" for errors — and waits for the
// receiver ("sink") to answer each with "\0" (or "\1msg\n"/"\2msg\n"); the sink also starts with
// one "\0". With `-t` the client is the source (uploads), with `-f` the server is (downloads).
//
// Paths: a download is reported as dirname(PATH) + the D nesting + the name in the C record. An
// upload into a directory (DIR ends in '/', is "." or "~", `-d` was given, or the file is inside a
// D record) is DIR + nesting + name. Otherwise the client may be naming the file itself
// (`scp f host:/tmp/new`) or a directory (`scp f host:/tmp`), which only the server knows: then
// `path` is DIR as named and `path2` the file name the client sent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/ssh/sftp_decoder.hpp"

namespace vigil::ssh {

class ScpDecoder {
 public:
  using Callbacks = SftpDecoder::Callbacks;

  /// Longest control record accepted (OpenSSH's own buffer is 2 KiB).
  static constexpr std::size_t kMaxLine = 8192;
  /// Bytes a source may send before the sink's answer it should be waiting for.
  static constexpr std::size_t kMaxEarly = 64 * 1024;

  /// `command_line` is the exec request ("scp -t /dst", "scp -r -f /src"); copied. A command
  /// that is not an scp -t/-f invocation is reported through onMalformed here, once, and the
  /// decoder stays inert. `cb` must outlive the decoder.
  ScpDecoder(Callbacks& cb, std::string_view command_line);
  ScpDecoder(const ScpDecoder&) = delete;
  ScpDecoder& operator=(const ScpDecoder&) = delete;

  /// Client -> server bytes of the channel, split anywhere. Borrowed for the call.
  void clientBytes(std::string_view bytes);
  /// Server -> client bytes of the channel, split anywhere. Borrowed for the call.
  void serverBytes(std::string_view bytes);
  /// The channel closed: a file still in flight is reported with ok=false. Idempotent.
  void finish();
  bool inert() const { return inert_; }

 private:
  enum class Send { AwaitAck, Line, Data, Trailer, TrailerMsg };
  enum class Expect { None, Ready, Control, FileDone };

  void sourceBytes(std::string_view in);
  void sinkBytes(std::string_view in);
  void controlRecord(std::string_view line);
  void answered(bool ok);
  void report(bool ok);
  std::string filePath(std::string& path2) const;
  void malformed(std::string_view why);

  Callbacks& cb_;
  bool inert_ = false;
  bool finished_ = false;
  bool upload_ = false;  // -t: the client sends files
  bool target_is_dir_ = false;
  std::string base_;  // -t: DIR; -f: dirname(PATH)
  std::string source_path_;  // -f: PATH as named, for a refusal before any file

  Send send_ = Send::AwaitAck;
  Expect expect_ = Expect::Ready;
  std::string line_;   // control record being read (without '\n')
  std::string early_;  // source bytes that arrived before the answer they wait for
  char record_ = 0;    // the control record waiting for its answer: 'C', 'D', 'E' or 'T'
  std::string name_;   // its name (C and D)
  std::uint64_t size_ = 0, remaining_ = 0, bytes_ = 0;
  bool trailer_ok_ = false;
  bool in_file_ = false;  // a C record was accepted and its outcome not yet reported
  bool any_file_ = false;
  std::vector<std::string> dirs_;
  std::size_t sink_msg_len_ = 0;  // length so far of a "\1msg\n" answer being skipped
  bool in_sink_msg_ = false;
};

}  // namespace vigil::ssh
