// Any bytes into convert_fax (TIFF, PDF, PNG, JPEG in; TIFF-F and PDF out).
#include <cstddef>
#include <cstdint>

#include "codecs/fax.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::codecs;
  try {
    (void)convert_fax({data, size}, "fuzz.fax", {.want_pdf = true},
                      {.max_pages = 4, .max_width = 1800, .max_length = 1200});
  } catch (const CodecError&) {
  }
  return 0;
}
