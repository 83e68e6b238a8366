// to_profile_s: decode every page, fit it to 1728 pixels at 204 dpi, re-encode
// as MH and lay the file out exactly as RFC 3949 §3.5 requires (libtiff itself
// writes each IFD after its image data, which profile S forbids).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "codecs/fax.hpp"
#include "tiff_memory.hpp"

namespace umstore::codecs {
namespace {

constexpr std::uint32_t profile_s_width = 1728;
constexpr double profile_s_x_dpi = 204;
constexpr double letter_width_inches = profile_s_width / profile_s_x_dpi;
constexpr int rgba_rows_per_read = 64;

// A page as 8-bit luminance, row-major, 0 = black.
struct GreyPage {
  std::uint32_t width = 0;
  std::uint32_t length = 0;
  std::vector<std::uint8_t> luminance;
};

// A page ready for MH coding: one bool per pixel, true = black.
struct BilevelPage {
  std::uint32_t length = 0;
  double y_dpi = 196;
  std::vector<std::uint8_t> black;  // profile_s_width * length
};

class RgbaImage {
 public:
  RgbaImage(TIFF* tif, const detail::MemoryTiffReader& reader) {
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

// Any photometric, depth, compression or tiling libtiff understands.
GreyPage decode_page(TIFF* tif, const detail::MemoryTiffReader& reader, const FaxPage& geometry) {
  RgbaImage rgba(tif, reader);
  GreyPage page{geometry.width, geometry.length, {}};
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

// Source rows/columns [first, last) that output cell `index` covers at `scale`.
std::pair<std::uint32_t, std::uint32_t> source_span(std::uint32_t index, double scale, std::uint32_t limit) {
  auto first = static_cast<std::uint32_t>(std::floor(index / scale));
  auto last = static_cast<std::uint32_t>(std::floor((index + 1) / scale));
  first = std::min(first, limit - 1);
  last = std::clamp(last, first + 1, limit);
  return {first, last};
}

// Area-averaging scale (box filter) then a mid-grey threshold; pads the sides white.
BilevelPage fit_to_profile_s(const GreyPage& grey, const FaxPage& geometry, const FaxLimits& limits,
                             std::string_view name) {
  double x_dpi = geometry.x_resolution > 0 ? geometry.x_resolution : grey.width / letter_width_inches;
  double y_dpi = geometry.y_resolution > 0 ? geometry.y_resolution : x_dpi;
  BilevelPage out;
  out.y_dpi = y_dpi < 150 ? 98 : 196;
  double x_scale = profile_s_x_dpi / x_dpi;
  double y_scale = out.y_dpi / y_dpi;
  const double natural_width = grey.width * x_scale;
  if (natural_width > profile_s_width) {  // too wide for the paper: shrink, keeping the aspect ratio
    x_scale *= profile_s_width / natural_width;
    y_scale *= profile_s_width / natural_width;
  }
  const auto content_width = std::clamp<std::uint32_t>(static_cast<std::uint32_t>(std::lround(grey.width * x_scale)), 1, profile_s_width);
  out.length = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(grey.length * y_scale)));
  if (out.length > limits.max_length)
    throw CodecError(std::string(name) + ": TIFF: page would be " + std::to_string(out.length) +
                     " lines at fax resolution, limit " + std::to_string(limits.max_length));
  const std::uint32_t left = (profile_s_width - content_width) / 2;
  x_scale = static_cast<double>(content_width) / grey.width;
  out.black.assign(static_cast<std::size_t>(profile_s_width) * out.length, 0);
  for (std::uint32_t y = 0; y < out.length; ++y) {
    const auto [row_first, row_last] = source_span(y, y_scale, grey.length);
    for (std::uint32_t x = 0; x < content_width; ++x) {
      const auto [col_first, col_last] = source_span(x, x_scale, grey.width);
      unsigned long sum = 0;
      for (std::uint32_t r = row_first; r < row_last; ++r)
        for (std::uint32_t c = col_first; c < col_last; ++c) sum += grey.luminance[static_cast<std::size_t>(r) * grey.width + c];
      const unsigned long cells = static_cast<unsigned long>(row_last - row_first) * (col_last - col_first);
      out.black[static_cast<std::size_t>(y) * profile_s_width + left + x] = sum < cells * 128 ? 1 : 0;
    }
  }
  return out;
}

// MH-coded strip bytes (FillOrder 2, byte-aligned EOLs), produced by libtiff's fax coder.
std::vector<std::uint8_t> encode_mh_strip(const BilevelPage& page, std::string_view name) {
  detail::MemoryTiffWriter writer(name);
  TIFF* tif = writer.get();
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, profile_s_width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, page.length);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
  TIFFSetField(tif, TIFFTAG_GROUP3OPTIONS, GROUP3OPT_FILLBITS);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(tif, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, page.length);
  std::vector<std::uint8_t> line(profile_s_width / 8);
  for (std::uint32_t y = 0; y < page.length; ++y) {
    std::fill(line.begin(), line.end(), 0);
    const std::uint8_t* pixels = page.black.data() + static_cast<std::size_t>(y) * profile_s_width;
    for (std::uint32_t x = 0; x < profile_s_width; ++x)
      if (pixels[x]) line[x / 8] |= static_cast<std::uint8_t>(0x80u >> (x % 8));
    if (TIFFWriteScanline(tif, line.data(), y, 0) < 0) writer.fail("MH encoding failed");
  }
  if (!TIFFWriteDirectory(tif)) writer.fail("MH encoding failed");
  const std::vector<std::uint8_t> file = writer.finish();
  detail::MemoryTiffReader reader(file, name);
  const std::uint64_t* offsets = nullptr;
  const std::uint64_t* counts = nullptr;
  if (!TIFFGetField(reader.get(), TIFFTAG_STRIPOFFSETS, &offsets) ||
      !TIFFGetField(reader.get(), TIFFTAG_STRIPBYTECOUNTS, &counts) || offsets[0] + counts[0] > file.size())
    reader.fail("re-encoded page has no strip");
  const auto begin = file.begin() + static_cast<std::ptrdiff_t>(offsets[0]);
  return {begin, begin + static_cast<std::ptrdiff_t>(counts[0])};
}

// Little-endian TIFF writer for the profile S layout of RFC 3949 §3.5.
class ProfileSFile {
 public:
  ProfileSFile() { bytes_ = {'I', 'I', 42, 0, 8, 0, 0, 0}; }

