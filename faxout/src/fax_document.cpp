#include "faxout/fax_document.hpp"

#include <algorithm>
#include <deque>

#include "common/ascii.hpp"
#include "mime/message_parser.hpp"
#include "mime/people_text.hpp"

namespace umstore::faxout {
namespace {

std::string header_text(const mime::Part& root, std::string_view name) {
  const auto raw = root.header(name);
  return raw ? mime::decode_encoded_words(mime::unfold(*raw)) : std::string();
}

std::string file_name_of(const mime::Part& part) {
  if (auto name = part.disposition.params.get("filename")) return *name;
  if (auto name = part.content_type.params.get("name")) return *name;
  return part.content_type.type + "/" + part.content_type.subtype;
}

bool only_whitespace(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return c <= ' '; });
}

// The parts in reading order: multipart/alternative gives its text/plain
// (people's text, not its HTML twin), other multiparts every child, an
// attached message/rfc822 is not opened (what it holds was not written to
// this number).
void collect(const mime::Part& part, std::vector<const mime::Part*>& out) {
  if (part.is_multipart()) {
    if (part.content_type.subtype == "alternative") {
      const auto plain = std::find_if(part.children.begin(), part.children.end(),
                                      [](const mime::Part& c) { return c.content_type.is("text", "plain"); });
      if (plain != part.children.end()) out.push_back(&*plain);
      else if (!part.children.empty()) collect(part.children.front(), out);
      return;
    }
    for (const auto& child : part.children) collect(child, out);
    return;
  }
  out.push_back(&part);
}

// A text/plain body or attached .txt file is laid out as text.
bool is_plain_text(const mime::Part& part) { return part.content_type.is("text", "plain"); }

std::string utf8_text(const mime::Part& part, std::string_view message) {
  const std::string bytes = mime::decode_body(part, message);
  const auto charset = part.content_type.params.get("charset").value_or("us-ascii");
  return mime::charset_to_utf8(bytes, charset).value_or(bytes);
}

unsigned page_count(const std::vector<std::uint8_t>& tiff, std::string_view name, const codecs::FaxLimits& limits) {
  return tiff.empty() ? 0 : static_cast<unsigned>(codecs::inspect_tiff(tiff, name, limits).pages.size());
}

}  // namespace

FaxDocument render_parts(std::span<const DocumentPart> parts, const CoverDetails& details,
                         const DocumentOptions& options) {
  FaxDocument out;
  std::vector<std::vector<std::uint8_t>> documents;
  unsigned pages = 0;  // each document counted once; the join keeps every page
  for (const auto& part : parts) {
    if (part.text) {
      if (only_whitespace(part.bytes)) continue;
      documents.push_back(codecs::render_text_pages(part.bytes, options.text, options.limits));
    } else {
      const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(part.bytes.data()),
                                                part.bytes.size());
      try {
        codecs::detect_fax_input(bytes, part.name);
      } catch (const codecs::CodecError&) {
        throw UnfaxableMessage("5.6.1", part.name + " cannot be faxed: send PDF, TIFF, PNG or JPEG documents");
      }
      documents.push_back(codecs::to_profile_s(bytes, part.name, options.limits));
    }
    const unsigned counted = page_count(documents.back(), part.name, options.limits);
    pages += counted;
    out.parts.push_back(part.name + " (" + std::to_string(counted) + " pages)");
  }
  if (documents.empty())
    throw UnfaxableMessage("5.6.0", "nothing to fax: no text and no PDF, TIFF, PNG or JPEG document");

  if (options.cover_page) {
    ++pages;
    codecs::CoverPage cover;
    cover.from = details.from;
    cover.to = details.to;
    cover.date = details.date;
    cover.subject = details.subject;
    cover.pages = pages;
    documents.insert(documents.begin(), codecs::render_cover_page(cover, options.text));
    out.parts.insert(out.parts.begin(), "cover page");
  }
  out.tiff = codecs::join_fax_documents(documents, options.limits);
  out.pages = pages;
  return out;
}

FaxDocument render_fax(std::string_view message, std::string_view to, const DocumentOptions& options) {
  const mime::Part root = mime::parse_message(message);
  std::vector<const mime::Part*> leaves;
  collect(root, leaves);
  std::deque<std::string> bodies;  // decoded, where the parts point (a deque does not move them)
  std::vector<DocumentPart> parts;
  for (const mime::Part* part : leaves) {
    if (is_plain_text(*part)) {
      bodies.push_back(utf8_text(*part, message));
      parts.push_back({part->disposition.type == "attachment" ? file_name_of(*part) : "text", bodies.back(), true});
      continue;
    }
    // An HTML body (its text/plain twin, when there is one, was taken above).
    if (part->content_type.type == "text" && part->disposition.type != "attachment") continue;
    bodies.push_back(mime::decode_body(*part, message));
    parts.push_back({file_name_of(*part), bodies.back(), false});
  }
  const CoverDetails cover{header_text(root, "From"), mime::format_number_for_people(to), header_text(root, "Date"),
                           header_text(root, "Subject")};
  return render_parts(parts, cover, options);
}

}  // namespace umstore::faxout
