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

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }
}  // namespace

struct RequestParser::Beast {
  beast::http::request_parser<beast::http::string_body> parser;
};

RequestParser::RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : beast_(std::make_unique<Beast>()), max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  auto& parser = beast_->parser;
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header_bytes, UINT32_MAX)));
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
    return used;
  }
  if (ec == beast::http::error::header_limit) {
    refusal_ = json_error(431, "request headers too large");
  } else if (ec == beast::http::error::body_limit) {
    refusal_ = json_error(413, fmt::format("the chunked body exceeds the limit of {} bytes", max_body_bytes_));
  } else if (ec) {
    refusal_ = json_error(400, "malformed request: " + ec.message());
  } else if (!had_head && parser.is_header_done()) {
    const auto& message = parser.get();
    const auto fields = static_cast<std::size_t>(std::distance(message.begin(), message.end()));
    if (message.version() / 10 != 1)
      refusal_ = json_error(400, "malformed request line: HTTP/1.x only");
    else if (fields > kMaxHeaderFields)
      refusal_ = json_error(431, "request headers too large");
    else if (message.count(beast::http::field::transfer_encoding) && !parser.chunked())
      refusal_ = json_error(501, "only the chunked transfer coding is supported for request bodies");
  }
  return used;
}

void RequestParser::read_body() {
  beast_->parser.body_limit(max_body_bytes_);
  beast_->parser.eager(true);
}

bool RequestParser::head_done() const { return beast_->parser.is_header_done(); }
bool RequestParser::done() const { return beast_->parser.is_done(); }
std::optional<std::uint64_t> RequestParser::content_length() const {
  const auto length = beast_->parser.content_length();
  return length ? std::optional(*length) : std::nullopt;
}
bool RequestParser::chunked() const { return beast_->parser.chunked(); }
bool RequestParser::keep_alive() const { return beast_->parser.keep_alive(); }
std::size_t RequestParser::body_size() const { return beast_->parser.get().body().size(); }
std::string RequestParser::take_body() { return std::move(beast_->parser.get().body()); }

Request RequestParser::head() const {
  const auto& message = beast_->parser.get();
  Request req;
  req.method = std::string(view(message.method_string()));
  req.target = std::string(view(message.target()));
  // A repeated name keeps its last value, as handlers read one.
  for (const auto& field : message) req.headers[ascii_lower(view(field.name_string()))] = std::string(view(field.value()));
  return req;
}

}  // namespace umstore::http
