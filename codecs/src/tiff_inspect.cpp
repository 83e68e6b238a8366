// inspect_tiff: page geometry and an RFC 3949 profile S conformance check.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "codecs/fax.hpp"
#include "tiff_memory.hpp"

namespace umstore::codecs {
namespace {

constexpr double centimetres_per_inch = 2.54;

[[noreturn]] void fail(std::string_view name, std::string_view problem) {
  throw CodecError(std::string(name) + ": " + std::string(problem));
}

bool near(double value, double target) { return std::abs(value - target) <= target * 0.01; }

std::string page_label(std::size_t index) { return "page " + std::to_string(index + 1) + ": "; }

// Where a page's IFD and image data sit, for the RFC 3949 §3.5 layout rules.
struct PageLayout {
  std::uint64_t ifd_offset = 0;
  std::uint64_t data_begin = 0;
  std::uint64_t data_end = 0;
};

void check_header(std::span<const std::uint8_t> tiff, std::string_view name, const FaxLimits& limits) {
  if (tiff.empty()) fail(name, "TIFF: empty input");
  if (tiff.size() > limits.max_input_bytes)
    fail(name, "TIFF: input is " + std::to_string(tiff.size()) + " bytes, limit " +
                   std::to_string(limits.max_input_bytes));
  const bool little = tiff.size() >= 4 && tiff[0] == 'I' && tiff[1] == 'I' && (tiff[2] == 42 || tiff[2] == 43) && tiff[3] == 0;
  const bool big = tiff.size() >= 4 && tiff[0] == 'M' && tiff[1] == 'M' && tiff[2] == 0 && (tiff[3] == 42 || tiff[3] == 43);
  if (!little && !big) fail(name, "not a TIFF file (no II*/MM* signature)");
  if (tiff.size() < 16) fail(name, "TIFF: truncated header (" + std::to_string(tiff.size()) + " bytes)");
}

double to_dpi(float value, std::uint16_t unit) {
  return unit == RESUNIT_CENTIMETER ? value * centimetres_per_inch : static_cast<double>(value);
}

FaxPage read_page(TIFF* tif, std::size_t index, std::string_view name, const FaxLimits& limits) {
  FaxPage page;
  std::uint16_t unit = RESUNIT_INCH;
  float x = 0, y = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &page.width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &page.length);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &page.compression);
  TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
  if (TIFFGetField(tif, TIFFTAG_XRESOLUTION, &x)) page.x_resolution = to_dpi(x, unit);
  if (TIFFGetField(tif, TIFFTAG_YRESOLUTION, &y)) page.y_resolution = to_dpi(y, unit);
  const std::string where = std::string("TIFF: ") + page_label(index);
  if (page.width == 0 || page.length == 0) fail(name, where + "image has no width or length");
  if (page.width > limits.max_width)
    fail(name, where + "width " + std::to_string(page.width) + " exceeds the limit " + std::to_string(limits.max_width));
  if (page.length > limits.max_length)
    fail(name, where + "length " + std::to_string(page.length) + " lines exceeds the limit " +
                   std::to_string(limits.max_length));
  return page;
}

PageLayout read_layout(TIFF* tif, std::size_t index, std::string_view name, std::uint64_t file_size) {
  PageLayout layout;
  layout.ifd_offset = TIFFCurrentDirOffset(tif);
  const bool tiled = TIFFIsTiled(tif);
  const std::uint32_t chunks = tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
  const std::uint64_t* offsets = nullptr;
  const std::uint64_t* counts = nullptr;
  const ttag_t offset_tag = tiled ? TIFFTAG_TILEOFFSETS : TIFFTAG_STRIPOFFSETS;
  const ttag_t count_tag = tiled ? TIFFTAG_TILEBYTECOUNTS : TIFFTAG_STRIPBYTECOUNTS;
  const std::string where = std::string("TIFF: ") + page_label(index);
  if (chunks == 0 || !TIFFGetField(tif, offset_tag, &offsets) || !TIFFGetField(tif, count_tag, &counts) || !offsets ||
      !counts)
    fail(name, where + "no image data (missing strip offsets or byte counts)");
  layout.data_begin = file_size;
  for (std::uint32_t i = 0; i < chunks; ++i) {
    if (offsets[i] > file_size || counts[i] > file_size - offsets[i])
      fail(name, where + "truncated: image data runs past the end of the file (" + std::to_string(file_size) +
                     " bytes)");
    layout.data_begin = std::min(layout.data_begin, offsets[i]);
    layout.data_end = std::max(layout.data_end, offsets[i] + counts[i]);
  }
  return layout;
}

void check_resolution(const FaxPage& page, std::uint16_t unit, std::vector<std::string>& findings,
                      const std::string& label) {
  if (unit != RESUNIT_INCH) findings.push_back(label + "ResolutionUnit is " + std::to_string(unit) + ", not 2 (inch)");
  if (!near(page.x_resolution, 204) && !near(page.x_resolution, 200))
    findings.push_back(label + "XResolution is " + std::to_string(page.x_resolution) + " dpi, not 204");
  if (!near(page.y_resolution, 98) && !near(page.y_resolution, 100) && !near(page.y_resolution, 196) &&
      !near(page.y_resolution, 200))
    findings.push_back(label + "YResolution is " + std::to_string(page.y_resolution) + " dpi, not 98 or 196");
}

