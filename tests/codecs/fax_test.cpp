#include <tiffio.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <random>

#include "codecs/fax.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string error_message(std::span<const std::uint8_t> bytes, const FaxLimits& limits = {}) {
  try {
    inspect_tiff(bytes, "fax.tif", limits);
  } catch (const CodecError& error) {
    return error.what();
  }
  return "no error";
}

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};
using TiffFile = std::unique_ptr<TIFF, TiffCloser>;

// Black pixels per page, decoded by libtiff straight from the file.
std::vector<std::size_t> black_pixels_per_page(const std::filesystem::path& path) {
  TiffFile tif(TIFFOpen(path.c_str(), "r"));
  BOOST_TEST_REQUIRE(tif.get() != nullptr);
  std::vector<std::size_t> counts;
  do {
    std::uint32_t width = 0, length = 0;
    std::uint16_t photometric = 0;
    TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &length);
    TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &photometric);
    std::vector<std::uint8_t> line(static_cast<std::size_t>(TIFFScanlineSize(tif.get())));
    std::size_t black = 0;
    for (std::uint32_t row = 0; row < length; ++row) {
      BOOST_TEST_REQUIRE(TIFFReadScanline(tif.get(), line.data(), row, 0) == 1);
      for (std::uint32_t x = 0; x < width; ++x) {
        const bool bit = line[x / 8] & (0x80 >> (x % 8));
        black += bit == (photometric == PHOTOMETRIC_MINISWHITE);
      }
    }
    counts.push_back(black);
  } while (TIFFReadDirectory(tif.get()));
  return counts;
}

// A page that is not fax-shaped: `width` wide at `dpi`, with black bars and a frame.
void write_test_page(TIFF* tif, std::uint32_t width, std::uint32_t length, float x_dpi, float y_dpi,
                     std::uint16_t bits, std::uint16_t compression) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, length);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_XRESOLUTION, x_dpi);
  TIFFSetField(tif, TIFFTAG_YRESOLUTION, y_dpi);
  TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 64);
  std::vector<std::uint8_t> line(static_cast<std::size_t>(TIFFScanlineSize(tif)));
  for (std::uint32_t row = 0; row < length; ++row) {
    std::fill(line.begin(), line.end(), bits == 1 ? 0xFF : 0xFF);  // white
    const bool bar = (row / 40) % 4 == 0 || row < 20 || row >= length - 20;
    for (std::uint32_t x = 0; x < width; ++x) {
      const bool black = bar ? (x > width / 10 && x < width * 9 / 10) : (x < 20 || x >= width - 20);
      if (!black) continue;
      if (bits == 1) line[x / 8] &= static_cast<std::uint8_t>(~(0x80u >> (x % 8)));
      else line[x] = 0;
    }
    BOOST_TEST_REQUIRE(TIFFWriteScanline(tif, line.data(), row, 0) == 1);
  }
  BOOST_TEST_REQUIRE(TIFFWriteDirectory(tif) == 1);
}

void check_profile_s_with_tools(const std::filesystem::path& path, std::size_t pages, const std::string& y_dpi) {
  const std::string info = run("tiffinfo " + path.string());
  const std::string dump = run("tiffdump " + path.string());
  BOOST_TEST(contains(dump, "Magic: 0x4949 <little-endian>"));
  BOOST_TEST(contains(dump, "Directory 0: offset 8 "));
  for (std::size_t page = 0; page < pages; ++page)
    BOOST_TEST(contains(info, "Page Number: " + std::to_string(page) + "-" + std::to_string(pages)), "page " << page);
  BOOST_TEST(!contains(info, "TIFF directory " + std::to_string(pages)));
  BOOST_TEST(contains(info, "Image Width: 1728"));
  BOOST_TEST(contains(info, "Resolution: 204, " + y_dpi + " pixels/inch"));
  BOOST_TEST(contains(info, "Compression Scheme: CCITT Group 3"));
  BOOST_TEST(contains(info, "FillOrder: lsb-to-msb"));
  BOOST_TEST(contains(info, "Subfile Type: multi-page document (2 = 0x2)"));
  BOOST_TEST(contains(info, "Photometric Interpretation: min-is-white"));
  BOOST_TEST(contains(dump, "Group3Options (292) LONG (4) 1<4>"));
  BOOST_TEST(contains(dump, "ResolutionUnit (296) SHORT (3) 1<2>"));
  BOOST_TEST(!contains(dump, "StripOffsets (273) LONG (4) 2<"));  // one strip per page
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fax)

BOOST_AUTO_TEST_CASE(sample_fax_is_profile_s) {
  const auto bytes = read_file(sample("fax.tif"));
  const auto document = inspect_tiff(bytes, "fax.tif");
  BOOST_TEST(document.profile_s);
  BOOST_TEST(document.findings.empty());
  BOOST_TEST_REQUIRE(document.pages.size() == 2u);
  for (const FaxPage& page : document.pages) {
    BOOST_TEST(page.width == 1728u);
    BOOST_TEST(page.length == 2287u);
    BOOST_TEST(page.x_resolution == 204.0);
    BOOST_TEST(page.y_resolution == 196.0);
    BOOST_TEST(page.compression == 3);
  }
  BOOST_TEST(to_profile_s(bytes, "fax.tif") == bytes);  // already conforming: unchanged
}

