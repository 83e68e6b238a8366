#include "request_parser.hpp"

#include <fmt/format.h>

#include <limits>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/ascii.hpp"

namespace umstore::http {
namespace beast = boost::beast;

namespace {
// More would be a flood of tiny fields within max_header_bytes.
constexpr std::size_t kMaxHeaderFields = 100;

using BeastParser = beast::http::request_parser<beast::http::string_body>;

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }

Response refusal_for(const beast::error_code& ec, std::size_t max_body_bytes) {
  if (ec == beast::http::error::header_limit) return json_error(431, "request headers too large");
  if (ec == beast::http::error::body_limit)
    return json_error(413, fmt::format("the chunked body exceeds the limit of {} bytes", max_body_bytes));
  return json_error(400, "malformed request: " + ec.message());
}

// What Beast accepts and we do not.
std::optional<Response> check_head(const BeastParser& parser) {
  const auto& message = parser.get();
  if (message.version() / 10 != 1) return json_error(400, "malformed request line: HTTP/1.x only");
  if (static_cast<std::size_t>(std::distance(message.begin(), message.end())) > kMaxHeaderFields)
    return json_error(431, "request headers too large");
  // RFC 9112 §6.1: a coding we cannot undo leaves the body's end unknown.
  if (message.count(beast::http::field::transfer_encoding) && !parser.chunked())
    return json_error(501, "only the chunked transfer coding is supported for request bodies");
  return std::nullopt;
}

}  // namespace

struct RequestParser::Beast {
  BeastParser parser;
};

RequestParser::RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : beast_(std::make_unique<Beast>()), max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  auto& parser = beast_->parser;
  constexpr std::size_t kMost = std::numeric_limits<std::uint32_t>::max();
  parser.header_limit(static_cast<std::uint32_t>(std::min(max_header_bytes, kMost)));
  // Beast would refuse a large Content-Length as soon as the head is in;
  // the server's screen (a bearer token) must speak first. (Not
  // boost::none: Beast 1.74 compares the length with it and refuses all.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(false);  // stop after the head
}

RequestParser::~RequestParser() = default;

std::size_t RequestParser::parse(std::string_view input) {
  auto& parser = beast_->parser;
  if (refusal_ || parser.is_done()) return 0;
  const bool had_head = parser.is_header_done();
  beast::error_code ec;
  const std::size_t used = parser.put(boost::asio::const_buffer(input.data(), input.size()), ec);
  if (ec == beast::http::error::need_more) {
    // Beast bounds the head, not a chunk's header line or the trailer.
    if (had_head && input.size() - used > max_header_bytes_)
      refusal_ = json_error(400, "a chunk header or the trailer is too long");
  } else if (ec) {
    refusal_ = refusal_for(ec, max_body_bytes_);
  } else if (!had_head && parser.is_header_done()) {
    refusal_ = check_head(parser);
  }
  return used;
}

void RequestParser::read_body() {
  auto& parser = beast_->parser;
  if (const auto length = parser.content_length(); length && *length > max_body_bytes_) {
    refusal_ = json_error(413, fmt::format("body of {} bytes exceeds the limit of {} bytes", *length, max_body_bytes_));
    return;
  }
  parser.body_limit(max_body_bytes_);
  parser.eager(true);
}

bool RequestParser::head_done() const { return beast_->parser.is_header_done(); }
bool RequestParser::done() const { return beast_->parser.is_done(); }
std::optional<std::uint64_t> RequestParser::content_length() const {
  const auto length = beast_->parser.content_length();
  return length ? std::optional(*length) : std::nullopt;
}
bool RequestParser::keep_alive() const { return beast_->parser.keep_alive(); }
std::size_t RequestParser::body_size() const { return beast_->parser.get().body().size(); }
std::string RequestParser::take_body() { return std::move(beast_->parser.get().body()); }

Request RequestParser::head() const {
  const auto& message = beast_->parser.get();
  Request req;
  req.method = std::string(view(message.method_string()));
  req.target = std::string(view(message.target()));
  // A repeated name keeps its last value, as handlers read one.
  for (const auto& field : message)
    req.headers[ascii_lower(view(field.name_string()))] = std::string(view(field.value()));
  return req;
}

}  // namespace umstore::http
