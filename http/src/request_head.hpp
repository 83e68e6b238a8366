#pragma once
// The request line and header fields of an HTTP/1.1 request, parsed apart
// from the connection that reads them (server.cpp) so the fuzzer
// (fuzz/fuzz_http_request.cpp) can reach them without a socket.
#include <cstddef>
#include <optional>
#include <string_view>

#include "http/message.hpp"

namespace umstore::http {

// "METHOD target HTTP/1.x" into req.method and req.target; false when malformed.
bool parse_request_line(std::string_view line, Request& req);
// One "Name: value" line into req.headers (name lower-cased, value trimmed;
// a repeated name keeps the last); false when it has no name or no colon.
bool add_header_field(std::string_view line, Request& req);
// A Content-Length value: nullopt unless it is all decimal digits that fit.
std::optional<std::size_t> parse_content_length(std::string_view value);

}  // namespace umstore::http
