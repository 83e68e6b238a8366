// An HTTP request as a gateway or a stranger sends it to the gateway API or
// the admin listener, through the parser the server uses (Boost.Beast's,
// with our limits): the head, then a Content-Length or chunked body, fed in
// reads of a size the first octet chooses, as the server feeds what each
// read brings; then what the handlers read from the head (the route and its
// percent-decoded path segments, query parameters, cookies). None may
// crash, hang or read past the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message.hpp"
#include "http/router.hpp"
#include "request_parser.hpp"

namespace {

using namespace umstore::http;

// Offers `input` a read at a time, keeping what the parser leaves unused
// (as net::Connection does); false when the input ran out first.
bool feed(RequestParser& parser, std::string_view& input, std::size_t& offered, std::size_t read_size,
          bool (RequestParser::*finished)() const) {
  while (!(parser.*finished)() && !parser.refusal()) {
    const std::size_t used = parser.parse(input.substr(0, offered));
    input.remove_prefix(used);
    offered -= used;
    if ((parser.*finished)() || parser.refusal()) break;
    if (offered == input.size()) return false;
    offered = std::min(input.size(), offered + read_size);
  }
  return !parser.refusal();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t read_size = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  RequestParser parser(4096, 1u << 16);  // small limits so the fuzzer reaches them
  std::size_t offered = std::min(input.size(), read_size);
  if (!feed(parser, input, offered, read_size, &RequestParser::head_done)) return 0;
  const Request req = parser.head();
  (void)parser.content_length();
  (void)parser.keep_alive();
  parser.read_body();
  if (feed(parser, input, offered, read_size, &RequestParser::done)) (void)parser.take_body();
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
