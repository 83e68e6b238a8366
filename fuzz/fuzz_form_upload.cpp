// A gateway's multipart/form-data upload (the HTTP API's voicemail and fax
// POSTs): the boundary from the Content-Type, then the parts, split by the
// MIME parser (mime::parse_body) and checked as a form. The input is
// split at the first NUL: Content-Type, body. MalformedForm is the 400 the
// API answers; anything else escaping, a crash or a hang is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view content_type = input.substr(0, nul);
  const std::string_view body = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  try {
    if (const auto boundary = umstore::ingest::form_boundary(content_type))
      (void)umstore::ingest::parse_form(body, *boundary);
  } catch (const umstore::ingest::MalformedForm&) {
  }
  return 0;
}
