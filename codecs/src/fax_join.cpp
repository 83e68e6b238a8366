// join_fax_documents: the pages of several documents (cover page, text pages,
// attachments) as one TIFF-F profile S fax. Every page is decoded and coded
// again as MH: inputs may be profile F, another resolution or not TIFF at all,
// and pages that already are profile S come out with the same pixels.
#include <string>

#include "codecs/fax_pages.hpp"
#include "fax_raster.hpp"

namespace umstore::codecs {
namespace {

void check_total_pages(std::size_t pages, const FaxLimits& limits) {
  if (pages > limits.max_pages)
    throw LimitExceeded(LimitExceeded::Limit::fax_pages, "fax: the documents together have more than the limit of " +
                                                             std::to_string(limits.max_pages) + " pages");
}

}  // namespace

std::vector<std::uint8_t> join_fax_documents(std::span<const std::vector<std::uint8_t>> documents,
                                             const FaxLimits& limits) {
  detail::ProfileSWriter out("fax");
  for (std::size_t index = 0; index < documents.size(); ++index) {
    const std::vector<std::uint8_t>& document = documents[index];
    if (document.empty()) continue;
    const std::string name = "fax document " + std::to_string(index + 1);
    const FaxInputFormat format = detect_fax_input(document, name);
    // A TIFF's pages are counted before any is decoded.
    if (format == FaxInputFormat::tiff)
      check_total_pages(out.pages() + inspect_tiff(document, name, limits).pages.size(), limits);
    std::vector<detail::BilevelPage> pages = detail::rasterise_input(document, format, name, limits);
    if (pages.empty()) throw CodecError(name + ": " + std::string(to_string(format)) + ": no pages");
    check_total_pages(out.pages() + pages.size(), limits);
    for (detail::BilevelPage& page : pages) out.add(std::move(page));
  }
  return out.finish();
}

}  // namespace umstore::codecs
