// Fax pages from email: text and cover pages rendered by Pango, documents
// joined into one fax; pages read back with libtiff, text with tesseract.
#include <tiffio.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <memory>

#include "codecs/fax_pages.hpp"
#include "codecs_test_support.hpp"
#include "tiff_bitmap.hpp"
#include "recognition/fax_text_reader.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

constexpr std::uint32_t a4_lines = 2292;      // 297 mm at 196 dpi
constexpr std::uint32_t letter_lines = 2156;  // 11 in at 196 dpi
constexpr std::uint32_t margin_columns = 110;  // a little under 15 mm at 204 dpi
constexpr std::uint32_t margin_rows = 105;     // a little under 15 mm at 196 dpi

std::vector<Bitmap> tiff_pages(std::span<const std::uint8_t> tiff) {
  ScratchDir dir;
  write_file(dir / "pages.tif", tiff);
  return codecs_test::tiff_pages(dir / "pages.tif");
}

std::string numbered_lines(int count) {
  std::string text;
  for (int line = 1; line <= count; ++line) text += "Line " + std::to_string(line) + " of the message\n";
  return text;
}

void check_profile_s_pages(std::span<const std::uint8_t> tiff, std::size_t pages, std::uint32_t lines) {
  const FaxDocument document = inspect_tiff(tiff, "pages.tif");
  BOOST_TEST(document.profile_s);
  for (const auto& finding : document.findings) BOOST_TEST_MESSAGE(finding);
  BOOST_TEST_REQUIRE(document.pages.size() == pages);
  for (const FaxPage& page : document.pages) {
    BOOST_TEST(page.width == 1728u);
    BOOST_TEST(page.length == lines);
    BOOST_TEST(page.x_resolution == 204);
    BOOST_TEST(page.y_resolution == 196);
    BOOST_TEST(page.compression == 3);
  }
}

bool white_margins(const Bitmap& page) {
  return page.ink_in(0, 0, margin_columns, page.length) == 0 &&
         page.ink_in(page.width - margin_columns, 0, page.width, page.length) == 0 &&
         page.ink_in(0, 0, page.width, margin_rows) == 0 &&
         page.ink_in(0, page.length - margin_rows, page.width, page.length) == 0;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fax_pages)

BOOST_AUTO_TEST_CASE(short_text_is_one_profile_s_page_with_white_margins) {
  const auto tiff = render_text_pages("Dear Sir,\n\nplease find the signed contract attached.\n\nRegards");
  check_profile_s_pages(tiff, 1, a4_lines);
  const Bitmap page = tiff_pages(tiff).at(0);
  BOOST_TEST(page.ink() > 2000u);
  BOOST_TEST(white_margins(page));
  BOOST_TEST(page.text_lines() == 3u);  // the blank lines stay blank
  // The text starts at the top left margin.
  BOOST_TEST(page.ink_in(margin_columns, margin_rows, 300, 250) > 0u);
}

BOOST_AUTO_TEST_CASE(letter_paper_is_eleven_inches) {
  const auto tiff = render_text_pages("Hello", {.paper = TextPageOptions::Paper::letter});
  check_profile_s_pages(tiff, 1, letter_lines);
}

BOOST_AUTO_TEST_CASE(long_lines_wrap_inside_the_margins) {
  std::string paragraph;
  for (int word = 0; word < 200; ++word) paragraph += "wrapping ";
  paragraph += std::string(300, 'x');  // a word longer than a line is broken too
  const auto tiff = render_text_pages(paragraph);
  const Bitmap page = tiff_pages(tiff).at(0);
  BOOST_TEST(white_margins(page));
  BOOST_TEST(page.text_lines() > 10u);
}

