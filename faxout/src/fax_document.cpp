#include "faxout/fax_document.hpp"

#include <algorithm>

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

FaxDocument render_fax(std::string_view message, std::string_view to, const DocumentOptions& options) {
  const mime::Part root = mime::parse_message(message);
  std::vector<const mime::Part*> parts;
  collect(root, parts);

  FaxDocument out;
  std::vector<std::vector<std::uint8_t>> documents;
  for (const mime::Part* part : parts) {
    if (is_plain_text(*part)) {
      const std::string text = utf8_text(*part, message);
      if (only_whitespace(text)) continue;
      documents.push_back(codecs::render_text_pages(text, options.text, options.limits));
      out.parts.push_back("text (" + std::to_string(page_count(documents.back(), "text", options.limits)) + " pages)");
      continue;
    }
    // An HTML body (its text/plain twin, when there is one, was taken above).
    if (part->content_type.type == "text" && part->disposition.type != "attachment") continue;
    const std::string name = file_name_of(*part);
    const std::string body = mime::decode_body(*part, message);
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    try {
      codecs::detect_fax_input(bytes, name);
    } catch (const codecs::CodecError&) {
      throw UnfaxableMessage("5.6.1", "the attachment " + name + " (" + part->content_type.type + "/" +
                                          part->content_type.subtype +
                                          ") cannot be faxed: send PDF, TIFF, PNG or JPEG documents");
    }
    documents.push_back(codecs::to_profile_s(bytes, name, options.limits));
    out.parts.push_back(name + " (" + std::to_string(page_count(documents.back(), name, options.limits)) + " pages)");
  }
  if (documents.empty())
    throw UnfaxableMessage("5.6.0", "nothing to fax: the message has no text and no PDF, TIFF, PNG or JPEG attachment");

  if (options.cover_page) {
    unsigned pages = 1;
    for (const auto& d : documents) pages += page_count(d, "page", options.limits);
    codecs::CoverPage cover;
    cover.from = header_text(root, "From");
    cover.to = mime::format_number_for_people(to);
    cover.date = header_text(root, "Date");
    cover.subject = header_text(root, "Subject");
    cover.pages = pages;
    documents.insert(documents.begin(), codecs::render_cover_page(cover, options.text));
    out.parts.insert(out.parts.begin(), "cover page");
  }
  out.tiff = codecs::join_fax_documents(documents, options.limits);
  out.pages = page_count(out.tiff, "fax", options.limits);
  return out;
}

}  // namespace umstore::faxout