void check_coding(TIFF* tif, const FaxPage& page, std::vector<std::string>& findings, const std::string& label) {
  std::uint16_t bits = 1, samples = 1, photometric = 0xFFFF, fill_order = FILLORDER_MSB2LSB;
  std::uint32_t t4_options = 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &fill_order);
  if (page.width != 1728) findings.push_back(label + "ImageWidth is " + std::to_string(page.width) + ", not 1728");
  if (bits != 1 || samples != 1) findings.push_back(label + "not bilevel (BitsPerSample/SamplesPerPixel not 1)");
  if (page.compression != COMPRESSION_CCITTFAX3) {
    findings.push_back(label + "Compression is " + std::to_string(page.compression) + ", not 3 (T.4 MH)");
  } else if (TIFFGetField(tif, TIFFTAG_GROUP3OPTIONS, &t4_options) && (t4_options & (GROUP3OPT_2DENCODING | GROUP3OPT_UNCOMPRESSED))) {
    findings.push_back(label + "T4Options is " + std::to_string(t4_options) + " (2-D or uncompressed mode), not 0 or 4 (MH)");
  }
  if (photometric != PHOTOMETRIC_MINISWHITE)
    findings.push_back(label + "PhotometricInterpretation is " +
                       (photometric == 0xFFFF ? std::string("missing") : std::to_string(photometric)) + ", not 0");
  if (fill_order != FILLORDER_LSB2MSB)
    findings.push_back(label + "FillOrder is " + std::to_string(fill_order) + ", not 2 (LSB first)");
}

void check_paging(TIFF* tif, std::size_t index, std::vector<std::string>& findings, const std::string& label) {
  std::uint32_t subfile_type = 0;
  std::uint16_t page_number = 0, page_total = 0;
  if (!TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &subfile_type) || !(subfile_type & FILETYPE_PAGE))
    findings.push_back(label + "NewSubfileType lacks the page bit (2)");
  if (TIFFIsTiled(tif)) findings.push_back(label + "image is tiled, not one strip");
  else if (TIFFNumberOfStrips(tif) != 1)
    findings.push_back(label + std::to_string(TIFFNumberOfStrips(tif)) + " strips, not one strip per page");
  if (!TIFFGetField(tif, TIFFTAG_PAGENUMBER, &page_number, &page_total))
    findings.push_back(label + "PageNumber is missing");
  else if (page_number != index)
    findings.push_back(label + "PageNumber says " + std::to_string(page_number) + ", expected " + std::to_string(index));
}

void check_file_layout(std::span<const std::uint8_t> tiff, const std::vector<PageLayout>& layouts,
                       const std::vector<std::string>& warnings,
                       std::vector<std::string>& findings) {
  if (tiff[0] != 'I') findings.push_back("byte order is MM (big-endian), not II");
  else if (tiff[2] != 42) findings.push_back("BigTIFF, not classic TIFF");
  else if (!(tiff[4] == 8 && tiff[5] == 0 && tiff[6] == 0 && tiff[7] == 0))
    findings.push_back("first IFD is not at offset 8");
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    if (layouts[i].data_begin < layouts[i].ifd_offset)
      findings.push_back(page_label(i) + "image data precedes its IFD (RFC 3949 file layout)");
    if (i + 1 < layouts.size() && layouts[i].data_end > layouts[i + 1].ifd_offset)
      findings.push_back(page_label(i) + "image data does not precede the next page's IFD (RFC 3949 file layout)");
  }
  for (const std::string& warning : warnings)
    if (warning.find("ascending") != std::string::npos) findings.push_back("IFD tags are not sorted ascending");
}

}  // namespace

void check_fax_pixels(std::uint64_t pixels, std::size_t pages, const FaxLimits& limits, std::string_view name,
                      std::string_view format) {
  if (pixels <= limits.max_pixels) return;
  throw LimitExceeded(LimitExceeded::Limit::fax_pixels,
                      std::string(name) + ": " + std::string(format) + ": " + std::to_string(pages) +
                          (pages == 1 ? " page" : " pages") + " of " + std::to_string(pixels) +
                          " pixels exceed the limit of " + std::to_string(limits.max_pixels) + " pixels");
}

FaxDocument inspect_tiff(std::span<const std::uint8_t> tiff, std::string_view name, const FaxLimits& limits) {
  check_header(tiff, name, limits);
  detail::MemoryTiffReader reader(tiff, name);
  TIFF* tif = reader.get();
  FaxDocument document;
  std::vector<PageLayout> layouts;
  std::uint64_t pixels = 0;
  for (std::size_t index = 0;; ++index) {
    if (index >= limits.max_pages)
      throw LimitExceeded(LimitExceeded::Limit::fax_pages,
                          std::string(name) + ": TIFF: more than " + std::to_string(limits.max_pages) + " pages");
    const FaxPage page = read_page(tif, index, name, limits);
    pixels += std::uint64_t{page.width} * page.length;
    check_fax_pixels(pixels, index + 1, limits, name, "TIFF");
    layouts.push_back(read_layout(tif, index, name, tiff.size()));
    const std::string label = page_label(index);
    std::uint16_t unit = RESUNIT_INCH;
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    check_coding(tif, page, document.findings, label);
    check_resolution(page, unit, document.findings, label);
    check_paging(tif, index, document.findings, label);
    document.pages.push_back(page);
    if (!TIFFReadDirectory(tif)) break;
  }
  if (!reader.diagnostics().first_error.empty()) reader.fail("corrupt directory after page " + std::to_string(document.pages.size()));
  check_file_layout(tiff, layouts, reader.diagnostics().warnings, document.findings);
  document.profile_s = document.findings.empty();
  return document;
}

}  // namespace umstore::codecs
