// Fax pages from what send-to-fax software produces: PDF (rendered by
// poppler at fax resolution), PNG (libpng) and JPEG (libjpeg), all read as
// grey and fitted by fit_to_fax.
#include <cstddef>
#include <cstdio>  // jpeglib.h needs size_t and FILE declared first
#include <jpeglib.h>
#include <png.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "fax_raster.hpp"

namespace umstore::codecs::detail {
namespace {

[[noreturn]] void fail(std::string_view name, std::string_view format, std::string_view problem) {
  throw CodecError(std::string(name) + ": " + std::string(format) + ": " + std::string(problem));
}

void check_dimensions(std::uint64_t width, std::uint64_t length, const FaxLimits& limits, std::string_view name,
                      std::string_view format) {
  if (width == 0 || length == 0) fail(name, format, "image has no width or length");
  if (width > limits.max_width)
    fail(name, format, "width " + std::to_string(width) + " exceeds the limit " + std::to_string(limits.max_width));
  if (length > limits.max_length)
    fail(name, format, "length " + std::to_string(length) + " lines exceeds the limit " + std::to_string(limits.max_length));
}

// --- PDF ---

void ignore_poppler_message(const std::string&, void*) {}

// Poppler reports problems on stderr unless told otherwise; errors surface as a failed load instead.
void silence_poppler() {
  static const bool silenced = [] {
    poppler::set_debug_error_function(ignore_poppler_message, nullptr);
    return true;
  }();
  (void)silenced;
}

// Where a page is rendered: its size in points at the resolution it is
// rendered at, known from the page's box before anything is drawn.
struct PdfRendering {
  std::unique_ptr<poppler::page> page;
  double x_dpi = 0, y_dpi = 0;
  std::uint64_t pixels = 0;  // width x length at that resolution
};

PdfRendering plan_pdf_page(poppler::document& document, int index, const FaxLimits& limits, std::string_view name) {
  PdfRendering plan{std::unique_ptr<poppler::page>(document.create_page(index))};
  const std::string where = "page " + std::to_string(index + 1) + ": ";
  if (!plan.page) fail(name, "PDF", where + "cannot be read");
  const poppler::rectf box = plan.page->page_rect(poppler::media_box);
  const double width_points = box.width(), length_points = box.height();
  if (!(width_points > 1 && length_points > 1)) fail(name, "PDF", where + "has no size");
  // Render no wider than the fax paper: scaling down afterwards would only lose detail.
  plan.x_dpi = std::min(fax_x_dpi, fax_width * 72.0 / width_points);
  plan.y_dpi = plan.x_dpi * 196.0 / fax_x_dpi;
  const double length_pixels = length_points * plan.y_dpi / 72.0;
  if (length_pixels > limits.max_length)
    fail(name, "PDF", where + "would be " + std::to_string(static_cast<long long>(length_pixels)) +
                          " lines at fax resolution, limit " + std::to_string(limits.max_length));
  plan.pixels = static_cast<std::uint64_t>(std::ceil(width_points * plan.x_dpi / 72.0)) *
                static_cast<std::uint64_t>(std::ceil(length_pixels));
  return plan;
}

GreyPage render_pdf_page(const PdfRendering& plan, int index, const FaxLimits& limits, std::string_view name) {
  const std::string where = "page " + std::to_string(index + 1) + ": ";
  poppler::page_renderer renderer;
  renderer.set_image_format(poppler::image::format_gray8);
  renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
  renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
  const poppler::image image = renderer.render_page(plan.page.get(), plan.x_dpi, plan.y_dpi);
  if (!image.is_valid() || image.format() != poppler::image::format_gray8) fail(name, "PDF", where + "cannot be rendered");
  GreyPage grey{static_cast<std::uint32_t>(image.width()), static_cast<std::uint32_t>(image.height()), plan.x_dpi,
                plan.y_dpi, {}};
  check_dimensions(grey.width, grey.length, limits, name, "PDF");
  grey.luminance.resize(static_cast<std::size_t>(grey.width) * grey.length);
  for (std::uint32_t row = 0; row < grey.length; ++row)
    std::memcpy(grey.luminance.data() + static_cast<std::size_t>(row) * grey.width,
                image.const_data() + static_cast<std::size_t>(row) * static_cast<std::size_t>(image.bytes_per_row()),
                grey.width);
  return grey;
}

// --- JPEG ---

struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_on_error(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void jpeg_quiet(j_common_ptr) {}

// Corrupt or truncated data is only a warning to libjpeg (it pads with grey);
// a fax page with a grey hole must be rejected, not sent.
void jpeg_on_message(j_common_ptr info, int level) {
  if (level < 0) jpeg_on_error(info);
}

// libjpeg reports errors by longjmp, so this function owns no object with a
// destructor: `page` and `problem` live in the caller.
bool decode_jpeg(std::span<const std::uint8_t> bytes, const FaxLimits& limits, GreyPage& page, std::string& problem) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_on_error;
  errors.manager.output_message = jpeg_quiet;
  errors.manager.emit_message = jpeg_on_message;
  if (setjmp(errors.jump)) {
    problem = errors.message;
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (info.image_width > limits.max_width || info.image_height > limits.max_length || info.image_width == 0 ||
      info.image_height == 0) {
    std::snprintf(errors.message, sizeof errors.message, "%u x %u pixels exceeds the limit %u x %u",
                  info.image_width, info.image_height, limits.max_width, limits.max_length);
    std::longjmp(errors.jump, 1);
  }
  info.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress(&info);
  page.width = info.output_width;
  page.length = info.output_height;
  const double per_unit = info.density_unit == 2 ? 2.54 : 1.0;
  if (info.density_unit != 0 && info.X_density > 1 && info.Y_density > 1) {
    page.x_dpi = info.X_density * per_unit;
    page.y_dpi = info.Y_density * per_unit;
  }
  page.luminance.resize(static_cast<std::size_t>(page.width) * page.length);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = page.luminance.data() + static_cast<std::size_t>(info.output_scanline) * page.width;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

// --- PNG ---

struct PngImage {
  png_image image{};
  PngImage() { image.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

// The resolution in a PNG's pHYs chunk, which libpng's simplified API does
// not expose: pixels per metre (unit 1) as dots per inch. {0, 0} (unknown:
// fit_to_fax then assumes the page fills the paper's width) when the chunk is
// absent, damaged or gives only an aspect ratio (unit 0). pHYs must come
// before the first IDAT, so the walk stops there.
std::pair<double, double> png_resolution(std::span<const std::uint8_t> png) {
  const auto be32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(png[at]) << 24 | static_cast<std::uint32_t>(png[at + 1]) << 16 |
           static_cast<std::uint32_t>(png[at + 2]) << 8 | png[at + 3];
  };
  constexpr std::size_t signature = 8, chunk_overhead = 12;  // length, type, CRC
  constexpr double inches_per_metre = 1 / 0.0254;
  for (std::size_t at = signature; png.size() >= chunk_overhead && at <= png.size() - chunk_overhead;) {
    const std::uint32_t length = be32(at);
    if (length > png.size() - chunk_overhead - at) break;
    const std::string_view type(reinterpret_cast<const char*>(png.data() + at + 4), 4);
    if (type == "IDAT" || type == "IEND") break;
    if (type == "pHYs" && length == 9) {
      if (png[at + 16] != 1) break;  // unit 0: aspect ratio only
      return {be32(at + 8) / inches_per_metre, be32(at + 12) / inches_per_metre};
    }
    at += chunk_overhead + length;
  }
  return {0, 0};
}

}  // namespace

std::vector<BilevelPage> rasterise_pdf(std::span<const std::uint8_t> pdf, std::string_view name,
                                       const FaxLimits& limits) {
  silence_poppler();
  if (pdf.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) fail(name, "PDF", "too large");
  const std::unique_ptr<poppler::document> document(
      poppler::document::load_from_raw_data(reinterpret_cast<const char*>(pdf.data()), static_cast<int>(pdf.size())));
  if (!document) fail(name, "PDF", "cannot be opened (damaged or truncated)");
  if (document->is_locked()) fail(name, "PDF", "is password-protected");
  const int count = document->pages();
  if (count <= 0) fail(name, "PDF", "has no pages");
  if (static_cast<unsigned>(count) > limits.max_pages)
    throw LimitExceeded(LimitExceeded::Limit::fax_pages, std::string(name) + ": PDF: " + std::to_string(count) +
                                                             " pages, more than " + std::to_string(limits.max_pages) +
                                                             " pages");
  // Every page's size first: the pixel budget is checked before any is drawn.
  std::vector<PdfRendering> plans;
  std::uint64_t pixels = 0;
  for (int index = 0; index < count; ++index) {
    plans.push_back(plan_pdf_page(*document, index, limits, name));
    pixels += plans.back().pixels;
    check_fax_pixels(pixels, plans.size(), limits, name, "PDF");
  }
  std::vector<BilevelPage> pages;
  for (int index = 0; index < count; ++index)
    pages.push_back(fit_to_fax(render_pdf_page(plans[static_cast<std::size_t>(index)], index, limits, name), limits, name));
  return pages;
}

std::vector<BilevelPage> rasterise_png(std::span<const std::uint8_t> png, std::string_view name,
                                       const FaxLimits& limits) {
  PngImage reader;
  if (!png_image_begin_read_from_memory(&reader.image, png.data(), png.size()))
    fail(name, "PNG", std::string("cannot be read: ") + reader.image.message);
  check_dimensions(reader.image.width, reader.image.height, limits, name, "PNG");
  reader.image.format = PNG_FORMAT_GRAY;
  const auto [x_dpi, y_dpi] = png_resolution(png);
  GreyPage grey{reader.image.width, reader.image.height, x_dpi, y_dpi, {}};
  grey.luminance.resize(static_cast<std::size_t>(grey.width) * grey.length);
  const png_color white{255, 255, 255};  // transparency is paper
  if (!png_image_finish_read(&reader.image, &white, grey.luminance.data(), static_cast<png_int_32>(grey.width), nullptr))
    fail(name, "PNG", std::string("cannot be decoded: ") + reader.image.message);
  std::vector<BilevelPage> pages;
  pages.push_back(fit_to_fax(grey, limits, name));
  return pages;
}

std::vector<BilevelPage> rasterise_jpeg(std::span<const std::uint8_t> jpeg, std::string_view name,
                                        const FaxLimits& limits) {
  GreyPage grey;
  std::string problem;
  if (!decode_jpeg(jpeg, limits, grey, problem)) fail(name, "JPEG", "cannot be decoded: " + problem);
  std::vector<BilevelPage> pages;
  pages.push_back(fit_to_fax(grey, limits, name));
  return pages;
}

}  // namespace umstore::codecs::detail
