// PDF and profile F output, the fax input matrix (codings, fill orders,
// widths, resolutions, PNG/JPEG/PDF) checked with libtiff, poppler-utils and
// pixel comparisons.
#include <tiffio.h>

#include <boost/test/unit_test.hpp>
#include <regex>
#include <sstream>

#include "codecs/fax.hpp"
#include "codecs_test_support.hpp"
#include "tiff_bitmap.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }



// pdftoppm -mono writes PBM (P4): 1 = black, rows padded to bytes.
Bitmap read_pbm(const std::filesystem::path& path) {
  const auto bytes = read_file(path);
  std::string header(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(bytes.size(), 64)));
  std::istringstream in(header);
  std::string magic;
  Bitmap page;
  in >> magic >> page.width >> page.length;
  BOOST_TEST_REQUIRE(magic == "P4");
  const auto data = static_cast<std::size_t>(in.tellg()) + 1;
  const std::size_t stride = (page.width + 7) / 8;
  BOOST_TEST_REQUIRE(bytes.size() >= data + stride * page.length);
  for (std::uint32_t row = 0; row < page.length; ++row)
    for (std::uint32_t x = 0; x < page.width; ++x)
      page.black.push_back((bytes[data + row * stride + x / 8] & (0x80 >> (x % 8))) != 0);
  return page;
}

std::size_t differing_pixels(const Bitmap& a, const Bitmap& b) {
  BOOST_TEST_REQUIRE(a.width == b.width);
  BOOST_TEST_REQUIRE(a.length == b.length);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.black.size(); ++i) differ += a.black[i] != b.black[i];
  return differ;
}

// The page width and height pdfinfo reports for `page` (1-based), in points.
std::pair<double, double> pdf_page_size(const std::filesystem::path& pdf, int page) {
  const std::string info = run("pdfinfo -f " + std::to_string(page) + " -l " + std::to_string(page) + " " + pdf.string());
  std::smatch match;
  const std::regex size("Page +" + std::to_string(page) + " size: +([0-9.]+) x ([0-9.]+) pts");
  BOOST_TEST_REQUIRE(std::regex_search(info, match, size), info);
  return {std::stod(match[1]), std::stod(match[2])};
}

void write_bars_page(TIFF* tif, std::uint32_t width, std::uint32_t length, float x_dpi, float y_dpi) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, length);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(tif, TIFFTAG_XRESOLUTION, x_dpi);
  TIFFSetField(tif, TIFFTAG_YRESOLUTION, y_dpi);
  TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, length);
  std::vector<std::uint8_t> line(static_cast<std::size_t>(TIFFScanlineSize(tif)));
  for (std::uint32_t row = 0; row < length; ++row) {
    std::fill(line.begin(), line.end(), 0);
    const bool bar = (row / 40) % 4 == 0;
    for (std::uint32_t x = width / 10; bar && x < width * 9 / 10; ++x) line[x / 8] |= static_cast<std::uint8_t>(0x80u >> (x % 8));
    BOOST_TEST_REQUIRE(TIFFWriteScanline(tif, line.data(), row, 0) == 1);
  }
  BOOST_TEST_REQUIRE(TIFFWriteDirectory(tif) == 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fax_output)

