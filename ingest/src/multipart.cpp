#include "ingest/multipart.hpp"

#include "mime/message_parser.hpp"

namespace umstore::ingest {
namespace {

// RFC 2046 §5.1.1.
constexpr std::size_t kMaxBoundary = 70;

// The MIME parser takes a part without the empty line after its header as
// all header (best effort, as mail readers do); a form must have it.
bool header_ended(std::string_view header) { return header.ends_with("\n\r\n") || header.ends_with("\n\n"); }

FormPart form_part(const mime::Part& part, std::string_view body) {
  if (!header_ended(part.header_text(body))) throw MalformedForm("a form part has no blank line after its headers");
  FormPart out;
  out.name = part.disposition.params.get("name").value_or("");
  if (out.name.empty()) throw MalformedForm("a form part has no Content-Disposition name");
  out.filename = part.disposition.params.get("filename").value_or("");
  if (part.header("Content-Type")) out.content_type = part.content_type.type + "/" + part.content_type.subtype;
  out.data = part.body(body);
  return out;
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  const mime::ContentType type = mime::parse_content_type(content_type);
  if (!type.is("multipart", "form-data")) return std::nullopt;
  std::string boundary = type.params.get("boundary").value_or("");
  if (boundary.size() > kMaxBoundary) return std::string();  // present but unusable
  return boundary;
}

std::vector<FormPart> parse_form(std::string_view body, std::string_view boundary, std::size_t max_parts) {
  if (boundary.empty() || boundary.size() > kMaxBoundary)
    throw MalformedForm("multipart/form-data needs a boundary of 1 to 70 characters");
  mime::ContentType type;
  type.type = "multipart";
  type.subtype = "form-data";
  type.params.items.emplace_back("boundary", std::string(boundary));
  // One level: a part is a field or a file, never split further. The root
  // counts as a part, and one part more than allowed says there are too many.
  mime::ParseLimits limits;
  limits.max_depth = 1;
  limits.max_parts = max_parts + 2;
  const mime::Part form = mime::parse_body(body, std::move(type), limits);
  if (form.children.empty()) throw MalformedForm("the body does not contain the multipart boundary");
  if (form.children.size() > max_parts)
    throw MalformedForm("too many form parts (at most " + std::to_string(max_parts) + ")");
  // Without the close-delimiter the last part runs to the end of the body.
  if (form.children.back().body_end == body.size()) throw MalformedForm("the multipart body has no closing boundary");
  std::vector<FormPart> parts;
  parts.reserve(form.children.size());
  for (const mime::Part& part : form.children) parts.push_back(form_part(part, body));
  return parts;
}

}  // namespace umstore::ingest
