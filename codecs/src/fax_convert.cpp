// convert_fax: detect, rasterise once, encode each requested output.
#include <tiffio.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "codecs/fax.hpp"
#include "fax_raster.hpp"

namespace umstore::codecs {
namespace {

bool starts_with(std::span<const std::uint8_t> bytes, std::string_view magic) {
  return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

bool looks_like_pdf(std::span<const std::uint8_t> bytes) {
  // PDF readers accept the header anywhere in the first KiB.
  const std::string_view head(reinterpret_cast<const char*>(bytes.data()), std::min<std::size_t>(bytes.size(), 1024));
  return head.find("%PDF-") != std::string_view::npos;
}

std::vector<detail::EncodedPage> encode_all(const std::vector<detail::BilevelPage>& pages, detail::CcittCoding coding,
                                            std::uint16_t fill_order, std::string_view name) {
  std::vector<detail::EncodedPage> encoded;
  encoded.reserve(pages.size());
  for (const auto& page : pages) encoded.push_back({&page, detail::encode_ccitt(page, coding, fill_order, name)});
  return encoded;
}

}  // namespace

std::vector<detail::BilevelPage> detail::rasterise_input(std::span<const std::uint8_t> input, FaxInputFormat format,
                                                         std::string_view name, const FaxLimits& limits) {
  if (input.size() > limits.max_input_bytes)
    throw CodecError(std::string(name) + ": " + std::string(to_string(format)) + ": input is " +
                     std::to_string(input.size()) + " bytes, limit " + std::to_string(limits.max_input_bytes));
  switch (format) {
    case FaxInputFormat::pdf: return detail::rasterise_pdf(input, name, limits);
    case FaxInputFormat::png: return detail::rasterise_png(input, name, limits);
    case FaxInputFormat::jpeg: return detail::rasterise_jpeg(input, name, limits);
    case FaxInputFormat::tiff: break;
  }
  return detail::rasterise_tiff(input, name, limits);
}

std::string_view to_string(FaxInputFormat format) {
  switch (format) {
    case FaxInputFormat::tiff: return "TIFF";
    case FaxInputFormat::pdf: return "PDF";
    case FaxInputFormat::png: return "PNG";
    case FaxInputFormat::jpeg: return "JPEG";
  }
  return "unknown";
}

FaxInputFormat detect_fax_input(std::span<const std::uint8_t> input, std::string_view name) {
  if (input.empty()) throw CodecError(std::string(name) + ": no data: empty input");
  if (starts_with(input, "II") || starts_with(input, "MM")) return FaxInputFormat::tiff;
  if (starts_with(input, "\x89PNG\r\n\x1a\n")) return FaxInputFormat::png;
  if (starts_with(input, "\xFF\xD8\xFF")) return FaxInputFormat::jpeg;
  if (looks_like_pdf(input)) return FaxInputFormat::pdf;
  throw CodecError(std::string(name) + ": unrecognised format: not a TIFF, PDF, PNG or JPEG file");
}

FaxConversion convert_fax(std::span<const std::uint8_t> input, std::string_view name,
                          const FaxConversionOptions& options, const FaxLimits& limits) {
  FaxConversion result;
  result.input_format = detect_fax_input(input, name);
  const std::vector<detail::BilevelPage> pages = detail::rasterise_input(input, result.input_format, name, limits);
  if (pages.empty()) throw CodecError(std::string(name) + ": " + std::string(to_string(result.input_format)) + ": no pages");
  const bool mmr_tiff = options.want_tiff && options.profile == TiffFProfile::f;
  // MMR with FillOrder 1 is what PDF wants, so a profile F TIFF and the PDF share one encoding.
  std::vector<detail::EncodedPage> mmr;
  if (mmr_tiff || options.want_pdf) mmr = encode_all(pages, detail::CcittCoding::mmr, FILLORDER_MSB2LSB, name);
  if (options.want_tiff)
    result.tiff = mmr_tiff ? detail::write_tiff_f(mmr, detail::CcittCoding::mmr, FILLORDER_MSB2LSB)
                           : detail::write_tiff_f(encode_all(pages, detail::CcittCoding::mh, FILLORDER_LSB2MSB, name),
                                                  detail::CcittCoding::mh, FILLORDER_LSB2MSB);
  if (options.want_pdf) result.pdf = detail::write_fax_pdf(mmr);
  const std::uint16_t compression = mmr_tiff ? 4 : 3;
  for (const auto& page : pages) result.pages.push_back(page.geometry(compression));
  return result;
}

std::vector<std::uint8_t> to_profile_s(std::span<const std::uint8_t> input, std::string_view name,
                                       const FaxLimits& limits) {
  if (detect_fax_input(input, name) == FaxInputFormat::tiff && inspect_tiff(input, name, limits).profile_s)
    return {input.begin(), input.end()};
  return convert_fax(input, name, {}, limits).tiff;
}

std::vector<std::uint8_t> to_profile_f(std::span<const std::uint8_t> input, std::string_view name,
                                       const FaxLimits& limits) {
  return convert_fax(input, name, {.profile = TiffFProfile::f}, limits).tiff;
}

std::vector<std::uint8_t> to_fax_pdf(std::span<const std::uint8_t> input, std::string_view name,
                                     const FaxLimits& limits) {
  return convert_fax(input, name, {.want_tiff = false, .want_pdf = true}, limits).pdf;
}

}  // namespace umstore::codecs
