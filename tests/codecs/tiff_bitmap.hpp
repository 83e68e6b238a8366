#pragma once
// Fax pages read back with libtiff as bitmaps, for the codecs tests that
// compare pixels.
#include <tiffio.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace codecs_test {

// A page as one byte per pixel, 1 = black.
struct Bitmap {
  std::uint32_t width = 0, length = 0;
  std::vector<std::uint8_t> black;
  bool at(std::uint32_t x, std::uint32_t y) const { return black[static_cast<std::size_t>(y) * width + x] != 0; }
  std::size_t ink() const { return static_cast<std::size_t>(std::count(black.begin(), black.end(), 1)); }
  std::size_t ink_in(std::uint32_t x0, std::uint32_t y0, std::uint32_t x1, std::uint32_t y1) const {
    std::size_t count = 0;
    for (std::uint32_t y = y0; y < y1; ++y)
      for (std::uint32_t x = x0; x < x1; ++x) count += at(x, y);
    return count;
  }
  // Bands of rows with ink separated by white rows: lines of text.
  std::size_t text_lines() const {
    std::size_t bands = 0;
    bool in_band = false;
    for (std::uint32_t y = 0; y < length; ++y) {
      const bool inked = ink_in(0, y, width, y + 1) > 0;
      bands += inked && !in_band;
      in_band = inked;
    }
    return bands;
  }
};

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};
using TiffFile = std::unique_ptr<TIFF, TiffCloser>;

// Every page of a bilevel TIFF.
inline std::vector<Bitmap> tiff_pages(const std::filesystem::path& path) {
  TiffFile tif(TIFFOpen(path.c_str(), "r"));
  BOOST_TEST_REQUIRE(tif.get() != nullptr);
  std::vector<Bitmap> pages;
  do {
    Bitmap page;
    std::uint16_t photometric = 0;
    TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &page.width);
    TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &page.length);
    TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &photometric);
    std::vector<std::uint8_t> line(static_cast<std::size_t>(TIFFScanlineSize(tif.get())));
    for (std::uint32_t row = 0; row < page.length; ++row) {
      BOOST_TEST_REQUIRE(TIFFReadScanline(tif.get(), line.data(), row, 0) == 1);
      for (std::uint32_t x = 0; x < page.width; ++x)
        page.black.push_back(((line[x / 8] & (0x80 >> (x % 8))) != 0) == (photometric == PHOTOMETRIC_MINISWHITE));
    }
    pages.push_back(std::move(page));
  } while (TIFFReadDirectory(tif.get()));
  return pages;
}

}  // namespace codecs_test
