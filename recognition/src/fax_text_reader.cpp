// Fax text recognition with tesseract: see fax_text_reader.hpp.
#include "recognition/fax_text_reader.hpp"

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <mutex>
#include <vector>

#include "recognition/transcriber.hpp"

namespace umstore::recognition {
namespace {

// Tesseract reads best at about 300 dpi; fax is 204 dpi across and 98 or 196 down.
constexpr int kOcrDpi = 300;
constexpr int kFaxXDpi = 204;
constexpr int kFaxYDpi = 196;

struct PixDeleter {
  void operator()(Pix* pix) const { pixDestroy(&pix); }
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;
struct PixaDeleter {
  void operator()(Pixa* pixa) const { pixaDestroy(&pixa); }
};

// The page in 8-bit grey with square pixels at kOcrDpi: interpolated rather
// than repeated rows, so the strokes of a normal-resolution page stay smooth.
PixPtr square_page(Pix* page) {
  const int x_dpi = pixGetXRes(page) > 0 ? pixGetXRes(page) : kFaxXDpi;
  const int y_dpi = pixGetYRes(page) > 0 ? pixGetYRes(page) : kFaxYDpi;
  PixPtr grey(pixConvertTo8(page, 0));
  if (!grey) throw RecognitionError("a fax page cannot be converted for text recognition");
  PixPtr scaled(pixScale(grey.get(), static_cast<float>(kOcrDpi) / static_cast<float>(x_dpi),
                         static_cast<float>(kOcrDpi) / static_cast<float>(y_dpi)));
  if (!scaled) throw RecognitionError("a fax page cannot be scaled for text recognition");
  pixSetResolution(scaled.get(), kOcrDpi, kOcrDpi);
  return scaled;
}

std::string first_lines_of(std::string_view text, std::size_t count) {
  std::string out;
  std::size_t taken = 0;
  std::size_t pos = 0;
  while (pos < text.size() && taken < count) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t\f") == std::string_view::npos) continue;
    out += line;
    out += '\n';
    ++taken;
  }
  return out;
}

}  // namespace

// Tesseract instances load their language once and are not thread-safe:
// each read borrows one.
struct FaxTextReader::Engines {
  std::mutex mutex;
  std::vector<std::unique_ptr<tesseract::TessBaseAPI>> idle;
};

FaxTextReader::FaxTextReader(FaxTextConfig config) : config_(std::move(config)), engines_(std::make_unique<Engines>()) {}

FaxTextReader::~FaxTextReader() {
  for (auto& api : engines_->idle) api->End();
}

FaxText FaxTextReader::read(std::span<const std::uint8_t> tiff) const {
  std::unique_ptr<Pixa, PixaDeleter> pages(pixaReadMemMultipageTiff(tiff.data(), tiff.size()));
  if (!pages || pixaGetCount(pages.get()) == 0) throw RecognitionError("the fax TIFF has no page leptonica can read");
  std::unique_ptr<tesseract::TessBaseAPI> api;
  {
    std::lock_guard lock(engines_->mutex);
    if (!engines_->idle.empty()) {
      api = std::move(engines_->idle.back());
      engines_->idle.pop_back();
    }
  }
  if (!api) {
    api = std::make_unique<tesseract::TessBaseAPI>();
    if (api->Init(nullptr, config_.language.c_str()) != 0)
      throw RecognitionError("tesseract cannot load language '" + config_.language + "' (install tesseract-ocr-" +
                             config_.language + ")");
  }
  FaxText out;
  const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(pixaGetCount(pages.get())), config_.max_pages);
  for (std::size_t i = 0; i < count; ++i) {
    PixPtr page(pixaGetPix(pages.get(), static_cast<int>(i), L_CLONE));
    PixPtr square = square_page(page.get());
    api->SetImage(square.get());
    api->SetSourceResolution(kOcrDpi);
    std::unique_ptr<char[]> text(api->GetUTF8Text());
    const std::string page_text = text ? std::string(text.get()) : std::string();
    if (i == 0) out.first_lines = first_lines_of(page_text, config_.first_lines);
    if (i > 0) out.full_text += "\f\n";
    out.full_text += page_text;
  }
  api->Clear();
  std::lock_guard lock(engines_->mutex);
  engines_->idle.push_back(std::move(api));
  return out;
}

}  // namespace umstore::recognition
