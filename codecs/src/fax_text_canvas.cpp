// TextCanvas: Pango text on a Cairo alpha image at fax resolution.
#include "fax_text_canvas.hpp"

#include <cmath>

namespace umstore::codecs::detail {
namespace {

constexpr double millimetres_per_inch = 25.4;
constexpr int default_font_size_points = 11;

struct GFree {
  void operator()(gchar* text) const { g_free(text); }
};

PaperSize paper_of_length(double length_inches) {
  return {fax_width / fax_x_dpi * points_per_inch, length_inches * points_per_inch,
          static_cast<std::uint32_t>(std::lround(length_inches * fine_y_dpi))};
}

void throw_if_failed(cairo_status_t status) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw CodecError(std::string("fax text: Cairo: ") + cairo_status_to_string(status));
}

// Without hinting glyph outlines are not bent towards whole pixels, which
// with pixels taller than wide (204 x 196 dpi) would distort them; without
// hinted metrics and rounded positions, a line is as long as at any other
// resolution, so wrapping does not depend on the pixels.
void set_unhinted(PangoContext* context) {
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options(context, options);
  cairo_font_options_destroy(options);
  pango_context_set_round_glyph_positions(context, FALSE);
}

}  // namespace

PaperSize paper_size(TextPageOptions::Paper paper) {
  switch (paper) {
    case TextPageOptions::Paper::letter: return paper_of_length(11);
    case TextPageOptions::Paper::a4: break;
  }
  return paper_of_length(297 / millimetres_per_inch);
}

TextCanvas::TextCanvas(const PaperSize& paper)
    : paper_(paper),
      surface_(cairo_image_surface_create(CAIRO_FORMAT_A8, static_cast<int>(fax_width), static_cast<int>(paper.lines))) {
  throw_if_failed(cairo_surface_status(surface_.get()));
  cairo_.reset(cairo_create(surface_.get()));
  throw_if_failed(cairo_status(cairo_.get()));
  // User space in points: one scale per axis keeps glyphs their shape on
  // pixels that are not square.
  cairo_scale(cairo_.get(), fax_x_dpi / points_per_inch, fine_y_dpi / points_per_inch);
  pango_.reset(pango_cairo_create_context(cairo_.get()));
  pango_cairo_context_set_resolution(pango_.get(), points_per_inch);  // font sizes in points = user units
  set_unhinted(pango_.get());
}

PangoLayoutPtr TextCanvas::new_layout(const PangoFontDescription& font) const {
  PangoLayoutPtr layout(pango_layout_new(pango_.get()));
  pango_layout_set_font_description(layout.get(), &font);
  return layout;
}

void TextCanvas::show_line(PangoLayoutLine* line, double x, double baseline) const {
  cairo_move_to(cairo_.get(), x, baseline);
  pango_cairo_show_layout_line(cairo_.get(), line);
}

void TextCanvas::show_layout(PangoLayout* layout, double x, double top) const {
  cairo_move_to(cairo_.get(), x, top);
  pango_cairo_show_layout(cairo_.get(), layout);
}

void TextCanvas::fill_rectangle(double x, double y, double width, double height) const {
  cairo_rectangle(cairo_.get(), x, y, width, height);
  cairo_fill(cairo_.get());
}

BilevelPage TextCanvas::take_page() {
  cairo_surface_flush(surface_.get());
  throw_if_failed(cairo_status(cairo_.get()));
  const unsigned char* pixels = cairo_image_surface_get_data(surface_.get());
  const auto stride = static_cast<std::size_t>(cairo_image_surface_get_stride(surface_.get()));
  BilevelPage page;
  page.length = paper_.lines;
  page.y_dpi = fine_y_dpi;
  page.rows.assign(BilevelPage::bytes_per_row() * page.length, 0);
  for (std::uint32_t y = 0; y < page.length; ++y) {
    const unsigned char* coverage = pixels + stride * y;
    std::uint8_t* row = page.rows.data() + BilevelPage::bytes_per_row() * y;
    for (std::uint32_t x = 0; x < fax_width; ++x)
      if (coverage[x] >= 128) row[x / 8] |= static_cast<std::uint8_t>(0x80u >> (x % 8));
  }
  cairo_save(cairo_.get());
  cairo_set_operator(cairo_.get(), CAIRO_OPERATOR_CLEAR);
  cairo_paint(cairo_.get());
  cairo_restore(cairo_.get());
  return page;
}

FontDescription parse_font(const std::string& description) {
  FontDescription font(pango_font_description_from_string(description.c_str()));
  if (pango_font_description_get_size(font.get()) <= 0)
    pango_font_description_set_size(font.get(), default_font_size_points * PANGO_SCALE);
  return font;
}

std::string printable_text(std::string_view utf8, bool single_line) {
  const std::unique_ptr<gchar, GFree> valid(g_utf8_make_valid(utf8.data(), static_cast<gssize>(utf8.size())));
  std::string out;
  out.reserve(utf8.size());
  for (const gchar* next = valid.get(); *next;) {
    const gunichar c = g_utf8_get_char(next);
    next = g_utf8_next_char(next);
    gunichar kept = c;
    if (c == '\r') {
      if (*next == '\n') continue;  // CR LF: the LF is kept
      kept = '\n';                  // a lone CR ends a line too
    }
    if ((kept == '\n' || kept == '\t') && single_line) kept = ' ';
    else if (kept != '\n' && kept != '\t' && g_unichar_iscntrl(kept)) continue;
    char bytes[6];
    out.append(bytes, static_cast<std::size_t>(g_unichar_to_utf8(kept, bytes)));
  }
  return out;
}

}  // namespace umstore::codecs::detail