BOOST_AUTO_TEST_CASE(pdf_embeds_g4_and_renders_pixel_exact) {
  ScratchDir dir;
  const auto source = read_file(sample("fax.tif"));
  const FaxConversion result = convert_fax(source, "fax.tif", {.want_tiff = false, .want_pdf = true});
  BOOST_TEST(result.tiff.empty());
  BOOST_TEST_REQUIRE(result.pages.size() == 2u);
  BOOST_TEST(result.pages[0].length == 2287u);
  BOOST_TEST(result.pages[0].y_resolution == 196.0);
  write_file(dir / "fax.pdf", result.pdf);
  const std::string pdf_text(result.pdf.begin(), result.pdf.end());
  BOOST_TEST(contains(pdf_text, "/Filter /CCITTFaxDecode /DecodeParms <</K -1 /Columns 1728 /Rows 2287 /BlackIs1 false>>"));

  const std::string info = run("pdfinfo " + (dir / "fax.pdf").string());
  BOOST_TEST(std::regex_search(info, std::regex("Pages: +2\n")), info);
  const auto [width, height] = pdf_page_size(dir / "fax.pdf", 2);
  BOOST_TEST(std::abs(width - 1728 * 72.0 / 204) < 0.01);  // 8.47 in: A4/letter fax width
  BOOST_TEST(std::abs(height - 2287 * 72.0 / 196) < 0.01);

  // Rendered at the fax resolution, every pixel matches the source page.
  run("pdftoppm -mono -rx 204 -ry 196 -aa no -aaVector no " + (dir / "fax.pdf").string() + " " + (dir / "page").string());
  const auto expected = tiff_pages(sample("fax.tif"));
  for (int page = 0; page < 2; ++page) {
    const Bitmap rendered = read_pbm(dir / ("page-" + std::to_string(page + 1) + ".pbm"));
    BOOST_TEST(expected[page].ink() > 10000u);
    BOOST_TEST(differing_pixels(rendered, expected[page]) == 0u, "page " << page + 1);
  }
}

BOOST_AUTO_TEST_CASE(profile_f_is_mmr_and_lossless) {
  ScratchDir dir;
  const auto source = read_file(sample("fax.tif"));
  const auto profile_f = to_profile_f(source, "fax.tif");
  write_file(dir / "f.tif", profile_f);
  const std::string info = run("tiffinfo " + (dir / "f.tif").string());
  BOOST_TEST(contains(info, "Compression Scheme: CCITT Group 4"));
  BOOST_TEST(contains(info, "Page Number: 1-2"));
  BOOST_TEST(contains(run("tiffdump " + (dir / "f.tif").string()), "Group4Options (293) LONG (4) 1<0>"));
  BOOST_TEST(profile_f.size() < source.size());
  const auto expected = tiff_pages(sample("fax.tif"));
  const auto actual = tiff_pages(dir / "f.tif");
  BOOST_TEST_REQUIRE(actual.size() == 2u);
  for (std::size_t page = 0; page < 2; ++page) BOOST_TEST(differing_pixels(actual[page], expected[page]) == 0u);
  const auto document = inspect_tiff(profile_f, "f.tif");
  BOOST_TEST(!document.profile_s);  // MMR is profile F only
  BOOST_TEST(document.pages.at(1).compression == 4);
}