  void add_page(const BilevelPage& page, const std::vector<std::uint8_t>& strip, std::uint16_t index,
                std::uint16_t total, bool last) {
    constexpr std::uint16_t entries = 16;
    const std::uint64_t ifd = bytes_.size();
    const std::uint64_t rationals = ifd + 2 + entries * 12 + 4;
    const std::uint64_t data = rationals + 16;
    const std::uint64_t next = last ? 0 : (data + strip.size() + 1) / 2 * 2;
    if (next > 0xFFFFFFFFull || data + strip.size() > 0xFFFFFFFFull) throw CodecError("TIFF: output exceeds 4 GiB");
    put16(entries);
    entry(254, 4, 1, 2);                               // NewSubfileType: page
    entry(256, 3, 1, profile_s_width);                 // ImageWidth
    entry(257, 4, 1, page.length);                     // ImageLength
    entry(258, 3, 1, 1);                               // BitsPerSample
    entry(259, 3, 1, 3);                               // Compression: T.4
    entry(262, 3, 1, 0);                               // Photometric: min-is-white
    entry(266, 3, 1, 2);                               // FillOrder: LSB first
    entry(273, 4, 1, static_cast<std::uint32_t>(data));  // StripOffsets
    entry(277, 3, 1, 1);                               // SamplesPerPixel
    entry(278, 4, 1, page.length);                     // RowsPerStrip
    entry(279, 4, 1, static_cast<std::uint32_t>(strip.size()));  // StripByteCounts
    entry(282, 5, 1, static_cast<std::uint32_t>(rationals));     // XResolution
    entry(283, 5, 1, static_cast<std::uint32_t>(rationals + 8)); // YResolution
    entry(292, 4, 1, 4);                               // T4Options: MH, byte-aligned EOLs
    entry(296, 3, 1, 2);                               // ResolutionUnit: inch
    entry(297, 3, 2, static_cast<std::uint32_t>(index) | (static_cast<std::uint32_t>(total) << 16));  // PageNumber
    put32(static_cast<std::uint32_t>(next));
    put32(static_cast<std::uint32_t>(profile_s_x_dpi));
    put32(1);
    put32(static_cast<std::uint32_t>(page.y_dpi));
    put32(1);
    bytes_.insert(bytes_.end(), strip.begin(), strip.end());
    if (!last && bytes_.size() % 2) bytes_.push_back(0);
  }

  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  void put16(std::uint16_t value) {
    bytes_.push_back(static_cast<std::uint8_t>(value & 0xFF));
    bytes_.push_back(static_cast<std::uint8_t>(value >> 8));
  }
  void put32(std::uint32_t value) {
    put16(static_cast<std::uint16_t>(value & 0xFFFF));
    put16(static_cast<std::uint16_t>(value >> 16));
  }
  // SHORT values sit left-justified in the 4-byte field; two SHORTs fill it.
  void entry(std::uint16_t tag, std::uint16_t type, std::uint32_t count, std::uint32_t value) {
    put16(tag);
    put16(type);
    put32(count);
    put32(value);
  }

  std::vector<std::uint8_t> bytes_;
};

}  // namespace

std::vector<std::uint8_t> to_profile_s(std::span<const std::uint8_t> tiff, std::string_view name,
                                       const FaxLimits& limits) {
  const FaxDocument document = inspect_tiff(tiff, name, limits);
  if (document.profile_s) return {tiff.begin(), tiff.end()};
  detail::MemoryTiffReader reader(tiff, name);
  ProfileSFile out;
  const auto total = static_cast<std::uint16_t>(document.pages.size());
  for (std::uint16_t index = 0; index < total; ++index) {
    if (!TIFFSetDirectory(reader.get(), index)) reader.fail("cannot read page " + std::to_string(index + 1));
    const FaxPage& geometry = document.pages[index];
    const BilevelPage page = fit_to_profile_s(decode_page(reader.get(), reader, geometry), geometry, limits, name);
    out.add_page(page, encode_mh_strip(page, name), index, total, index + 1 == total);
  }
  return out.take();
}

}  // namespace umstore::codecs