BOOST_AUTO_TEST_CASE(long_text_is_paginated_in_order) {
  const auto tiff = render_text_pages(numbered_lines(400));
  const std::vector<Bitmap> pages = tiff_pages(tiff);
  BOOST_TEST_REQUIRE(pages.size() > 3u);
  check_profile_s_pages(tiff, pages.size(), a4_lines);
  // Every line is on some page, once; all pages but the last are full alike.
  std::size_t lines = 0;
  for (const Bitmap& page : pages) {
    BOOST_TEST(white_margins(page));
    lines += page.text_lines();
  }
  BOOST_TEST(lines == 400u);
  const std::size_t per_page = pages.front().text_lines();
  for (std::size_t index = 0; index + 1 < pages.size(); ++index) BOOST_TEST(pages[index].text_lines() == per_page);
  BOOST_TEST(pages.size() == (400 + per_page - 1) / per_page);
  BOOST_TEST(pages.back().text_lines() == 400 - per_page * (pages.size() - 1));
  BOOST_TEST((pages.front().black != pages.back().black));
}

BOOST_AUTO_TEST_CASE(blank_text_makes_no_pages) {
  BOOST_TEST(render_text_pages("").empty());
  BOOST_TEST(render_text_pages(" \t\r\n\n  \n").empty());
  BOOST_TEST(render_text_pages("\x01\x02\x1b\x7f\n").empty());  // control characters are dropped
  BOOST_TEST(render_text_pages("\xc2\xa0\xe3\x80\x80").empty());  // no-break and ideographic spaces
}

