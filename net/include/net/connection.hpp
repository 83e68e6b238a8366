#pragma once
// A client connection with a bounded input buffer, optional TLS (STARTTLS or
// implicit), and an inactivity timeout. Protocol code reads lines and
// counted octets from it and never sees raw sockets.
#include <asio/ssl.hpp>

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
  std::string_view line;  // without CR LF; valid until the next read call
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

  // Up to what is buffered or arrives with one read; empty when closed.
  Task<std::string_view> read_some();

  Task<void> write(std::string_view data);

  // Server side TLS handshake. Input buffered before the handshake is
  // discarded (RFC 3207 / RFC 3501 command injection defence).
  Task<bool> start_tls(asio::ssl::context& tls);
  bool is_tls() const noexcept { return tls_ != nullptr; }

  // Codes the stream from now on; input already buffered but not consumed
  // was sent coded too, so it goes through the codec first.
  void set_codec(std::unique_ptr<StreamCodec> codec);

  // Closes the connection when no input arrives for this long.
  void set_idle_timeout(std::chrono::steady_clock::duration timeout) noexcept { idle_timeout_ = timeout; }

  // Bytes already buffered but not consumed (for PIPELINING decisions).
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

  void close() noexcept;
  bool is_open() const noexcept { return socket_.is_open(); }
  const std::string& peer() const noexcept { return peer_; }
  std::string peer_address() const;
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  Task<std::size_t> fill();  // reads more input; 0 when closed or timed out
  void compact();

  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::unique_ptr<StreamCodec> codec_;
  std::string buffer_;
  std::size_t start_ = 0;
  std::size_t max_line_;
  std::chrono::steady_clock::duration idle_timeout_ = std::chrono::minutes(5);
  std::string peer_;
};

}  // namespace umstore::net