BOOST_AUTO_TEST_CASE(every_fax_server_coding_and_fill_order_is_read_pixel_exact) {
  ScratchDir dir;
  const auto expected = tiff_pages(sample("fax.tif"));
  for (const std::string coding : {"g3:1d", "g3:2d", "g4", "none", "packbits", "lzw"}) {
    for (const std::string fill : {"lsb2msb", "msb2lsb"}) {
      const auto input = dir / ("in-" + std::to_string(std::hash<std::string>{}(coding + fill)) + ".tif");
      run("tiffcp -c " + coding + " -f " + fill + " " + sample("fax.tif").string() + " " + input.string());
      const FaxConversion result = convert_fax(read_file(input), input.string(), {.want_pdf = true});
      write_file(dir / "s.tif", result.tiff);
      BOOST_TEST(inspect_tiff(result.tiff, "s.tif").profile_s, coding << " " << fill);
      const auto actual = tiff_pages(dir / "s.tif");
      BOOST_TEST_REQUIRE(actual.size() == 2u);
      for (std::size_t page = 0; page < 2; ++page)
        BOOST_TEST(differing_pixels(actual[page], expected[page]) == 0u, coding << " " << fill << " page " << page + 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(wide_and_superfine_pages_fit_the_fax_width) {
  ScratchDir dir;
  {
    TiffFile tif(TIFFOpen((dir / "mixed.tif").c_str(), "w"));
    BOOST_TEST_REQUIRE(tif.get() != nullptr);
    write_bars_page(tif.get(), 2048, 2000, 204, 196);  // B4 width
    write_bars_page(tif.get(), 2432, 2000, 204, 98);   // A3 width
    write_bars_page(tif.get(), 1728, 4400, 204, 391);  // superfine
  }
  const FaxConversion result = convert_fax(read_file(dir / "mixed.tif"), "mixed.tif", {.want_pdf = true});
  BOOST_TEST_REQUIRE(result.pages.size() == 3u);
  BOOST_TEST(result.pages[0].length == 1688u);  // 2000 * 1728 / 2048
  BOOST_TEST(result.pages[0].y_resolution == 196.0);
  BOOST_TEST(result.pages[1].length == 1421u);  // 2000 * 1728 / 2432
  BOOST_TEST(result.pages[1].y_resolution == 98.0);
  BOOST_TEST(result.pages[2].length == 2206u);  // 4400 lines at 391 lpi -> 196 lpi
  for (const auto& page : result.pages) BOOST_TEST(page.width == 1728u);
  write_file(dir / "s.tif", result.tiff);
  BOOST_TEST(inspect_tiff(result.tiff, "s.tif").profile_s);
  write_file(dir / "out.pdf", result.pdf);
  BOOST_TEST(std::regex_search(run("pdfinfo " + (dir / "out.pdf").string()), std::regex("Pages: +3\n")));
  // The superfine page's bars survive halving: 1 bar row in 4 bands of 40 lines.
  const auto pages = tiff_pages(dir / "s.tif");
  const double ink_fraction = static_cast<double>(pages[2].ink()) / static_cast<double>(pages[2].black.size());
  BOOST_TEST(std::abs(ink_fraction - 0.8 * 0.25) < 0.01, ink_fraction);
}

BOOST_AUTO_TEST_CASE(pdf_png_and_jpeg_inputs_become_fax_pages) {
  ScratchDir dir;
  const auto source = read_file(sample("fax.tif"));
  const auto expected = tiff_pages(sample("fax.tif"));
  write_file(dir / "fax.pdf", to_fax_pdf(source, "fax.tif"));

  // PDF in: poppler renders at fax resolution; the round trip keeps nearly every pixel.
  const auto pdf = read_file(dir / "fax.pdf");
  BOOST_TEST((detect_fax_input(pdf, "fax.pdf") == FaxInputFormat::pdf));
  write_file(dir / "from-pdf.tif", to_profile_s(pdf, "fax.pdf"));
  const auto from_pdf = tiff_pages(dir / "from-pdf.tif");
  BOOST_TEST_REQUIRE(from_pdf.size() == 2u);
  for (std::size_t page = 0; page < 2; ++page)
    BOOST_TEST(differing_pixels(from_pdf[page], expected[page]) < expected[page].black.size() / 1000);

  // PNG and JPEG (greyscale, rendered by pdftoppm at 204 dpi both ways): one page, ink kept.
  run("pdftoppm -gray -png -r 204 -f 1 -l 1 " + (dir / "fax.pdf").string() + " " + (dir / "p").string());
  run("pdftoppm -gray -jpeg -r 204 -f 1 -l 1 " + (dir / "fax.pdf").string() + " " + (dir / "j").string());
  for (const std::string file : {"p-1.png", "j-1.jpg"}) {
    const auto image = read_file(dir / file);
    const FaxConversion result = convert_fax(image, file);
    BOOST_TEST_REQUIRE(result.pages.size() == 1u);
    BOOST_TEST(result.pages[0].width == 1728u);
    write_file(dir / "out.tif", result.tiff);
    BOOST_TEST(inspect_tiff(result.tiff, "out.tif").profile_s);
    const double ink_in = static_cast<double>(expected[0].ink()) / (204.0 * 196.0);
    const double ink_out = static_cast<double>(tiff_pages(dir / "out.tif")[0].ink()) / (204.0 * result.pages[0].y_resolution);
    BOOST_TEST(std::abs(ink_out - ink_in) / ink_in < 0.05, file << ": " << ink_in << " vs " << ink_out);
  }
}

BOOST_AUTO_TEST_SUITE_END()
