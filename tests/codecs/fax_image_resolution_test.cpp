// PNG and JPEG fax inputs are scaled by the resolution they carry (PNG pHYs,
// JPEG JFIF density); without one the page is assumed to fill the paper's width.
#include <cstdio>  // jpeglib.h needs size_t and FILE declared first
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include <boost/test/unit_test.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "codecs/fax.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;

namespace {

// 408 x 204 pixels, all black: 4 x 2 inches at 102 dpi.
constexpr std::uint32_t image_width = 408, image_length = 204;
constexpr std::uint32_t pixels_per_metre = 4016;  // 102.0 dpi

std::vector<std::uint8_t> black_pixels() { return std::vector<std::uint8_t>(image_width * image_length, 0); }

std::uint32_t crc32(std::span<const std::uint8_t> bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// A grey PNG from libpng; with `unit` >= 0 a pHYs chunk (pixels per metre,
// unit 1 = metre, 0 = aspect ratio only) is inserted after IHDR.
std::vector<std::uint8_t> png_file(int unit) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = image_width;
  image.height = image_length;
  image.format = PNG_FORMAT_GRAY;
  const auto pixels = black_pixels();
  png_alloc_size_t size = 0;
  BOOST_TEST_REQUIRE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr));
  std::vector<std::uint8_t> png(size);
  BOOST_TEST_REQUIRE(png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr));
  png.resize(size);
  if (unit < 0) return png;
  std::vector<std::uint8_t> chunk;
  put_be32(chunk, 9);
  for (const char c : std::string_view("pHYs")) chunk.push_back(static_cast<std::uint8_t>(c));
  put_be32(chunk, pixels_per_metre);
  put_be32(chunk, pixels_per_metre);
  chunk.push_back(static_cast<std::uint8_t>(unit));
  put_be32(chunk, crc32(std::span(chunk).subspan(4)));
  constexpr std::size_t after_ihdr = 8 + 12 + 13;  // signature, IHDR chunk
  png.insert(png.begin() + after_ihdr, chunk.begin(), chunk.end());
  return png;
}

// A grey JPEG whose JFIF header carries `density_unit` (0 aspect ratio, 1 dpi, 2 dots per cm) and `density`.
std::vector<std::uint8_t> jpeg_file(std::uint8_t density_unit, std::uint16_t density) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = image_width;
  info.image_height = image_length;
  info.input_components = 1;
  info.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&info);
  info.density_unit = density_unit;
  info.X_density = density;
  info.Y_density = density;
  jpeg_start_compress(&info, TRUE);
  auto pixels = black_pixels();
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = pixels.data() + static_cast<std::size_t>(info.next_scanline) * image_width;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  std::vector<std::uint8_t> jpeg(buffer, buffer + size);
  jpeg_destroy_compress(&info);
  std::free(buffer);
  return jpeg;
}

struct Geometry {
  std::uint32_t length = 0;
  double y_dpi = 0;
  std::uint32_t ink_columns = 0;  // black pixels in the first row
};

Geometry fax_geometry(std::span<const std::uint8_t> input, const char* name) {
  const FaxConversion result = convert_fax(input, name, {.profile = TiffFProfile::f});
  BOOST_TEST_REQUIRE(result.pages.size() == 1u);
  Geometry geometry{result.pages[0].length, result.pages[0].y_resolution, 0};
  codecs_test::ScratchDir dir;
  codecs_test::write_file(dir / "out.tif", result.tiff);
  TIFF* tif = TIFFOpen((dir / "out.tif").c_str(), "r");
  BOOST_TEST_REQUIRE(tif != nullptr);
  std::vector<std::uint8_t> row(static_cast<std::size_t>(TIFFScanlineSize(tif)));
  BOOST_TEST_REQUIRE(TIFFReadScanline(tif, row.data(), 0) == 1);
  for (const std::uint8_t byte : row) geometry.ink_columns += static_cast<std::uint32_t>(std::popcount(byte));
  TIFFClose(tif);
  return geometry;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fax_image_resolution)

BOOST_AUTO_TEST_CASE(png_phys_sets_the_page_size) {
  // 4 x 2 inches: 816 of the 1728 columns at 204 dpi, 196 lines at 98 lpi (below 150 dpi: normal resolution).
  const Geometry with = fax_geometry(png_file(1), "102dpi.png");
  BOOST_TEST(with.length == 196u);
  BOOST_TEST(with.y_dpi == 98.0);
  BOOST_TEST(with.ink_columns == 816u);
}

BOOST_AUTO_TEST_CASE(png_without_resolution_fills_the_paper_width) {
  // No pHYs, or one with only an aspect ratio: the 408 pixels span the 1728
  // columns (48.2 dpi), the length scales alike: 204 px * 98 / 48.2 = 415 lines.
  for (const int unit : {-1, 0}) {
    const Geometry without = fax_geometry(png_file(unit), "plain.png");
    BOOST_TEST(without.ink_columns == 1728u, "unit " << unit);
    BOOST_TEST(without.length == 415u, "unit " << unit);
  }
}

BOOST_AUTO_TEST_CASE(jpeg_jfif_density_sets_the_page_size) {
  const Geometry dpi = fax_geometry(jpeg_file(1, 102), "102dpi.jpg");
  BOOST_TEST(dpi.length == 196u);
  BOOST_TEST(dpi.ink_columns == 816u);
  // 40 dots per cm is 101.6 dpi: the same page within a column or two.
  const Geometry per_cm = fax_geometry(jpeg_file(2, 40), "40dpcm.jpg");
  BOOST_TEST(per_cm.length == 197u);
  BOOST_TEST(per_cm.ink_columns == 819u);
  const Geometry aspect_only = fax_geometry(jpeg_file(0, 1), "aspect.jpg");
  BOOST_TEST(aspect_only.ink_columns == 1728u);
}

BOOST_AUTO_TEST_SUITE_END()
