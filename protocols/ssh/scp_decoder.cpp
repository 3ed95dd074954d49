// Legacy scp (rcp protocol) decoder; the record and answer formats are those of OpenSSH's scp.c
// source() and sink().
#include "protocols/ssh/scp_decoder.hpp"

#include <algorithm>
#include <optional>

namespace vigil::ssh {
namespace {

/// Splits a command line the way the remote shell would for the words scp gets: blanks
/// separate, '...' is literal, "..." honours \" \\ \$ \`, a backslash quotes one character.
/// Nothing is expanded. Empty on an unterminated quote.
std::optional<std::vector<std::string>> shellWords(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == s.size()) return std::nullopt;
      cur += s[i];
    } else if (c == '\'') {
      const auto end = s.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      cur.append(s.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) return std::nullopt;
        if (s[i] == '"') break;
        if (s[i] == '\\' && i + 1 < s.size() && std::string_view("\"\\$`").find(s[i + 1]) != std::string_view::npos)
          ++i;
        cur += s[i];
      }
    } else {
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::string join(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string p(dir);
  if (p.back() != '/') p += '/';
  p.append(name);
  return p;
}

bool digits(std::string_view s, bool octal) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return c >= '0' && c <= (octal ? '7' : '9'); });
}

}  // namespace

ScpDecoder::ScpDecoder(Callbacks& cb, std::string_view command_line) : cb_(cb) {
  auto words = shellWords(command_line);
  if (!words || words->empty()) {
    malformed("scp: the command line does not parse");
    return;
  }
  const std::string& prog = words->front();
  const auto slash = prog.rfind('/');
  if ((slash == std::string::npos ? prog : prog.substr(slash + 1)) != "scp") {
    malformed("scp: not an scp command");
    return;
  }
  bool to = false, from = false, dir = false;
  std::size_t i = 1;
  for (; i < words->size(); ++i) {
    const std::string& w = (*words)[i];
    if (w == "--") {
      ++i;
      break;
    }
    if (w.size() < 2 || w[0] != '-') break;
    for (std::size_t j = 1; j < w.size(); ++j) {
      const char c = w[j];
      if (c == 't') to = true;
      else if (c == 'f') from = true;
      else if (c == 'd') dir = true;
      else if (std::string_view("lcioPSFJDX").find(c) != std::string_view::npos) {
        if (j + 1 == w.size()) ++i;  // the option's value is the next word
        break;
      }
    }
  }
  if (to == from) {
    malformed("scp: the command has neither -t nor -f");
    return;
  }
  if (i >= words->size()) {
    malformed("scp: the command names no path");
    return;
  }
  std::string path = (*words)[i];
  upload_ = to;
  if (upload_) {
    base_ = path;
    target_is_dir_ = dir || path.empty() || path == "." || path == ".." || path == "~" || path.back() == '/';
  } else {
    // scp's source() drops trailing slashes before taking the base name it sends.
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    source_path_ = path;
    const auto pos = path.rfind('/');
    base_ = pos == std::string::npos ? "" : pos == 0 ? "/" : path.substr(0, pos);
  }
}

void ScpDecoder::clientBytes(std::string_view bytes) {
  if (inert_) return;
  if (upload_) sourceBytes(bytes);
  else sinkBytes(bytes);
}

void ScpDecoder::serverBytes(std::string_view bytes) {
  if (inert_) return;
  if (upload_) sinkBytes(bytes);
  else sourceBytes(bytes);
}

void ScpDecoder::sourceBytes(std::string_view in) {
  while (!in.empty() && !inert_) {
    switch (send_) {
      case Send::AwaitAck:
        // A well-behaved source waits for each answer; keep a little in case the bytes race.
        if (early_.size() + in.size() > kMaxEarly) return malformed("scp: the source did not wait for answers");
        early_.append(in);
        return;
      case Send::Line:
      case Send::TrailerMsg: {
        const auto nl = in.find('\n');
        const auto part = in.substr(0, nl);
        if (line_.size() + part.size() > kMaxLine) return malformed("scp: control record longer than 8 KiB");
        line_.append(part);
        if (nl == std::string_view::npos) return;
        in.remove_prefix(nl + 1);
        std::string line;
        line.swap(line_);
        if (send_ == Send::Line) {
          controlRecord(line);
        } else {  // the source could not read the whole file and said why
          send_ = Send::AwaitAck;
          expect_ = Expect::FileDone;
        }
        break;
      }
      case Send::Data: {
        const std::uint64_t take = std::min<std::uint64_t>(remaining_, in.size());
        bytes_ += take;
        remaining_ -= take;
        in.remove_prefix(static_cast<std::size_t>(take));
        if (remaining_ == 0) send_ = Send::Trailer;
        break;
      }
      case Send::Trailer: {
        const char c = in[0];
        in.remove_prefix(1);
        if (c == 0) {
          trailer_ok_ = true;
          send_ = Send::AwaitAck;
          expect_ = Expect::FileDone;
        } else if (c == 1 || c == 2) {
          trailer_ok_ = false;
          send_ = Send::TrailerMsg;
        } else {
          return malformed("scp: bad status byte after file data");
        }
        break;
      }
    }
  }
}

