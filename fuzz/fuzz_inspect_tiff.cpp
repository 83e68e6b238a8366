// Any bytes into inspect_tiff, the TIFF-F conformance check.
#include <cstddef>
#include <cstdint>

#include "codecs/fax.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::codecs;
  try {
    (void)inspect_tiff({data, size}, "fuzz.tif", {.max_pages = 8, .max_width = 2500, .max_length = 3000});
  } catch (const CodecError&) {
  }
  return 0;
}
