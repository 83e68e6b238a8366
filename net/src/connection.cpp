#include "net/connection.hpp"

#include <algorithm>

namespace umstore::net {
namespace {
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kDecodeChunk = 16 * kReadChunk;  // plain bytes per fill() from a codec
// What close_after_reply() lets the peer still send, at most.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 256 * 1024;
// The start of an over-long line is kept for the protocol's error reply
// (an IMAP tag); the rest is dropped as it arrives.
constexpr std::size_t kTooLongHead = 64;
}

Connection::Connection(tcp::socket socket, std::size_t max_line_bytes)
    : socket_(std::move(socket)), max_line_(max_line_bytes) {
  std::error_code ec;
  // Replies often leave in pieces (an IMAP literal's prefix, its bytes, the
  // tagged reply): with Nagle the last small piece waits for the client's
  // delayed ACK, about 40 ms, on every such command.
  socket_.set_option(tcp::no_delay(true), ec);
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? std::string("unknown") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

Connection::~Connection() { close(); }

std::string Connection::peer_address() const {
  auto colon = peer_.rfind(':');
  return colon == std::string::npos ? peer_ : peer_.substr(0, colon);
}

void Connection::close() noexcept {
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

Task<void> Connection::close_after_reply() {
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  const auto until = Clock::now() + kLingerTime;
  for (std::size_t discarded = 0; discarded < kLingerBytes;) {
    start_ = buffer_.size();
    const std::size_t got = co_await fill(until);
    if (got == 0) break;
    discarded += got;
  }
  close();
}

void Connection::compact() {
  if (start_ == 0) return;
  buffer_.erase(0, start_);
  start_ = 0;
  // Idle connections should not keep a large buffer around.
  if (buffer_.capacity() > 4 * kReadChunk && buffer_.size() < kReadChunk) buffer_.shrink_to_fit();
}

Task<std::size_t> Connection::fill(Clock::time_point by) {
  using namespace asio::experimental::awaitable_operators;
  compact();
  const std::size_t old = buffer_.size();
  for (;;) {
    if (codec_ && codec_->pending()) {
      if (!codec_->decode(buffer_, kDecodeChunk)) {
        close();
        co_return 0;
      }
      if (buffer_.size() > old) co_return buffer_.size() - old;
    }
    buffer_.resize(old + kReadChunk);
    asio::mutable_buffer into(buffer_.data() + old, kReadChunk);
    asio::steady_timer timer(socket_.get_executor(),
                             std::min({budget_end(Clock::now(), idle_timeout_), by, deadline_}));
    std::variant<std::tuple<std::error_code, std::size_t>, std::tuple<std::error_code>> r;
    if (tls_)
      r = co_await (tls_->async_read_some(into, use_nothrow) || timer.async_wait(use_nothrow));
    else
      r = co_await (socket_.async_read_some(into, use_nothrow) || timer.async_wait(use_nothrow));
    std::size_t n = 0;
    if (r.index() == 0) {
      auto [ec, got] = std::get<0>(r);
      if (!ec) n = got;
    } else {
      timed_out_ = true;
    }
    buffer_.resize(old + n);
    if (n == 0) close();
    if (!codec_ || n == 0) co_return n;
    // Coded input goes through the codec; a read may decode to nothing yet.
    codec_->feed(std::string_view(buffer_).substr(old));
    buffer_.resize(old);
  }
}

void Connection::set_codec(std::unique_ptr<StreamCodec> codec) {
  codec_ = std::move(codec);
  codec_->feed(std::string_view(buffer_).substr(start_));
  buffer_.resize(start_);
}

// When `started` plus `budget` ends (saturating: budgets may be "forever").
Connection::Clock::time_point Connection::budget_end(Clock::time_point started, Clock::duration budget) {
  return budget >= Clock::time_point::max() - started ? Clock::time_point::max() : started + budget;
}

Task<LineResult> Connection::read_line() {
  std::size_t scanned = start_;
  bool overflow = false;
  // The line's clock starts with its first byte: waiting for a command is
  // the idle timeout's business.
  auto line_end = buffered() > 0 ? budget_end(Clock::now(), line_timeout_) : Clock::time_point::max();
  for (;;) {
    auto lf = buffer_.find('\n', scanned);
    if (lf != std::string::npos) {
      if (overflow || lf - start_ > max_line_) {
        const std::string_view head(buffer_.data() + start_, std::min({lf - start_, kTooLongHead, max_line_}));
        start_ = lf + 1;
        co_return LineResult{LineResult::Status::TooLong, head};
      }
      std::string_view line(buffer_.data() + start_, lf - start_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start_ = lf + 1;
      co_return LineResult{LineResult::Status::Ok, line};
    }
    if (buffer_.size() - start_ > max_line_) {
      // Keep the head, drop the rest and keep reading until the LF that ends the line.
      overflow = true;
      buffer_.resize(start_ + std::min(kTooLongHead, max_line_));
    }
    std::size_t scanned_relative = buffer_.size() - start_;
    // g++ 12 miscompiles co_await inside conditions: await into a variable first.
    const std::size_t got = co_await fill(line_end);
    if (got == 0) co_return LineResult{LineResult::Status::Closed, {}};
    if (line_end == Clock::time_point::max()) line_end = budget_end(Clock::now(), line_timeout_);
    scanned = start_ + scanned_relative;
  }
}

Connection::Clock::time_point Connection::rate_deadline(Clock::time_point started, std::size_t n) const {
  return budget_end(started, line_timeout_ + std::chrono::seconds(n / std::max<std::size_t>(1, min_literal_rate_)));
}

Task<bool> Connection::read_exact(std::size_t n, std::string& out) {
  const auto end = rate_deadline(Clock::now(), n);
  while (n > 0) {
    if (start_ == buffer_.size()) {
      const std::size_t got = co_await fill(end);
      if (got == 0) co_return false;
    }
    std::size_t take = std::min(n, buffer_.size() - start_);
    out.append(buffer_, start_, take);
    start_ += take;
    n -= take;
  }
  co_return true;
}

Task<std::string_view> Connection::read_some(Clock::time_point by) {
  if (start_ == buffer_.size()) {
    const std::size_t got = co_await fill(by);
    if (got == 0) co_return std::string_view{};
  }
  std::string_view out(buffer_.data() + start_, buffer_.size() - start_);
  start_ = buffer_.size();
  co_return out;
}

Task<std::string_view> Connection::peek(bool more, Clock::time_point by) {
  if (more || start_ == buffer_.size()) {
    const std::size_t got = co_await fill(by);
    if (got == 0) co_return std::string_view{};
  }
  co_return std::string_view(buffer_.data() + start_, buffer_.size() - start_);
}

Task<void> Connection::write(std::string_view data) {
  std::string coded;
  if (codec_) {
    codec_->encode(data, coded);
    data = coded;
  }
  std::error_code ec;
  if (tls_)
    std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), use_nothrow);
  else
    std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(data), use_nothrow);
  if (ec) close();
}

Task<bool> Connection::start_tls(asio::ssl::context& tls) {
  using namespace asio::experimental::awaitable_operators;
  buffer_.clear();
  start_ = 0;
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, tls);
  // A handshake is held to a line's budget (and the session's deadline):
  // a client that connects to an implicit-TLS port, or says STARTTLS, and
  // then sends nothing or a byte at a time must not hold the connection.
  asio::steady_timer timer(socket_.get_executor(), std::min(budget_end(Clock::now(), line_timeout_), deadline_));
  const auto r = co_await (tls_->async_handshake(asio::ssl::stream_base::server, use_nothrow) ||
                           timer.async_wait(use_nothrow));
  if (r.index() == 1) timed_out_ = true;
  if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
    close();
    co_return false;
  }
  co_return true;
}

}  // namespace umstore::net
