// render_text_pages: an email's text as fax pages. Pango lays the whole text
// out once at the width between the margins; its lines are then dealt onto
// pages, each page taking the lines that fit between the top and bottom margins.
#include <algorithm>
#include <limits>
#include <string>

#include "codecs/fax_pages.hpp"
#include "fax_text_canvas.hpp"

namespace umstore::codecs {
namespace {

constexpr std::string_view document_name = "fax text";

struct LayoutIterFree {
  void operator()(PangoLayoutIter* iter) const { pango_layout_iter_free(iter); }
};
using LayoutIter = std::unique_ptr<PangoLayoutIter, LayoutIterFree>;

// Where one of the layout's lines goes: its page and its position there, in points.
struct PlacedLine {
  PangoLayoutLine* line = nullptr;  // owned by the layout
  unsigned page = 0;
  double x = 0;
  double baseline = 0;
};

// The text up to its last character that is not white space: trailing blank
// lines would only make blank pages.
std::string_view without_trailing_space(std::string_view utf8) {
  std::size_t end = 0;
  for (const gchar* next = utf8.data(); next < utf8.data() + utf8.size();) {
    const gunichar c = g_utf8_get_char(next);
    next = g_utf8_next_char(next);
    if (!g_unichar_isspace(c)) end = static_cast<std::size_t>(next - utf8.data());
  }
  return utf8.substr(0, end);
}

std::vector<PlacedLine> place_lines(PangoLayout* layout, const detail::PaperSize& paper) {
  const int text_length = pango_units_from_double(paper.text_length_points());
  std::vector<PlacedLine> placed;
  unsigned page = 0;
  int page_top = 0;  // layout units where the current page's first line begins
  const LayoutIter iter(pango_layout_get_iter(layout));
  do {
    PangoRectangle logical;
    pango_layout_iter_get_line_extents(iter.get(), nullptr, &logical);
    // A line taller than the page still goes on a page of its own.
    if (logical.y + logical.height - page_top > text_length && logical.y > page_top) {
      ++page;
      page_top = logical.y;
    }
    const int baseline = pango_layout_iter_get_baseline(iter.get()) - page_top;
    placed.push_back({pango_layout_iter_get_line_readonly(iter.get()), page,
                      detail::page_margin_points + pango_units_to_double(logical.x),
                      detail::page_margin_points + pango_units_to_double(baseline)});
  } while (pango_layout_iter_next_line(iter.get()));
  return placed;
}

void check_page_count(std::size_t pages, const FaxLimits& limits) {
  if (pages > limits.max_pages)
    throw LimitExceeded(LimitExceeded::Limit::fax_pages, std::string(document_name) + ": the text makes " +
                                                             std::to_string(pages) + " fax pages, more than the limit of " +
                                                             std::to_string(limits.max_pages) + " pages");
}

}  // namespace

std::vector<std::uint8_t> render_text_pages(std::string_view utf8_text, const TextPageOptions& options,
                                            const FaxLimits& limits) {
  // Pango takes the text's length as an int.
  const std::size_t max_bytes = std::min<std::size_t>(limits.max_input_bytes, std::numeric_limits<int>::max());
  if (utf8_text.size() > max_bytes)
    throw CodecError(std::string(document_name) + ": " + std::to_string(utf8_text.size()) + " bytes, limit " +
                     std::to_string(max_bytes));
  const std::string printable = detail::printable_text(utf8_text, false);
  const std::string_view text = without_trailing_space(printable);
  if (text.empty()) return {};

  const detail::PaperSize paper = detail::paper_size(options.paper);
  detail::TextCanvas canvas(paper);
  const detail::FontDescription font = detail::parse_font(options.font);
  const detail::PangoLayoutPtr layout = canvas.new_layout(*font);
  pango_layout_set_width(layout.get(), pango_units_from_double(paper.text_width_points()));
  pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);  // a word longer than a line is broken
  pango_layout_set_text(layout.get(), text.data(), static_cast<int>(text.size()));

  const std::vector<PlacedLine> lines = place_lines(layout.get(), paper);
  check_page_count(lines.back().page + std::size_t{1}, limits);
  detail::ProfileSWriter out(document_name);
  unsigned page = 0;
  for (const PlacedLine& placed : lines) {
    if (placed.page != page) {
      out.add(canvas.take_page());
      page = placed.page;
    }
    canvas.show_line(placed.line, placed.x, placed.baseline);
  }
  out.add(canvas.take_page());
  return out.finish();
}

}  // namespace umstore::codecs
