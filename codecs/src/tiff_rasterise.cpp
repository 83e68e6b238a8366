// rasterise_tiff: every page of a TIFF at fax geometry. Bilevel pages already
// 1728 wide at fax resolution are read line by line (any compression and fill
// order libtiff decodes); everything else goes through libtiff's RGBA reader.
#include <algorithm>
#include <cmath>
#include <string>

#include "fax_raster.hpp"
#include "tiff_memory.hpp"

namespace umstore::codecs::detail {
namespace {

constexpr int rgba_rows_per_read = 64;

bool near(double value, double target) { return std::abs(value - target) <= target * 0.03; }

class RgbaImage {
 public:
  RgbaImage(TIFF* tif, const MemoryTiffReader& reader) {
    char message[1024] = {};
    if (!TIFFRGBAImageOK(tif, message) || !TIFFRGBAImageBegin(&image_, tif, 0, message))
      reader.fail(std::string("cannot decode page: ") + message);
    image_.req_orientation = ORIENTATION_TOPLEFT;
  }
  ~RgbaImage() { TIFFRGBAImageEnd(&image_); }
  RgbaImage(const RgbaImage&) = delete;
  RgbaImage& operator=(const RgbaImage&) = delete;
  TIFFRGBAImage& get() { return image_; }

 private:
  TIFFRGBAImage image_{};
};

std::uint8_t luminance_of(std::uint32_t pixel) {
  const unsigned r = TIFFGetR(pixel), g = TIFFGetG(pixel), b = TIFFGetB(pixel), a = TIFFGetA(pixel);
  const unsigned grey = (r * 299 + g * 587 + b * 114) / 1000;
  return static_cast<std::uint8_t>((grey * a + 255 * (255 - a)) / 255);  // transparent = paper white
}

GreyPage decode_grey(TIFF* tif, const MemoryTiffReader& reader, const FaxPage& geometry) {
  RgbaImage rgba(tif, reader);
  GreyPage page{geometry.width, geometry.length, geometry.x_resolution, geometry.y_resolution, {}};
  page.luminance.resize(static_cast<std::size_t>(page.width) * page.length);
  std::vector<std::uint32_t> raster(static_cast<std::size_t>(page.width) * rgba_rows_per_read);
  for (std::uint32_t row = 0; row < page.length; row += rgba_rows_per_read) {
    const std::uint32_t rows = std::min<std::uint32_t>(rgba_rows_per_read, page.length - row);
    rgba.get().row_offset = static_cast<int>(row);
    rgba.get().col_offset = 0;
    if (!TIFFRGBAImageGet(&rgba.get(), raster.data(), page.width, rows))
      reader.fail("cannot decode image data at line " + std::to_string(row));
    const std::size_t count = static_cast<std::size_t>(page.width) * rows;
    std::transform(raster.begin(), raster.begin() + static_cast<std::ptrdiff_t>(count),
                   page.luminance.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(row) * page.width),
                   luminance_of);
  }
  return page;
}

// A bilevel strip-organised page that is already fax-shaped needs no scaling.
bool is_fax_shaped(TIFF* tif, const FaxPage& geometry) {
  std::uint16_t bits = 0, samples = 0, photometric = 0xFFFF, orientation = ORIENTATION_TOPLEFT;
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orientation);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  const double x = geometry.x_resolution, y = geometry.y_resolution;
  return bits == 1 && samples == 1 && !TIFFIsTiled(tif) && orientation == ORIENTATION_TOPLEFT &&
         (photometric == PHOTOMETRIC_MINISWHITE || photometric == PHOTOMETRIC_MINISBLACK) &&
         geometry.width == fax_width && (near(x, 204) || near(x, 200)) &&
         (near(y, 98) || near(y, 100) || near(y, 196) || near(y, 200));
}

BilevelPage read_fax_shaped(TIFF* tif, const MemoryTiffReader& reader, const FaxPage& geometry) {
  std::uint16_t photometric = PHOTOMETRIC_MINISWHITE;
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  if (TIFFScanlineSize(tif) != static_cast<tmsize_t>(BilevelPage::bytes_per_row())) reader.fail("unexpected line size");
  BilevelPage page;
  page.length = geometry.length;
  page.y_dpi = geometry.y_resolution < 150 ? 98 : 196;
  page.rows.resize(BilevelPage::bytes_per_row() * page.length);
  for (std::uint32_t row = 0; row < page.length; ++row) {
    std::uint8_t* line = page.rows.data() + BilevelPage::bytes_per_row() * row;
    if (TIFFReadScanline(tif, line, row, 0) < 0) reader.fail("cannot decode image data at line " + std::to_string(row));
    if (photometric == PHOTOMETRIC_MINISBLACK)
      for (std::size_t i = 0; i < BilevelPage::bytes_per_row(); ++i) line[i] = static_cast<std::uint8_t>(~line[i]);
  }
  return page;
}

}  // namespace

std::vector<BilevelPage> rasterise_tiff(std::span<const std::uint8_t> tiff, std::string_view name,
                                        const FaxLimits& limits) {
  const FaxDocument document = inspect_tiff(tiff, name, limits);
  MemoryTiffReader reader(tiff, name);
  std::vector<BilevelPage> pages;
  for (std::size_t index = 0; index < document.pages.size(); ++index) {
    if (!TIFFSetDirectory(reader.get(), static_cast<tdir_t>(index)))
      reader.fail("cannot read page " + std::to_string(index + 1));
    const FaxPage& geometry = document.pages[index];
    if (is_fax_shaped(reader.get(), geometry))
      pages.push_back(read_fax_shaped(reader.get(), reader, geometry));
    else
      pages.push_back(fit_to_fax(decode_grey(reader.get(), reader, geometry), limits, name));
  }
  return pages;
}

}  // namespace umstore::codecs::detail
