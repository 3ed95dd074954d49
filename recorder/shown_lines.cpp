#include "recorder/shown_lines.hpp"

#include <algorithm>

namespace vigil::recorder {

void ShownLines::line(std::string text, double t) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
  if (text.find_first_not_of(' ') == std::string::npos) return;
  if (text.size() > kMaxLineChars) {
    // Cut on a UTF-8 character boundary.
    std::size_t cut = kMaxLineChars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  if (recent_.count(text)) return;
  recent_.insert(text);
  recent_order_.push_back(text);
  if (recent_order_.size() > kRecentLines) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
  tokens_ = std::min(kBurstLines, tokens_ + (t - last_refill_) * kLinesPerSecond);
  last_refill_ = std::max(last_refill_, t);
  if (tokens_ < 1) {
    ++dropped_;
    ++dropped_total_;
    return;
  }
  tokens_ -= 1;
  if (open_ && current_.text.size() + text.size() + 1 > kMaxBatchBytes) close();
  if (!open_) {
    current_ = Batch{};
    current_.t = t;
    open_ = true;
  }
  if (!current_.text.empty()) current_.text += '\n';
  current_.text += text;
  ++current_.lines;
}

void ShownLines::close() {
  if (!open_) return;
  current_.dropped = dropped_;
  dropped_ = 0;
  ready_.push_back(std::move(current_));
  current_ = Batch{};
  open_ = false;
}

std::vector<ShownLines::Batch> ShownLines::take(double t, bool final) {
  if (open_ && (final || t - current_.t >= kBatchSeconds)) close();
  std::vector<Batch> out;
  out.swap(ready_);
  return out;
}

}  // namespace vigil::recorder
