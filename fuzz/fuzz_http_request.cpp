// An HTTP request head as a gateway or a stranger sends it to the gateway
// API or the admin listener: the request line, the header fields (one per
// CRLF-ended line, up to the empty line), Content-Length, then what the
// handlers read from them (the route and its percent-decoded path
// segments, query parameters, cookies). None may crash, hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message.hpp"
#include "http/router.hpp"
#include "request_head.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::http;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const auto next_line = [&rest] {
    const auto end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    return line;
  };
  Request req;
  if (!parse_request_line(next_line(), req)) return 0;
  while (!rest.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    if (!add_header_field(line, req)) return 0;
  }
  if (const auto length = req.header("content-length")) (void)parse_content_length(*length);
  static const auto router = [] {
    Router<int> r;  // patterns shaped as the admin API's
    r.add("GET", "/api/mailboxes/{}", 1);
    r.add("GET", "/api/mailboxes/{}/messages/{}/{}/audio", 2);
    r.add("POST", "/api/queues/smtp/{}/retry", 3);
    return r;
  }();
  (void)router.match(req.method, req.path());
  (void)req.query("mailbox");
  (void)req.query("");
  (void)req.cookie("session");
  (void)percent_decode(req.target);
  return 0;
}
