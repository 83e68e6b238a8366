#pragma once
// One HTTP/1.1 request parsed by Boost.Beast's request parser from input as
// it arrives, apart from the connection that reads it (server.cpp) so the
// fuzzer (fuzz/fuzz_http_request.cpp) reaches it without a socket. Beast
// parses; the limits and the refusals (our JSON errors) are ours. Beast's
// types stay in request_parser.cpp: its sockets are Boost.Asio's, ours
// standalone Asio's (README, "Dependencies").
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "http/message.hpp"

namespace umstore::http {

class RequestParser {
 public:
  // The head (request line and header fields) must fit max_header_bytes;
  // the body (counted or chunked) may not pass max_body_bytes, judged only
  // once read_body() is called, after the server's screen.
  RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses what it can of `input`: up to the end of the head, then, once
  // read_body() was called, of the body. Returns the octets used; the rest
  // must be offered again with more input after it.
  std::size_t parse(std::string_view input);
  // The caller has looked at the head: the body may be read, unless its
  // Content-Length is over the limit (then refusal() says so).
  void read_body();

  bool head_done() const;
  bool done() const;
  // Set when the request cannot be taken: the response that says why.
  const std::optional<Response>& refusal() const { return refusal_; }

  // After head_done(): the method, target and header fields (no body).
  Request head() const;
  std::optional<std::uint64_t> content_length() const;
  bool keep_alive() const;
  // The body read so far, and (after done()) all of it.
  std::size_t body_size() const;
  std::string take_body();

 private:
  struct Beast;
  std::unique_ptr<Beast> beast_;
  std::size_t max_header_bytes_;
  std::size_t max_body_bytes_;
  std::optional<Response> refusal_;
};

}  // namespace umstore::http
