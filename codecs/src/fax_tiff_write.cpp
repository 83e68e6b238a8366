// write_tiff_f: TIFF-F in the layout RFC 3949 §3.5 prescribes for profile S
// (libtiff itself writes each IFD after its image data, which profile S
// forbids); profile F output uses the same layout, which it allows.
#include <tiffio.h>

#include <string>

#include "fax_raster.hpp"

namespace umstore::codecs::detail {
namespace {

class TiffFFile {
 public:
  TiffFFile() { bytes_ = {'I', 'I', 42, 0, 8, 0, 0, 0}; }

  void add_page(const EncodedPage& encoded, CcittCoding coding, std::uint16_t fill_order, std::uint16_t index,
                std::uint16_t total) {
    constexpr std::uint16_t entries = 16;
    const BilevelPage& page = *encoded.page;
    const std::vector<std::uint8_t>& strip = encoded.strip;
    const bool last = index + 1 == total;
    const std::uint64_t ifd = bytes_.size();
    const std::uint64_t rationals = ifd + 2 + entries * 12 + 4;
    const std::uint64_t data = rationals + 16;
    const std::uint64_t next = last ? 0 : (data + strip.size() + 1) / 2 * 2;
    if (next > 0xFFFFFFFFull || data + strip.size() > 0xFFFFFFFFull) throw CodecError("TIFF: output exceeds 4 GiB");
    const bool mh = coding == CcittCoding::mh;
    put16(entries);
    entry(254, 4, 1, 2);                                         // NewSubfileType: page
    entry(256, 3, 1, fax_width);                                 // ImageWidth
    entry(257, 4, 1, page.length);                               // ImageLength
    entry(258, 3, 1, 1);                                         // BitsPerSample
    entry(259, 3, 1, mh ? 3 : 4);                                // Compression: T.4 or T.6
    entry(262, 3, 1, 0);                                         // Photometric: min-is-white
    entry(266, 3, 1, fill_order);                                // FillOrder
    entry(273, 4, 1, static_cast<std::uint32_t>(data));          // StripOffsets
    entry(277, 3, 1, 1);                                         // SamplesPerPixel
    entry(278, 4, 1, page.length);                               // RowsPerStrip
    entry(279, 4, 1, static_cast<std::uint32_t>(strip.size()));  // StripByteCounts
    entry(282, 5, 1, static_cast<std::uint32_t>(rationals));     // XResolution
    entry(283, 5, 1, static_cast<std::uint32_t>(rationals + 8)); // YResolution
    if (mh) entry(292, 4, 1, 4);                                 // T4Options: MH, byte-aligned EOLs
    else entry(293, 4, 1, 0);                                    // T6Options
    entry(296, 3, 1, 2);                                         // ResolutionUnit: inch
    entry(297, 3, 2, static_cast<std::uint32_t>(index) | (static_cast<std::uint32_t>(total) << 16));  // PageNumber
    put32(static_cast<std::uint32_t>(next));
    put32(static_cast<std::uint32_t>(fax_x_dpi));
    put32(1);
    put32(static_cast<std::uint32_t>(page.y_dpi));
    put32(1);
    bytes_.insert(bytes_.end(), strip.begin(), strip.end());
    if (!last && bytes_.size() % 2) bytes_.push_back(0);
  }

  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  void put16(std::uint16_t value) {
    bytes_.push_back(static_cast<std::uint8_t>(value & 0xFF));
    bytes_.push_back(static_cast<std::uint8_t>(value >> 8));
  }
  void put32(std::uint32_t value) {
    put16(static_cast<std::uint16_t>(value & 0xFFFF));
    put16(static_cast<std::uint16_t>(value >> 16));
  }
  // SHORT values sit left-justified in the 4-byte field; two SHORTs fill it.
  void entry(std::uint16_t tag, std::uint16_t type, std::uint32_t count, std::uint32_t value) {
    put16(tag);
    put16(type);
    put32(count);
    put32(value);
  }

  std::vector<std::uint8_t> bytes_;
};

}  // namespace

std::vector<std::uint8_t> write_tiff_f(std::span<const EncodedPage> pages, CcittCoding coding, std::uint16_t fill_order) {
  if (pages.empty() || pages.size() > 0xFFFF) throw CodecError("TIFF: cannot write " + std::to_string(pages.size()) + " pages");
  TiffFFile out;
  const auto total = static_cast<std::uint16_t>(pages.size());
  for (std::uint16_t index = 0; index < total; ++index) out.add_page(pages[index], coding, fill_order, index, total);
  return out.take();
}

void ProfileSWriter::add(BilevelPage page) {
  strips_.push_back(encode_ccitt(page, CcittCoding::mh, FILLORDER_LSB2MSB, name_));
  page.rows = {};
  geometry_.push_back(std::move(page));
}

std::vector<std::uint8_t> ProfileSWriter::finish() const {
  if (strips_.empty()) return {};
  std::vector<EncodedPage> encoded;
  encoded.reserve(strips_.size());
  for (std::size_t index = 0; index < strips_.size(); ++index) encoded.push_back({&geometry_[index], strips_[index]});
  return write_tiff_f(encoded, CcittCoding::mh, FILLORDER_LSB2MSB);
}

}  // namespace umstore::codecs::detail
