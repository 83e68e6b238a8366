#pragma once
// What is faxed of an email: its text part as pages, then every attachment
// codecs reads (PDF, TIFF, PNG, JPEG) in the order they come, behind an
// optional cover page; all as one TIFF-F (RFC 3949 profile S) file.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/fax.hpp"
#include "codecs/fax_pages.hpp"

namespace umstore::faxout {

struct DocumentOptions {
  bool cover_page = true;
  codecs::TextPageOptions text;
  codecs::FaxLimits limits;
};

struct FaxDocument {
  std::vector<std::uint8_t> tiff;
  unsigned pages = 0;               // cover page included
  std::vector<std::string> parts;   // what went in, for the log: "text (2 pages)", "report.pdf (3 pages)"
};

// The message cannot be faxed as it is: what() is for the sender, and
// `status` the enhanced code (5.6.0 nothing to send, 5.6.1 an attachment
// that is not a document, 5.3.4 too many pages).
class UnfaxableMessage : public std::runtime_error {
 public:
  UnfaxableMessage(std::string status, const std::string& why) : std::runtime_error(why), status_(std::move(status)) {}
  const std::string& status() const noexcept { return status_; }

 private:
  std::string status_;
};

// One thing to fax: a text (UTF-8), or a document codecs reads.
struct DocumentPart {
  std::string name;        // the file's name, for messages
  std::string_view bytes;
  bool text = false;
};

// What the cover page says besides the page count.
struct CoverDetails {
  std::string from, to, date, subject;
};

// The parts in order behind the cover page (options.cover_page).
FaxDocument render_parts(std::span<const DocumentPart> parts, const CoverDetails& cover, const DocumentOptions& options);

// An email's text and documents; `to` is the number as the cover page shows it.
FaxDocument render_fax(std::string_view message, std::string_view to, const DocumentOptions& options);

}  // namespace umstore::faxout
