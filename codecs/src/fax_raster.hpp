#pragma once
// Fax pages in memory between a decoder (TIFF, PDF, PNG, JPEG) and an encoder
// (TIFF-F profile S/F, PDF). Internal to codecs.
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/fax.hpp"

namespace umstore::codecs::detail {

inline constexpr std::uint32_t fax_width = 1728;  // A4/letter at 204 dpi: what every fax machine prints
inline constexpr double fax_x_dpi = 204;

// A page as 8-bit luminance, row-major, 0 = black. Resolutions of 0 are unknown.
struct GreyPage {
  std::uint32_t width = 0;
  std::uint32_t length = 0;
  double x_dpi = 0;
  double y_dpi = 0;
  std::vector<std::uint8_t> luminance;
};

// A page at fax geometry (fax_width wide, 204 x 98 or 204 x 196 dpi), packed
// one bit per pixel, most significant bit first, 1 = black (min-is-white).
struct BilevelPage {
  std::uint32_t length = 0;
  double y_dpi = 196;
  std::vector<std::uint8_t> rows;  // bytes_per_row() * length

  static constexpr std::size_t bytes_per_row() { return fax_width / 8; }
  FaxPage geometry(std::uint16_t compression) const {
    return {fax_width, length, fax_x_dpi, y_dpi, compression};
  }
};

// Area-averaging scale to fax geometry, thresholded at mid-grey (dithering
// turns text edges into noise that fax coding compresses badly), centred and
// padded white; a page wider than the paper is shrunk keeping its aspect ratio.
BilevelPage fit_to_fax(const GreyPage& grey, const FaxLimits& limits, std::string_view name);

// The source pages of a TIFF, PDF, PNG or JPEG input, at fax geometry.
std::vector<BilevelPage> rasterise_tiff(std::span<const std::uint8_t> tiff, std::string_view name,
                                        const FaxLimits& limits);
std::vector<BilevelPage> rasterise_pdf(std::span<const std::uint8_t> pdf, std::string_view name,
                                       const FaxLimits& limits);
std::vector<BilevelPage> rasterise_png(std::span<const std::uint8_t> png, std::string_view name,
                                       const FaxLimits& limits);
std::vector<BilevelPage> rasterise_jpeg(std::span<const std::uint8_t> jpeg, std::string_view name,
                                        const FaxLimits& limits);

// The pages of an input detect_fax_input found to be `format`, at fax geometry.
std::vector<BilevelPage> rasterise_input(std::span<const std::uint8_t> input, FaxInputFormat format,
                                         std::string_view name, const FaxLimits& limits);

enum class CcittCoding { mh, mmr };

// One page's CCITT strip, coded by libtiff's fax coder. MH gets byte-aligned
// EOLs (T4Options 4). fill_order is the TIFF FillOrder value (1 = MSB first,
// what PDF's CCITTFaxDecode expects).
std::vector<std::uint8_t> encode_ccitt(const BilevelPage& page, CcittCoding coding, std::uint16_t fill_order,
                                       std::string_view name);

struct EncodedPage {
  const BilevelPage* page = nullptr;
  std::vector<std::uint8_t> strip;
};

// TIFF-F laid out as RFC 3949 §3.5 requires (II, IFD at 8, IFD then its
// values then its strip, page after page). MH pages give profile S, MMR pages
// profile F.
std::vector<std::uint8_t> write_tiff_f(std::span<const EncodedPage> pages, CcittCoding coding, std::uint16_t fill_order);

// TIFF-F profile S (MH, FillOrder 2) built a page at a time: each page is
// coded as it is added and its pixels let go, so a long fax holds one page's.
class ProfileSWriter {
 public:
  explicit ProfileSWriter(std::string_view name) : name_(name) {}
  void add(BilevelPage page);
  std::size_t pages() const { return strips_.size(); }
  // The file; empty when no page was added.
  std::vector<std::uint8_t> finish() const;

 private:
  std::string name_;
  std::deque<BilevelPage> geometry_;  // pages without their rows: EncodedPage points at them
  std::vector<std::vector<std::uint8_t>> strips_;
};

// A PDF 1.4 with one page per fax page, each an image XObject holding the MMR
// strip unchanged (/CCITTFaxDecode /K -1), at the page's physical size.
std::vector<std::uint8_t> write_fax_pdf(std::span<const EncodedPage> pages);

}  // namespace umstore::codecs::detail
