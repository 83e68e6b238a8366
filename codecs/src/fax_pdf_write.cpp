// write_fax_pdf: each page's MMR strip goes into the PDF byte for byte; the
// viewer decodes it with CCITTFaxDecode, so no quality is lost and nothing is
// re-rasterised. BlackIs1 false: the G4 runs already say which pixels are
// black, and with false a decoded black pixel is 0, i.e. black in DeviceGray.
#include <cmath>
#include <cstdio>
#include <string>

#include "fax_raster.hpp"

namespace umstore::codecs::detail {
namespace {

class PdfFile {
 public:
  PdfFile() { append("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n"); }

  // Objects are numbered 1 catalog, 2 page tree, then per page: page, contents, image.
  void add_object(std::uint32_t number, const std::string& body) {
    if (offsets_.size() < number + 1) offsets_.resize(number + 1, 0);
    offsets_[number] = bytes_.size();
    append(std::to_string(number) + " 0 obj\n" + body + "\nendobj\n");
  }

  void add_stream(std::uint32_t number, const std::string& dictionary, std::span<const std::uint8_t> data) {
    if (offsets_.size() < number + 1) offsets_.resize(number + 1, 0);
    offsets_[number] = bytes_.size();
    append(std::to_string(number) + " 0 obj\n<<" + dictionary + " /Length " + std::to_string(data.size()) +
           ">>\nstream\n");
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    append("\nendstream\nendobj\n");
  }

  std::vector<std::uint8_t> finish() {
    const std::size_t xref = bytes_.size();
    append("xref\n0 " + std::to_string(offsets_.size()) + "\n0000000000 65535 f \n");
    char line[32];
    for (std::size_t i = 1; i < offsets_.size(); ++i) {
      std::snprintf(line, sizeof line, "%010zu 00000 n \n", offsets_[i]);
      append(line);
    }
    append("trailer\n<</Size " + std::to_string(offsets_.size()) + " /Root 1 0 R>>\nstartxref\n" +
           std::to_string(xref) + "\n%%EOF\n");
    return std::move(bytes_);
  }

 private:
  void append(const std::string& text) { bytes_.insert(bytes_.end(), text.begin(), text.end()); }

  std::vector<std::uint8_t> bytes_;
  std::vector<std::size_t> offsets_{0};
};

// Points with enough digits that a renderer at the fax resolution gets the
// pixel count back; rounded down, since renderers round a partial pixel up.
std::string points(double pixels, double dpi) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", std::floor(pixels * 72.0 / dpi * 1e4) / 1e4);
  return text;
}

}  // namespace

std::vector<std::uint8_t> write_fax_pdf(std::span<const EncodedPage> pages) {
  PdfFile pdf;
  pdf.add_object(1, "<</Type /Catalog /Pages 2 0 R>>");
  std::string kids;
  for (std::size_t i = 0; i < pages.size(); ++i) kids += std::to_string(3 + 3 * i) + " 0 R ";
  pdf.add_object(2, "<</Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + ">>");
  for (std::size_t i = 0; i < pages.size(); ++i) {
    const BilevelPage& page = *pages[i].page;
    const auto first = static_cast<std::uint32_t>(3 + 3 * i);
    const std::string width = points(fax_width, fax_x_dpi), height = points(page.length, page.y_dpi);
    pdf.add_object(first, "<</Type /Page /Parent 2 0 R /MediaBox [0 0 " + width + " " + height +
                              "] /Resources <</XObject <</Im0 " + std::to_string(first + 2) +
                              " 0 R>>>> /Contents " + std::to_string(first + 1) + " 0 R>>");
    const std::string content = "q " + width + " 0 0 " + height + " 0 0 cm /Im0 Do Q";
    pdf.add_stream(first + 1, "", {reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
    const std::string rows = std::to_string(page.length), columns = std::to_string(fax_width);
    pdf.add_stream(first + 2,
                   "/Type /XObject /Subtype /Image /Width " + columns + " /Height " + rows +
                       " /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode"
                       " /DecodeParms <</K -1 /Columns " + columns + " /Rows " + rows + " /BlackIs1 false>>",
                   pages[i].strip);
  }
  return pdf.finish();
}

}  // namespace umstore::codecs::detail
