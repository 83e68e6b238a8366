#pragma once
// Text recognition of fax pages with tesseract (Debian's tesseract-ocr-eng).
// Fax pixels are not square (204 x 98 or 204 x 196 dpi): each page is
// scaled to square pixels at 300 dpi before recognition.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace umstore::recognition {

struct FaxTextConfig {
  std::string language = "eng";  // tesseract's traineddata name
  std::size_t first_lines = 5;   // lines of page 1 for the message's short text
  std::size_t max_pages = 50;    // pages after these are not read
};

struct FaxText {
  std::string first_lines;  // the first non-empty lines of page 1
  std::string full_text;    // every page read, pages separated by a form feed line
};

class FaxTextReader {
 public:
  explicit FaxTextReader(FaxTextConfig config = {});
  ~FaxTextReader();
  FaxTextReader(const FaxTextReader&) = delete;
  FaxTextReader& operator=(const FaxTextReader&) = delete;

  // Safe from several threads at once. Throws RecognitionError (transcriber.hpp)
  // when the TIFF cannot be read or the language is not installed.
  FaxText read(std::span<const std::uint8_t> tiff) const;

 private:
  struct Engines;
  FaxTextConfig config_;
  std::unique_ptr<Engines> engines_;
};

}  // namespace umstore::recognition
