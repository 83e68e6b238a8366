#include "request_head.hpp"

#include <charconv>

#include "common/ascii.hpp"

namespace umstore::http {

bool parse_request_line(std::string_view line, Request& req) {
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || !line.substr(sp2 + 1).starts_with("HTTP/1.")) return false;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  return true;
}

bool add_header_field(std::string_view line, Request& req) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  req.headers[ascii_lower(line.substr(0, colon))] = std::string(trim_blanks(line.substr(colon + 1)));
  return true;
}

std::optional<std::size_t> parse_content_length(std::string_view value) {
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
  return n;
}

}  // namespace umstore::http