void ScpDecoder::controlRecord(std::string_view line) {
  if (line.empty()) return malformed("scp: empty control record");
  const char kind = line[0];
  if (kind == 1 || kind == 2) {
    // The source reports an error and goes on without waiting. Before any file on a download,
    // that is the server refusing the requested path.
    if (!upload_ && !any_file_ && dirs_.empty()) {
      any_file_ = true;
      proto::FileOperation op;
      op.operation = "download";
      op.path = source_path_;
      op.ok = false;
      cb_.onFileOperation(op);
    }
    return;
  }
  if (kind == 'C' || kind == 'D') {
    // C<mode> <size> <name>
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return malformed("scp: control record without mode, size and name");
    const auto mode = line.substr(1, sp1 - 1);
    const auto size = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto name = line.substr(sp2 + 1);
    if (!digits(mode, true) || mode.size() > 6) return malformed("scp: bad mode in control record");
    if (!digits(size, false) || size.size() > 19) return malformed("scp: bad size in control record");
    // OpenSSH's sink refuses these too: a name must not climb out of the target directory.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
      return malformed("scp: file name with a slash or a dot-dot");
    size_ = 0;
    for (char c : size) size_ = size_ * 10 + static_cast<std::uint64_t>(c - '0');
    name_ = std::string(name);
    if (kind == 'C') {
      in_file_ = true;
      bytes_ = 0;
    }
  } else if (kind == 'E') {
    if (line.size() != 1) return malformed("scp: bad end-of-directory record");
  } else if (kind != 'T') {
    return malformed("scp: expected a control record");
  }
  record_ = kind;
  send_ = Send::AwaitAck;
  expect_ = Expect::Control;
}

void ScpDecoder::sinkBytes(std::string_view in) {
  while (!in.empty() && !inert_) {
    if (in_sink_msg_) {
      const auto nl = in.find('\n');
      const std::size_t part = nl == std::string_view::npos ? in.size() : nl;
      if (sink_msg_len_ + part > kMaxLine) return malformed("scp: error answer longer than 8 KiB");
      sink_msg_len_ += part;
      if (nl == std::string_view::npos) return;
      in.remove_prefix(nl + 1);
      in_sink_msg_ = false;
      sink_msg_len_ = 0;
      answered(false);
      continue;
    }
    const char c = in[0];
    in.remove_prefix(1);
    if (expect_ == Expect::None) return malformed("scp: an answer nobody waited for");
    if (c == 0) answered(true);
    else if (c == 1 || c == 2) in_sink_msg_ = true;
    else return malformed("scp: bad answer byte");
  }
}

void ScpDecoder::answered(bool ok) {
  const Expect was = expect_;
  expect_ = Expect::None;
  send_ = Send::Line;
  if (was == Expect::Control) {
    if (record_ == 'C') {
      if (ok) {
        remaining_ = size_;
        send_ = remaining_ > 0 ? Send::Data : Send::Trailer;
      } else {
        report(false);  // the sink refused the file; no data follows
      }
    } else if (record_ == 'D') {
      if (ok) dirs_.push_back(name_);  // a refused directory is skipped whole by the source
    } else if (record_ == 'E') {
      if (!dirs_.empty()) dirs_.pop_back();
    }
  } else if (was == Expect::FileDone) {
    report(trailer_ok_ && ok);
  }
  if (!early_.empty() && !inert_) {
    std::string early;
    early.swap(early_);
    sourceBytes(early);
  }
}

std::string ScpDecoder::filePath(std::string& path2) const {
  if (upload_ && dirs_.empty() && !target_is_dir_) {
    path2 = name_;
    return base_;
  }
  std::string p = base_;
  for (const auto& d : dirs_) p = join(p, d);
  return join(p, name_);
}

void ScpDecoder::report(bool ok) {
  proto::FileOperation op;
  op.operation = upload_ ? "upload" : "download";
  op.path = filePath(op.path2);
  op.bytes = bytes_;
  op.ok = ok;
  in_file_ = false;
  any_file_ = true;
  cb_.onFileOperation(op);
}

void ScpDecoder::finish() {
  if (finished_) return;
  finished_ = true;
  if (in_file_) report(false);
  inert_ = true;
  early_.clear();
  line_.clear();
}

void ScpDecoder::malformed(std::string_view why) {
  if (inert_) return;
  inert_ = true;
  early_.clear();
  line_.clear();
  cb_.onMalformed(why);
}

}  // namespace vigil::ssh
