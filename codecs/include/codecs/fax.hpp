#pragma once
// Fax images: TIFF inspection and normalisation to TIFF-F (RFC 3949 profile S).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/audio.hpp"  // CodecError

namespace umstore::codecs {

struct FaxPage {
  std::uint32_t width = 0;
  std::uint32_t length = 0;   // scan lines
  double x_resolution = 0;    // dots per inch
  double y_resolution = 0;
  std::uint16_t compression = 0;  // TIFF Compression tag value
};

struct FaxDocument {
  std::vector<FaxPage> pages;
  bool profile_s = false;              // already RFC 3949 profile S?
  std::vector<std::string> findings;   // why it is not profile S, one line each
};

struct FaxLimits {
  unsigned max_pages = 200;
  std::uint32_t max_width = 4864;
  std::uint32_t max_length = 20000;
  std::size_t max_input_bytes = 256u << 20;
};

// Reads every page (IFD) of a TIFF; throws CodecError for non-TIFF or corrupt input.
FaxDocument inspect_tiff(std::span<const std::uint8_t> tiff, std::string_view name, const FaxLimits& limits = {});

// Returns TIFF-F profile S bytes: MH (Compression 3, 1-D), 1728 wide, 204 x 98
// or 204 x 196 dpi, FillOrder 2, II byte order, one strip per page. Input that
// already conforms is returned unchanged.
std::vector<std::uint8_t> to_profile_s(std::span<const std::uint8_t> tiff, std::string_view name,
                                       const FaxLimits& limits = {});

}  // namespace umstore::codecs
