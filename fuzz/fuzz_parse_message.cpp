// Every message umstore stores, relays, validates or reads a DSN from comes
// from the network: the MIME parser, the conformance checker, the summary
// (exports, erasure, the console) and the DSN reader must take any octets.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mime/conformance.hpp"
#include "mime/dsn_report.hpp"
#include "mime/message_parser.hpp"
#include "mime/message_summary.hpp"

namespace {

void decode_all(const umstore::mime::Part& part, std::string_view raw) {
  (void)umstore::mime::decode_body(part, raw);
  for (const auto& child : part.children) decode_all(child, raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  decode_all(umstore::mime::parse_message(raw), raw);
  (void)umstore::mime::check_message(raw);
  (void)umstore::mime::summarise_message(raw);
  (void)umstore::mime::parse_delivery_status(raw);
  return 0;
}
