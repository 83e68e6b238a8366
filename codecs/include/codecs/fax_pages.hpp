#pragma once
// Fax pages made from email (RFC 3192 FAX=+number@domain): the text part and
// a cover page rendered as TIFF-F, and several documents joined into one fax.
// Every output is RFC 3949 profile S: MH, 1728 wide, 204 x 196 dpi, FillOrder 2.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/fax.hpp"

namespace umstore::codecs {

struct TextPageOptions {
  enum class Paper { a4, letter };
  Paper paper = Paper::a4;             // page length: 297 mm (2292 lines) or 11 in (2156 lines)
  std::string font = "DejaVu Sans 11";  // a Pango font description (family, style, size in points)
};

// What a cover page says. Values come from email headers (UTF-8, decoded);
// long ones are wrapped and then cut with an ellipsis. (The {} let callers
// name only some fields without -Wmissing-field-initializers.)
struct CoverPage {
  std::string from{};
  std::string to{};
  std::string date{};
  std::string subject{};
  unsigned pages = 0;  // pages of the whole fax, this one included; 0 leaves the line out
  std::string note{};  // a paragraph under the headers; empty for none
};

// The text laid out by Pango on A4 or letter paper with 15 mm margins: lines
// wrap at the page width, newlines are kept, tabs go to the next tab stop,
// other control characters are dropped and invalid UTF-8 becomes U+FFFD.
// Returns TIFF-F profile S bytes at 204 x 196 dpi, or an empty vector when
// the text is empty or only white space (no pages). Throws CodecError when
// the text would take more than limits.max_pages pages or is longer than
// limits.max_input_bytes.
std::vector<std::uint8_t> render_text_pages(std::string_view utf8_text, const TextPageOptions& options = {},
                                            const FaxLimits& limits = {});

// One TIFF-F profile S page: "FAX", then From, To, Date, Pages and Subject
// (lines whose value is empty are left out), then the note.
std::vector<std::uint8_t> render_cover_page(const CoverPage& cover, const TextPageOptions& options = {});

// One TIFF-F profile S fax with every page of every document, in order. A
// document is anything to_profile_s accepts (TIFF, PDF, PNG, JPEG); an empty
// one is skipped, and when all are empty the result is empty. Each document
// is checked against `limits` on its own, and throws CodecError when the
// pages together are more than limits.max_pages. The page count of the
// result is inspect_tiff(result, ...).pages.size().
std::vector<std::uint8_t> join_fax_documents(std::span<const std::vector<std::uint8_t>> documents,
                                             const FaxLimits& limits = {});

}  // namespace umstore::codecs
