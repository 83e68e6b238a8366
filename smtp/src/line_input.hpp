#pragma once
// SMTP's own line reader on top of net::Connection. It reports whether a
// line ended in CRLF or a bare LF: only <CRLF>.<CRLF> may end DATA, or a
// bare-LF "." would let a sender smuggle a second message past a relay that
// reads the stream differently (the 2023 "SMTP smuggling" attacks).
#include <cstddef>
#include <string>
#include <string_view>

#include "net/connection.hpp"

namespace umstore::smtp {

class LineInput {
 public:
  enum class Status { Ok, TooLong, Closed };
  struct Line {
    Status status = Status::Closed;
    std::string_view text;  // without CR LF; valid until the next read_line
    bool crlf = false;      // ended in CR LF rather than a bare LF (also for TooLong)
  };

  explicit LineInput(net::Connection& connection) : connection_(connection) {}

  // A line longer than max_bytes is consumed up to its LF and reported as
  // TooLong, so the caller can answer and go on.
  net::Task<Line> read_line(std::size_t max_bytes);

  // Exactly n octets (BDAT chunks), appended to `out` unless `keep` is
  // false (a refused chunk still has to be read). False when the peer closed.
  net::Task<bool> read_exact(std::size_t n, std::string& out, bool keep);

  // Octets received but not yet returned (PIPELINING: is more input waiting?).
  std::size_t buffered() const noexcept { return buffer_.size() - start_ + connection_.buffered(); }

  // Forgets buffered input (before a TLS handshake, RFC 3207 §6).
  void discard() noexcept;

 private:
  net::Connection& connection_;
  std::string buffer_;
  std::size_t start_ = 0;
  char last_dropped_ = 0;  // of an overlong line, for its crlf flag
};

}  // namespace umstore::smtp
