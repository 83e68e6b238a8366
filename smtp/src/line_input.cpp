#include "line_input.hpp"

#include <algorithm>

namespace umstore::smtp {

void LineInput::discard() noexcept {
  buffer_.clear();
  start_ = 0;
}

net::Task<bool> LineInput::read_exact(std::size_t n, std::string& out, bool keep) {
  const auto end = connection_.rate_deadline(net::Connection::Clock::now(), n);  // a chunk as a whole
  for (;;) {
    const std::size_t take = std::min(n, buffer_.size() - start_);
    if (keep) out.append(buffer_, start_, take);
    start_ += take;
    n -= take;
    if (n == 0) co_return true;
    buffer_.clear();
    start_ = 0;
    std::string_view more = co_await connection_.read_some(end);
    if (more.empty()) co_return false;
    buffer_.append(more);
  }
}

net::Task<LineInput::Line> LineInput::read_line(std::size_t max_bytes) {
  std::size_t scanned = start_;
  bool overflow = false;
  // A line as a whole, from its first byte (waiting for one is the idle
  // timeout's business): one byte a second cannot hold the connection.
  constexpr auto kNotBegun = net::Connection::Clock::time_point::max();
  auto line_end = buffer_.size() > start_ ? connection_.line_deadline() : kNotBegun;
  for (;;) {
    auto lf = buffer_.find('\n', scanned);
    if (lf != std::string::npos) {
      std::string_view text(buffer_.data() + start_, lf - start_);
      start_ = lf + 1;
      if (overflow || text.size() > max_bytes + 1)  // + 1: the CR
        co_return Line{Status::TooLong, {}, text.empty() ? last_dropped_ == '\r' : text.back() == '\r'};
      bool crlf = !text.empty() && text.back() == '\r';
      if (crlf) text.remove_suffix(1);
      co_return Line{Status::Ok, text, crlf};
    }
    if (buffer_.size() - start_ > max_bytes) {
      overflow = true;  // drop what we have, keep reading to the LF
      if (start_ < buffer_.size()) last_dropped_ = buffer_.back();
      start_ = buffer_.size();
    }
    // Compact before appending: the buffer stays below max_bytes plus one read.
    buffer_.erase(0, start_);
    start_ = 0;
    scanned = buffer_.size();
    std::string_view more = co_await connection_.read_some(line_end);
    if (more.empty()) co_return Line{Status::Closed, {}, false};
    if (line_end == kNotBegun) line_end = connection_.line_deadline();
    buffer_.append(more);
  }
}

}  // namespace umstore::smtp
