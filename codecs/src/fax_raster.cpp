// Scaling any page to fax geometry, and CCITT coding through libtiff.
#include "fax_raster.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tiff_memory.hpp"

namespace umstore::codecs::detail {
namespace {

constexpr double letter_width_inches = fax_width / fax_x_dpi;

// Source rows/columns [first, last) that output cell `index` covers at `scale`.
std::pair<std::uint32_t, std::uint32_t> source_span(std::uint32_t index, double scale, std::uint32_t limit) {
  // Clamp in double: with an extreme scale the quotient exceeds uint32.
  const auto first = static_cast<std::uint32_t>(std::min(std::floor(index / scale), limit - 1.0));
  const auto last = static_cast<std::uint32_t>(std::min(std::floor((index + 1) / scale), static_cast<double>(limit)));
  return {first, std::clamp(last, first + 1, limit)};
}

}  // namespace

BilevelPage fit_to_fax(const GreyPage& grey, const FaxLimits& limits, std::string_view name) {
  if (grey.width == 0 || grey.length == 0) throw CodecError(std::string(name) + ": page has no pixels");
  // Without a resolution, assume the page fills the width of the paper.
  // A resolution outside any scanner's range is as good as none (fuzzed
  // files carry 1e-9 dpi): treat it as unknown.
  const auto plausible = [](double dpi) { return dpi >= 10 && dpi <= 10000; };
  const double x_dpi = plausible(grey.x_dpi) ? grey.x_dpi : grey.width / letter_width_inches;
  const double y_dpi = plausible(grey.y_dpi) ? grey.y_dpi : x_dpi;
  BilevelPage out;
  out.y_dpi = y_dpi < 150 ? 98 : 196;
  double x_scale = fax_x_dpi / x_dpi;
  double y_scale = out.y_dpi / y_dpi;
  const double natural_width = grey.width * x_scale;
  if (natural_width > fax_width) {
    x_scale *= fax_width / natural_width;
    y_scale *= fax_width / natural_width;
  }
  const auto content_width =
      std::clamp<std::uint32_t>(static_cast<std::uint32_t>(std::lround(grey.width * x_scale)), 1, fax_width);
  const double length = std::max(1.0, std::round(grey.length * y_scale));
  if (length > limits.max_length)
    throw CodecError(std::string(name) + ": page would be " + std::to_string(static_cast<long long>(length)) +
                     " lines at fax resolution, limit " + std::to_string(limits.max_length));
  out.length = static_cast<std::uint32_t>(length);
  const std::uint32_t left = (fax_width - content_width) / 2;
  x_scale = static_cast<double>(content_width) / grey.width;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> columns(content_width);
  for (std::uint32_t x = 0; x < content_width; ++x) columns[x] = source_span(x, x_scale, grey.width);
  out.rows.assign(BilevelPage::bytes_per_row() * out.length, 0);
  for (std::uint32_t y = 0; y < out.length; ++y) {
    const auto [row_first, row_last] = source_span(y, y_scale, grey.length);
    std::uint8_t* row = out.rows.data() + BilevelPage::bytes_per_row() * y;
    for (std::uint32_t x = 0; x < content_width; ++x) {
      const auto [col_first, col_last] = columns[x];
      unsigned long sum = 0;
      for (std::uint32_t r = row_first; r < row_last; ++r) {
        const std::uint8_t* source = grey.luminance.data() + static_cast<std::size_t>(r) * grey.width;
        for (std::uint32_t c = col_first; c < col_last; ++c) sum += source[c];
      }
      const unsigned long cells = static_cast<unsigned long>(row_last - row_first) * (col_last - col_first);
      if (sum < cells * 128) row[(left + x) / 8] |= static_cast<std::uint8_t>(0x80u >> ((left + x) % 8));
    }
  }
  return out;
}

std::vector<std::uint8_t> encode_ccitt(const BilevelPage& page, CcittCoding coding, std::uint16_t fill_order,
                                       std::string_view name) {
  MemoryTiffWriter writer(name);
  TIFF* tif = writer.get();
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, fax_width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, page.length);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  if (coding == CcittCoding::mh) {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
    TIFFSetField(tif, TIFFTAG_GROUP3OPTIONS, GROUP3OPT_FILLBITS);
  } else {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
    TIFFSetField(tif, TIFFTAG_GROUP4OPTIONS, 0);
  }
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(tif, TIFFTAG_FILLORDER, fill_order);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, page.length);
  // libtiff encodes in place, so it gets a copy.
  std::vector<std::uint8_t> rows = page.rows;
  if (TIFFWriteEncodedStrip(tif, 0, rows.data(), static_cast<tmsize_t>(rows.size())) < 0)
    writer.fail("CCITT encoding failed");
  if (!TIFFWriteDirectory(tif)) writer.fail("CCITT encoding failed");
  const std::vector<std::uint8_t> file = writer.finish();
  MemoryTiffReader reader(file, name);
  const std::uint64_t* offsets = nullptr;
  const std::uint64_t* counts = nullptr;
  if (!TIFFGetField(reader.get(), TIFFTAG_STRIPOFFSETS, &offsets) ||
      !TIFFGetField(reader.get(), TIFFTAG_STRIPBYTECOUNTS, &counts) || offsets[0] + counts[0] > file.size())
    reader.fail("re-encoded page has no strip");
  const auto begin = file.begin() + static_cast<std::ptrdiff_t>(offsets[0]);
  return {begin, begin + static_cast<std::ptrdiff_t>(counts[0])};
}

}  // namespace umstore::codecs::detail
