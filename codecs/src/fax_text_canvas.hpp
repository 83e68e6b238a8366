#pragma once
// A fax page to draw text on with Pango and Cairo, in points from the top
// left of the paper, turned into a BilevelPage. Internal to codecs.
#include <cairo.h>
#include <pango/pangocairo.h>

#include <memory>
#include <string>
#include <string_view>

#include "codecs/fax_pages.hpp"
#include "fax_raster.hpp"

namespace umstore::codecs::detail {

struct CairoDestroy {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct GObjectUnref {
  void operator()(void* object) const { g_object_unref(object); }
};
struct FontDescriptionFree {
  void operator()(PangoFontDescription* font) const { pango_font_description_free(font); }
};
using CairoContext = std::unique_ptr<cairo_t, CairoDestroy>;
using CairoSurface = std::unique_ptr<cairo_surface_t, CairoDestroy>;
using PangoLayoutPtr = std::unique_ptr<PangoLayout, GObjectUnref>;
using PangoContextPtr = std::unique_ptr<PangoContext, GObjectUnref>;
using FontDescription = std::unique_ptr<PangoFontDescription, FontDescriptionFree>;

inline constexpr double fine_y_dpi = 196;
inline constexpr double points_per_inch = 72;
inline constexpr double page_margin_points = 15 / 25.4 * points_per_inch;  // 15 mm

// The paper's size in points: the width is what a fax line covers (1728 dots
// at 204 dpi, a little over A4's 210 mm), the length the chosen paper's.
struct PaperSize {
  double width_points = 0;
  double length_points = 0;
  std::uint32_t lines = 0;  // scan lines at 196 dpi
  double text_width_points() const { return width_points - 2 * page_margin_points; }
  double text_length_points() const { return length_points - 2 * page_margin_points; }
};
PaperSize paper_size(TextPageOptions::Paper paper);

// Pango layouts made here measure in points whatever the page's pixels are.
class TextCanvas {
 public:
  explicit TextCanvas(const PaperSize& paper);

  PangoLayoutPtr new_layout(const PangoFontDescription& font) const;
  // Draws one line of a layout with its baseline at (x, y) points.
  void show_line(PangoLayoutLine* line, double x, double baseline) const;
  void show_layout(PangoLayout* layout, double x, double top) const;
  void fill_rectangle(double x, double y, double width, double height) const;
  // The drawing so far, thresholded at half coverage; the canvas is then blank.
  BilevelPage take_page();

 private:
  PaperSize paper_;
  CairoSurface surface_;
  CairoContext cairo_;
  PangoContextPtr pango_;
};

// options.font parsed; a description without a size gets 11 points.
FontDescription parse_font(const std::string& description);

// Text Pango can take: valid UTF-8 (invalid bytes become U+FFFD) without
// control characters other than newline and tab; CR LF becomes LF. With
// `single_line`, newlines and tabs become spaces too (header values).
std::string printable_text(std::string_view utf8, bool single_line);

}  // namespace umstore::codecs::detail
