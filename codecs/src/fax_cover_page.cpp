// render_cover_page: "FAX" in large type, a rule, the labelled header lines
// in two columns (labels in bold), then the note.
#include <algorithm>
#include <string>

#include "codecs/fax_pages.hpp"
#include "fax_text_canvas.hpp"

namespace umstore::codecs {
namespace {

constexpr std::string_view document_name = "fax cover page";
constexpr double heading_scale = 3;        // the heading's size against the text's
constexpr int max_value_lines = 3;         // a longer header value is cut with an ellipsis
constexpr double label_gap_points = 12;    // between the label column and the values
constexpr double rule_thickness_points = 1.5;
// Pango shapes a whole text even where it ends up cut: a header value or a
// note longer than these is cut first (a page holds some 6,000 characters).
constexpr std::size_t max_value_bytes = 2000;
constexpr std::size_t max_note_bytes = 20000;

struct Field {
  std::string_view label;
  std::string value;
};

std::vector<Field> fields_of(const CoverPage& cover) {
  std::vector<Field> fields{{"From:", cover.from}, {"To:", cover.to}, {"Date:", cover.date}};
  if (cover.pages > 0) fields.push_back({"Pages:", std::to_string(cover.pages)});
  fields.push_back({"Subject:", cover.subject});
  std::erase_if(fields, [](Field& field) {
    field.value = detail::printable_text(std::string_view(field.value).substr(0, max_value_bytes), true);
    return field.value.find_first_not_of(' ') == std::string::npos;
  });
  return fields;
}

double height_points(PangoLayout* layout) {
  int width = 0, height = 0;
  pango_layout_get_size(layout, &width, &height);
  return pango_units_to_double(height);
}

// Lays out the page top to bottom; `top` is where the next block begins, in points.
class CoverWriter {
 public:
  CoverWriter(const detail::PaperSize& paper, const std::string& font)
      : paper_(paper), canvas_(paper), font_(detail::parse_font(font)), bold_(pango_font_description_copy(font_.get())) {
    pango_font_description_set_weight(bold_.get(), PANGO_WEIGHT_BOLD);
  }

  void heading() {
    const detail::FontDescription large(pango_font_description_copy(bold_.get()));
    const double size = pango_font_description_get_size(font_.get()) * heading_scale;
    pango_font_description_set_size(large.get(), static_cast<int>(size));
    const detail::PangoLayoutPtr layout = canvas_.new_layout(*large);
    pango_layout_set_text(layout.get(), "FAX", -1);
    canvas_.show_layout(layout.get(), detail::page_margin_points, top_);
    top_ += height_points(layout.get()) + line_points() / 2;
    canvas_.fill_rectangle(detail::page_margin_points, top_, paper_.text_width_points(), rule_thickness_points);
    top_ += rule_thickness_points + line_points();
  }

  void fields(const std::vector<Field>& fields) {
    double label_width = 0;
    for (const Field& field : fields) label_width = std::max(label_width, width_points(label(field).get()));
    const double value_x = detail::page_margin_points + label_width + label_gap_points;
    for (const Field& field : fields) {
      const detail::PangoLayoutPtr value = canvas_.new_layout(*font_);
      const double value_width = paper_.text_width_points() - label_width - label_gap_points;
      pango_layout_set_width(value.get(), pango_units_from_double(value_width));
      pango_layout_set_wrap(value.get(), PANGO_WRAP_WORD_CHAR);
      pango_layout_set_ellipsize(value.get(), PANGO_ELLIPSIZE_END);
      pango_layout_set_height(value.get(), -max_value_lines);  // negative: a number of lines
      pango_layout_set_text(value.get(), field.value.data(), static_cast<int>(field.value.size()));
      canvas_.show_layout(label(field).get(), detail::page_margin_points, top_);
      canvas_.show_layout(value.get(), value_x, top_);
      top_ += height_points(value.get()) + line_points() / 2;
    }
  }

  // The note fills what is left of the page at most.
  void note(const std::string& text) {
    const std::string printable = detail::printable_text(std::string_view(text).substr(0, max_note_bytes), false);
    if (printable.find_first_not_of(" \t\n") == std::string::npos) return;
    top_ += line_points();
    const double room = paper_.length_points - detail::page_margin_points - top_;
    if (room < line_points()) return;
    const detail::PangoLayoutPtr layout = canvas_.new_layout(*font_);
    pango_layout_set_width(layout.get(), pango_units_from_double(paper_.text_width_points()));
    pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
    pango_layout_set_ellipsize(layout.get(), PANGO_ELLIPSIZE_END);
    pango_layout_set_height(layout.get(), pango_units_from_double(room));
    pango_layout_set_text(layout.get(), printable.data(), static_cast<int>(printable.size()));
    canvas_.show_layout(layout.get(), detail::page_margin_points, top_);
  }

  std::vector<std::uint8_t> finish() {
    detail::ProfileSWriter out(document_name);
    out.add(canvas_.take_page());
    return out.finish();
  }

 private:
  detail::PangoLayoutPtr label(const Field& field) const {
    detail::PangoLayoutPtr layout = canvas_.new_layout(*bold_);
    pango_layout_set_text(layout.get(), field.label.data(), static_cast<int>(field.label.size()));
    return layout;
  }
  static double width_points(PangoLayout* layout) {
    int width = 0, height = 0;
    pango_layout_get_size(layout, &width, &height);
    return pango_units_to_double(width);
  }
  double line_points() const { return pango_units_to_double(pango_font_description_get_size(font_.get())) * 1.2; }

  detail::PaperSize paper_;
  detail::TextCanvas canvas_;
  detail::FontDescription font_;
  detail::FontDescription bold_;
  double top_ = detail::page_margin_points;
};

}  // namespace

std::vector<std::uint8_t> render_cover_page(const CoverPage& cover, const TextPageOptions& options) {
  CoverWriter writer(detail::paper_size(options.paper), options.font);
  writer.heading();
  writer.fields(fields_of(cover));
  writer.note(cover.note);
  return writer.finish();
}

}  // namespace umstore::codecs
