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
  // Pixels of all pages together as they are decoded (a TIFF's own, a PDF's
  // at the resolution it is rendered at), checked from the page sizes
  // before any page is decoded: what decoding costs grows with them, and a
  // TIFF of white pages holds a hundred million of them in a few hundred
  // bytes. About 2.5 times a 100-page fax at fine resolution (1728 x 2292).
  std::uint64_t max_pixels = 1'000'000'000;
};

// Throws LimitExceeded when `pixels`, those of the first `pages` pages,
// pass limits.max_pixels; `format` is for the message.
void check_fax_pixels(std::uint64_t pixels, std::size_t pages, const FaxLimits& limits, std::string_view name,
                      std::string_view format);

// Reads every page (IFD) of a TIFF; throws CodecError for non-TIFF or corrupt input.
FaxDocument inspect_tiff(std::span<const std::uint8_t> tiff, std::string_view name, const FaxLimits& limits = {});

// What a fax input turned out to be, from its first bytes.
enum class FaxInputFormat { tiff, pdf, png, jpeg };
// Throws CodecError naming the file when it is none of them (or empty).
FaxInputFormat detect_fax_input(std::span<const std::uint8_t> input, std::string_view name);
std::string_view to_string(FaxInputFormat format);

// Returns TIFF-F profile S bytes: MH (Compression 3, 1-D), 1728 wide, 204 x 98
// or 204 x 196 dpi, FillOrder 2, II byte order, one strip per page. Input may
// be any format detect_fax_input accepts; a TIFF that already conforms is
// returned unchanged.
std::vector<std::uint8_t> to_profile_s(std::span<const std::uint8_t> input, std::string_view name,
                                       const FaxLimits& limits = {});

enum class TiffFProfile { s, f };

struct FaxConversionOptions {
  // S for anyone; F (MMR, Compression 4, FillOrder 1, same page geometry and
  // layout) when the recipient announces it accepts it: about half the size.
  TiffFProfile profile = TiffFProfile::s;
  bool want_tiff = true;
  bool want_pdf = false;  // a PDF embedding each page's MMR data unchanged
};

struct FaxConversion {
  FaxInputFormat input_format = FaxInputFormat::tiff;
  std::vector<std::uint8_t> tiff;  // empty unless want_tiff
  std::vector<std::uint8_t> pdf;   // empty unless want_pdf
  std::vector<FaxPage> pages;      // output pages: count, pixels and resolution (page size = pixels / dpi)
};

// Decodes the input once (TIFF in any bilevel/grey/colour coding libtiff reads,
// PDF rendered by poppler, PNG, JPEG; grey and colour are area-scaled and
// thresholded at mid-grey) and produces the requested outputs.
FaxConversion convert_fax(std::span<const std::uint8_t> input, std::string_view name,
                          const FaxConversionOptions& options = {}, const FaxLimits& limits = {});

// Shorthands for convert_fax.
std::vector<std::uint8_t> to_profile_f(std::span<const std::uint8_t> input, std::string_view name,
                                       const FaxLimits& limits = {});
std::vector<std::uint8_t> to_fax_pdf(std::span<const std::uint8_t> input, std::string_view name,
                                     const FaxLimits& limits = {});

}  // namespace umstore::codecs
