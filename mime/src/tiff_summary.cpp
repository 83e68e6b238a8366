// Reads TIFF page directories (TIFF 6.0 §2) with every offset and count
// bounded, and compares each page with the profile S values of RFC 3949 §3.
#include "tiff_summary.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace umstore::mime {
namespace {

constexpr unsigned kMaxPages = 500;
constexpr std::uint16_t kMaxEntries = 1000;

enum Tag : std::uint16_t {
  kImageWidth = 256,
  kCompression = 259,
  kPhotometric = 262,
  kFillOrder = 266,
  kStripOffsets = 273,
  kXResolution = 282,
  kT4Options = 292,
};

class TiffReader {
 public:
  TiffReader(std::string_view data, bool little_endian) : data_(data), little_(little_endian) {}

  std::optional<std::uint32_t> u16(std::size_t at) const { return number(at, 2); }
  std::optional<std::uint32_t> u32(std::size_t at) const { return number(at, 4); }

 private:
  std::optional<std::uint32_t> number(std::size_t at, std::size_t width) const {
    if (at > data_.size() || data_.size() - at < width) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const auto byte = static_cast<std::uint32_t>(static_cast<unsigned char>(data_[at + (little_ ? width - 1 - i : i)]));
      value = (value << 8) | byte;
    }
    return value;
  }

  std::string_view data_;
  bool little_;
};

struct Entry {
  std::uint16_t type = 0;
  std::uint32_t count = 0;
  std::uint32_t value = 0;  // first SHORT or LONG held in the entry
};

struct Page {
  std::optional<Entry> width, compression, photometric, fill_order, strips, x_resolution, t4_options;
};

void note(TiffSummary& summary, std::string reason) {
  if (std::find(summary.beyond_profile_s.begin(), summary.beyond_profile_s.end(), reason) ==
      summary.beyond_profile_s.end())
    summary.beyond_profile_s.push_back(std::move(reason));
}

void compare_with_profile_s(const Page& page, TiffSummary& summary) {
  const auto value = [](const std::optional<Entry>& e, std::uint32_t fallback) { return e ? e->value : fallback; };
  if (value(page.width, 0) != 1728) note(summary, "width " + std::to_string(value(page.width, 0)) + ", not 1728");
  const std::uint32_t compression = value(page.compression, 1);
  if (compression == 4)
    note(summary, "T.6 MMR compression (profile F)");
  else if (compression != 3)
    note(summary, "compression " + std::to_string(compression) + ", not 3 (T.4 MH)");
  else if (value(page.t4_options, 0) & 1u)
    note(summary, "2-D MR coding (T4Options bit 0, profile F)");
  if (value(page.fill_order, 1) != 2) note(summary, "FillOrder is not 2");
  if (value(page.photometric, 0) != 0) note(summary, "PhotometricInterpretation is not 0 (min-is-white)");
  if (page.strips && page.strips->count != 1) note(summary, "more than one strip per page");
}

}  // namespace

TiffSummary summarise_tiff(std::string_view data) {
  TiffSummary summary;
  if (data.size() < 8 || !(data.starts_with("II") || data.starts_with("MM"))) {
    summary.problem = "no II or MM byte-order mark";
    return summary;
  }
  const bool little = data.starts_with("II");
  const TiffReader reader(data, little);
  if (reader.u16(2) != 42u) {
    summary.problem = "the TIFF magic number 42 is missing";
    return summary;
  }
  summary.is_tiff = true;
  if (!little) note(summary, "MM (big-endian) byte order");
  std::uint32_t offset = reader.u32(4).value_or(0);
  if (offset != 8) note(summary, "first page directory not at offset 8");
  std::vector<std::uint32_t> visited;
  while (offset != 0 && summary.pages < kMaxPages) {
    if (std::find(visited.begin(), visited.end(), offset) != visited.end()) break;  // a loop in the IFD chain
    visited.push_back(offset);
    const auto entries = reader.u16(offset);
    if (!entries || *entries > kMaxEntries) {
      summary.problem = "page directory " + std::to_string(summary.pages + 1) + " lies outside the file";
      summary.is_tiff = summary.pages > 0;
      break;
    }
    Page page;
    for (std::uint32_t i = 0; i < *entries; ++i) {
      const std::size_t at = offset + 2 + 12 * static_cast<std::size_t>(i);
      const auto tag = reader.u16(at), type = reader.u16(at + 2), count = reader.u32(at + 4);
      if (!tag || !type || !count) break;
      const auto held = *type == 3 ? reader.u16(at + 8) : reader.u32(at + 8);
      const Entry entry{static_cast<std::uint16_t>(*type), *count, held.value_or(0)};
      switch (*tag) {
        case kImageWidth: page.width = entry; break;
        case kCompression: page.compression = entry; break;
        case kPhotometric: page.photometric = entry; break;
        case kFillOrder: page.fill_order = entry; break;
        case kStripOffsets: page.strips = entry; break;
        case kXResolution: page.x_resolution = entry; break;
        case kT4Options: page.t4_options = entry; break;
        default: break;
      }
    }
    ++summary.pages;
    compare_with_profile_s(page, summary);
    offset = reader.u32(offset + 2 + 12 * static_cast<std::size_t>(*entries)).value_or(0);
  }
  if (summary.pages == 0 && summary.problem.empty()) summary.problem = "it has no pages";
  if (summary.pages == 0) summary.is_tiff = false;
  return summary;
}

}  // namespace umstore::mime