BOOST_AUTO_TEST_CASE(g4_fill_order_1_is_normalised_pixel_exact) {
  ScratchDir dir;
  run("tiffcp -c g4 -f msb2lsb " + sample("fax.tif").string() + " " + (dir / "g4.tif").string());
  const auto g4 = read_file(dir / "g4.tif");
  const auto before = inspect_tiff(g4, "g4.tif");
  BOOST_TEST(!before.profile_s);
  BOOST_TEST(before.pages.size() == 2u);
  BOOST_TEST(before.pages[0].compression == 4);
  const auto joined = [&] {
    std::string all;
    for (const auto& finding : before.findings) all += finding + "\n";
    return all;
  }();
  BOOST_TEST(contains(joined, "page 1: Compression is 4, not 3"));
  BOOST_TEST(contains(joined, "page 2: FillOrder is 1, not 2"));
  BOOST_TEST(contains(joined, "image data precedes its IFD"));

  const auto normalised = to_profile_s(g4, "g4.tif");
  write_file(dir / "s.tif", normalised);
  check_profile_s_with_tools(dir / "s.tif", 2, "196");
  const auto after = inspect_tiff(normalised, "s.tif");
  BOOST_TEST(after.profile_s);
  BOOST_TEST(after.findings.empty());
  BOOST_TEST(black_pixels_per_page(dir / "s.tif") == black_pixels_per_page(sample("fax.tif")),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wide_big_endian_lzw_pages_are_scaled_and_padded) {
  ScratchDir dir;
  {
    TiffFile tif(TIFFOpen((dir / "wide.tif").c_str(), "wb"));  // MM byte order
    BOOST_TEST_REQUIRE(tif.get() != nullptr);
    for (int page = 0; page < 3; ++page) write_test_page(tif.get(), 2432, 3300, 300, 300, 1, COMPRESSION_LZW);
  }
  const auto wide = read_file(dir / "wide.tif");
  const auto before = inspect_tiff(wide, "wide.tif");
  BOOST_TEST(!before.profile_s);
  BOOST_TEST(before.findings.front() == "page 1: ImageWidth is 2432, not 1728");
  BOOST_TEST(std::count(before.findings.begin(), before.findings.end(), "byte order is MM (big-endian), not II") == 1);

  const auto normalised = to_profile_s(wide, "wide.tif");
  write_file(dir / "s.tif", normalised);
  check_profile_s_with_tools(dir / "s.tif", 3, "196");
  const auto after = inspect_tiff(normalised, "s.tif");
  BOOST_TEST(after.profile_s);
  BOOST_TEST_REQUIRE(after.pages.size() == 3u);
  BOOST_TEST(after.pages[0].length == 2156u);  // 3300 lines at 300 dpi -> 196 dpi
  // Scaling keeps the ink: black area (in square inches) agrees within 3 %.
  const double inch_in = static_cast<double>(black_pixels_per_page(dir / "wide.tif")[0]) / (300.0 * 300.0);
  const double inch_out = static_cast<double>(black_pixels_per_page(dir / "s.tif")[0]) / (204.0 * 196.0);
  BOOST_TEST(std::abs(inch_out - inch_in) / inch_in < 0.03, inch_in << " vs " << inch_out << " square inches");
}

BOOST_AUTO_TEST_CASE(greyscale_standard_resolution_page_becomes_98_dpi) {
  ScratchDir dir;
  {
    TiffFile tif(TIFFOpen((dir / "grey.tif").c_str(), "w"));
    BOOST_TEST_REQUIRE(tif.get() != nullptr);
    write_test_page(tif.get(), 1600, 1100, 200, 100, 8, COMPRESSION_PACKBITS);
  }
  const auto normalised = to_profile_s(read_file(dir / "grey.tif"), "grey.tif");
  write_file(dir / "s.tif", normalised);
  check_profile_s_with_tools(dir / "s.tif", 1, "98");
  const auto after = inspect_tiff(normalised, "s.tif");
  BOOST_TEST(after.profile_s);
  BOOST_TEST(after.pages.at(0).length == 1078u);  // 1100 lines at 100 dpi -> 98 dpi
}

BOOST_AUTO_TEST_CASE(malformed_tiffs_give_codec_errors) {
  const auto fax = read_file(sample("fax.tif"));
  BOOST_TEST(error_message({}) == "fax.tif: TIFF: empty input");

  std::mt19937 random(7);
  std::vector<std::uint8_t> noise(4096);
  for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
  BOOST_TEST(contains(error_message(noise), "fax.tif: not a TIFF file"));
  BOOST_TEST(contains(error_message(read_file(sample("voicemail.wav"))), "not a TIFF file"));

  const std::vector<std::uint8_t> truncated(fax.begin(), fax.begin() + 10000);
  BOOST_TEST(contains(error_message(truncated), "page 1: truncated"));

  const std::vector<std::uint8_t> dangling = {'I', 'I', 42, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  BOOST_TEST(contains(error_message(dangling), "fax.tif: TIFF: cannot read the header or first directory"));

  // Random corruption of a real file: a CodecError or a result, never a crash.
  for (int round = 0; round < 40; ++round) {
    auto corrupt = fax;
    for (int flips = 0; flips < 8; ++flips) corrupt[random() % 400] = static_cast<std::uint8_t>(random());
    try {
      to_profile_s(corrupt, "corrupt.tif");
    } catch (const CodecError&) {
    }
  }
}

BOOST_AUTO_TEST_CASE(limits_are_enforced) {
  const auto fax = read_file(sample("fax.tif"));
  BOOST_TEST(contains(error_message(fax, {.max_pages = 1}), "more than 1 pages"));
  BOOST_TEST(contains(error_message(fax, {.max_width = 1000}), "width 1728 exceeds the limit 1000"));
  BOOST_TEST(contains(error_message(fax, {.max_length = 2000}), "length 2287 lines exceeds the limit 2000"));
  BOOST_TEST(contains(error_message(fax, {.max_input_bytes = 100}), "limit 100"));
}

BOOST_AUTO_TEST_SUITE_END()
