#pragma once
// A client connection with a bounded input buffer, optional TLS (STARTTLS or
// implicit), and time budgets. Protocol code reads lines and counted octets
// from it and never sees raw sockets.
//
// Budgets are for a whole unit of input, not per read, so a client sending
// one byte a second (slowloris) cannot hold a connection open:
//  - idle timeout: no input at all for this long closes the connection;
//  - line time: a line, once begun, must be complete within this time;
//  - literal time: read_exact must average at least a minimum rate;
//  - an operation deadline set by the protocol (DATA, a login dialogue, an
//    HTTP request) that no read may pass.
// A budget that runs out closes the connection; reads then report Closed and
// timed_out() says why.
#include <asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/task.hpp"

namespace umstore::net {

// A transform of the byte stream under the protocol (IMAP COMPRESS=DEFLATE,
// RFC 4978): input is decoded before lines are cut, output encoded last.
class StreamCodec {
 public:
  virtual ~StreamCodec() = default;
  // Takes coded input; decode() hands out its plain bytes.
  virtual void feed(std::string_view wire) = 0;
  // Appends at most `limit` plain bytes to `plain` (so a small input cannot
  // expand without bound); false on corrupt input.
  virtual bool decode(std::string& plain, std::size_t limit) = 0;
  // True when decode() may give more without new input.
  virtual bool pending() const = 0;
  // Appends the wire form of `plain` to `wire`, flushed so the peer can read all of it now.
  virtual void encode(std::string_view plain, std::string& wire) = 0;
};

struct LineResult {
  enum class Status { Ok, TooLong, Closed };
  Status status = Status::Closed;
  // Without CR LF (TooLong: its first 64 octets at most, so a reply can
  // name the command's tag); valid until the next read call.
  std::string_view line;
};

class Connection {
 public:
  Connection(tcp::socket socket, std::size_t max_line_bytes);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Next line. A line longer than max_line_bytes is consumed up to its LF and
  // reported as TooLong, so the protocol can answer an error and go on.
  Task<LineResult> read_line();

  // Exactly n octets (a literal, a BDAT chunk), appended to `out`.
  // Returns false when the peer closed first.
  Task<bool> read_exact(std::size_t n, std::string& out);

  // Up to what is buffered or arrives with one read; empty when closed or
  // when `by` passed (a budget kept by a protocol's own framing).
  Task<std::string_view> read_some(std::chrono::steady_clock::time_point by = std::chrono::steady_clock::time_point::max());

  // For a protocol whose parser takes input as it comes (HTTP, through
  // Boost.Beast's parser): all input buffered and not yet consumed, after
  // one more read when `more` is set or nothing is buffered; empty when
  // closed or when `by` (or a budget) passed. consume(n) marks the first n
  // octets used; the rest is offered again, with the next read's after it.
  // The caller bounds what it leaves unconsumed.
  Task<std::string_view> peek(bool more, std::chrono::steady_clock::time_point by = std::chrono::steady_clock::time_point::max());
  void consume(std::size_t n) noexcept { start_ += std::min(n, buffered()); }

  Task<void> write(std::string_view data);

  // Server side TLS handshake. Input buffered before the handshake is
  // discarded (RFC 3207 / RFC 3501 command injection defence).
  Task<bool> start_tls(asio::ssl::context& tls);
  bool is_tls() const noexcept { return tls_ != nullptr; }

  // Codes the stream from now on; input already buffered but not consumed
  // was sent coded too, so it goes through the codec first.
  void set_codec(std::unique_ptr<StreamCodec> codec);

  using Clock = std::chrono::steady_clock;
  // Closes the connection when no input arrives for this long.
  void set_idle_timeout(Clock::duration timeout) noexcept { idle_timeout_ = timeout; }
  // Closes the connection when a line begun is not complete within this long.
  void set_line_timeout(Clock::duration timeout) noexcept { line_timeout_ = timeout; }
  // read_exact(n) may take line_timeout + n / rate.
  void set_min_literal_rate(std::size_t bytes_per_second) noexcept { min_literal_rate_ = bytes_per_second; }
  // No read completes after `deadline` (a whole DATA, a login dialogue);
  // clear it when the operation is done.
  void set_deadline(Clock::time_point deadline) noexcept { deadline_ = deadline; }
  void clear_deadline() noexcept { deadline_ = Clock::time_point::max(); }
  // A budget ran out (rather than the peer closing).
  bool timed_out() const noexcept { return timed_out_; }
  // For protocols that frame input themselves: when a line begun now must
  // be complete, and when `n` octets begun at `started` must have arrived.
  Clock::time_point line_deadline() const { return budget_end(Clock::now(), line_timeout_); }
  Clock::time_point rate_deadline(Clock::time_point started, std::size_t n) const;

  // Bytes already buffered but not consumed (for PIPELINING decisions).
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

  void close() noexcept;
  // Half-closes, then discards what the peer still sends for a moment (a
  // body it was told not to send) before closing: closing with unread input
  // resets the connection and can lose the reply just written (RFC 9112
  // §9.6). Nothing read is kept.
  Task<void> close_after_reply();
  bool is_open() const noexcept { return socket_.is_open(); }
  const std::string& peer() const noexcept { return peer_; }
  std::string peer_address() const;
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // Reads more input; 0 when closed or when `by` (or a budget) passed.
  Task<std::size_t> fill(Clock::time_point by = Clock::time_point::max());
  void compact();
  static Clock::time_point budget_end(Clock::time_point started, Clock::duration budget);

  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::unique_ptr<StreamCodec> codec_;
  std::string buffer_;
  std::size_t start_ = 0;
  std::size_t max_line_;
  Clock::duration idle_timeout_ = std::chrono::minutes(5);
  Clock::duration line_timeout_ = std::chrono::seconds(60);
  std::size_t min_literal_rate_ = 4096;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  std::string peer_;
};

}  // namespace umstore::net