BOOST_AUTO_TEST_CASE(trailing_blank_lines_make_no_blank_pages) {
  BOOST_TEST(inspect_tiff(render_text_pages("Hello" + std::string(500, '\n')), "t.tif").pages.size() == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_and_control_characters_still_render) {
  const auto tiff = render_text_pages("caf\xe9 \xff\xfe bad bytes\x07\fand a bell\r\nnext line\rlast");
  const Bitmap page = tiff_pages(tiff).at(0);
  BOOST_TEST(page.text_lines() == 3u);
  BOOST_TEST(white_margins(page));
}

BOOST_AUTO_TEST_CASE(rendered_text_is_read_back_by_ocr) {
  const auto tiff = render_text_pages(
      "The quick brown fox jumps over the lazy dog.\n\tInvoice number 48213 is attached.", {.font = "DejaVu Sans 12"});
  const umstore::recognition::FaxTextReader reader;
  const std::string text = lower(reader.read(tiff).full_text);
  BOOST_TEST_MESSAGE("OCR: " << text);
  BOOST_TEST(text.find("quick brown fox jumps over the lazy dog") != std::string::npos);
  BOOST_TEST(text.find("invoice number 48213") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cover_page_is_one_profile_s_page_with_the_headers) {
  CoverPage cover;
  cover.from = "Ann Example <ann@example.com>";
  cover.to = "+44 20 7946 0000";
  cover.date = "Tue, 2 Jan 2024 10:00:00 +0000";
  cover.pages = 4;
  cover.subject = "Signed contract";
  cover.note = "Please sign page three and send it back.";
  const auto tiff = render_cover_page(cover);
  check_profile_s_pages(tiff, 1, a4_lines);
  const Bitmap page = tiff_pages(tiff).at(0);
  BOOST_TEST(white_margins(page));
  BOOST_TEST(page.ink_in(margin_columns, margin_rows, 500, 250) > 3000u);  // the heading, large and bold
  const std::string text = lower(umstore::recognition::FaxTextReader().read(tiff).full_text);
  BOOST_TEST_MESSAGE("OCR: " << text);
  BOOST_TEST(text.rfind("fax", 0) == 0u);
  for (const char* expected : {"from: ann example", "to: +44 20 7946 0000", "date: tue, 2 jan 2024", "pages: 4",
                               "subject: signed contract", "please sign page three and send it back."})
    BOOST_TEST(text.find(expected) != std::string::npos, expected);
}

BOOST_AUTO_TEST_CASE(long_cover_values_are_cut_to_the_page) {
  CoverPage cover;
  cover.from = std::string(2000, 'f');
  cover.subject = "Signed contract, " + std::string(3000, 'z') + "\r\nwith a folded header";  // three lines, then cut
  for (int i = 0; i < 500; ++i) cover.note += "A note that goes on and on.\n";  // cut at the bottom margin
  const auto tiff = render_cover_page(cover);
  check_profile_s_pages(tiff, 1, a4_lines);
  const Bitmap page = tiff_pages(tiff).at(0);
  BOOST_TEST(white_margins(page));
  BOOST_TEST(page.ink_in(0, page.length - margin_rows - 60, page.width, page.length) > 0u);  // the note fills the page
}

BOOST_AUTO_TEST_CASE(cover_page_with_only_some_values) {
  const auto tiff = render_cover_page({.to = "+1 555 0100"}, {.paper = TextPageOptions::Paper::letter});
  check_profile_s_pages(tiff, 1, letter_lines);
}

BOOST_AUTO_TEST_CASE(join_keeps_every_page_in_order) {
  const auto cover = render_cover_page({.from = "ann@example.com", .to = "+44 20 7946 0000", .pages = 5});
  const auto text = render_text_pages(numbered_lines(80));
  const auto sample_fax = read_file(sample("fax.tif"));
  const auto attachment = to_profile_f(sample_fax, "fax.tif");  // MMR: the join codes it as MH again
  BOOST_TEST_REQUIRE(inspect_tiff(text, "text.tif").pages.size() == 2u);
  const std::vector<std::vector<std::uint8_t>> documents{cover, {}, text, attachment};
  const auto joined = join_fax_documents(documents);

  const FaxDocument document = inspect_tiff(joined, "joined.tif");
  BOOST_TEST(document.profile_s);
  BOOST_TEST_REQUIRE(document.pages.size() == 5u);
  const FaxDocument attached = inspect_tiff(sample_fax, "fax.tif");
  for (std::size_t index = 0; index < 3; ++index) BOOST_TEST(document.pages[index].length == a4_lines);
  for (std::size_t index = 0; index < 2; ++index) {
    BOOST_TEST(document.pages[3 + index].length == attached.pages[index].length);
    BOOST_TEST(document.pages[3 + index].y_resolution == attached.pages[index].y_resolution);
  }
  for (const FaxPage& page : document.pages) BOOST_TEST(page.width == 1728u);

  // Same pixels, same order.
  std::vector<Bitmap> expected = tiff_pages(cover);
  for (const auto& source : {tiff_pages(text), tiff_pages(sample_fax)})
    expected.insert(expected.end(), source.begin(), source.end());
  const std::vector<Bitmap> pages = tiff_pages(joined);
  for (std::size_t index = 0; index < pages.size(); ++index) BOOST_TEST((pages[index].black == expected[index].black));
}

BOOST_AUTO_TEST_CASE(join_of_nothing_is_empty) {
  BOOST_TEST(join_fax_documents({}).empty());
  const std::vector<std::vector<std::uint8_t>> empties(2);
  BOOST_TEST(join_fax_documents(empties).empty());
}

BOOST_AUTO_TEST_CASE(join_reports_which_document_is_broken) {
  const std::vector<std::vector<std::uint8_t>> documents{render_text_pages("Hello"), {'n', 'o', 'p', 'e'}};
  BOOST_CHECK_EXCEPTION(join_fax_documents(documents), CodecError, [](const CodecError& e) {
    return std::string(e.what()).find("fax document 2") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(page_limit_is_enforced) {
  const auto has = [](std::string part) {
    return [part](const CodecError& e) {
      BOOST_TEST_MESSAGE(e.what());
      return std::string(e.what()).find(part) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(render_text_pages(numbered_lines(400), {}, {.max_pages = 2}), CodecError,
                        has("more than the limit of 2 pages"));
  BOOST_TEST(inspect_tiff(render_text_pages(numbered_lines(80), {}, {.max_pages = 2}), "t.tif").pages.size() == 2u);
  const auto sample_fax = read_file(sample("fax.tif"));
  const std::vector<std::vector<std::uint8_t>> documents{render_text_pages("Hello"), sample_fax};
  BOOST_TEST(inspect_tiff(join_fax_documents(documents, {.max_pages = 3}), "t.tif").pages.size() == 3u);
  BOOST_CHECK_EXCEPTION(join_fax_documents(documents, {.max_pages = 2}), CodecError, has("more than the limit of 2 pages"));
}

BOOST_AUTO_TEST_SUITE_END()
