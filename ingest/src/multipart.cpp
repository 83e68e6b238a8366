#include "ingest/multipart.hpp"

#include <algorithm>
#include <cctype>

#include "common/ascii.hpp"

namespace umstore::ingest {
namespace {

// The value of `param` in "form-data; name="file"; filename="a.wav"".
std::string parameter(std::string_view header, std::string_view param) {
  std::size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::string_view rest = trim_blanks(header.substr(pos));
    const auto eq = rest.find('=');
    if (eq == std::string_view::npos) continue;
    if (ascii_lower(trim_blanks(rest.substr(0, eq))) != param) continue;
    std::string_view value = trim_blanks(rest.substr(eq + 1));
    if (value.starts_with('"')) {
      std::string out;
      for (std::size_t i = 1; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        out += value[i];
      }
      return out;
    }
    return std::string(value.substr(0, value.find(';')));
  }
  return {};
}

FormPart parse_part(std::string_view part) {
  const auto end_of_headers = part.find("\r\n\r\n");
  if (end_of_headers == std::string_view::npos) throw MalformedForm("a form part has no blank line after its headers");
  FormPart out;
  out.data = part.substr(end_of_headers + 4);
  std::string_view headers = part.substr(0, end_of_headers);
  while (!headers.empty()) {
    const auto eol = headers.find("\r\n");
    const std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) throw MalformedForm("malformed header in a form part");
    const std::string name = ascii_lower(trim_blanks(line.substr(0, colon)));
    const std::string_view value = trim_blanks(line.substr(colon + 1));
    if (name == "content-disposition") {
      out.name = parameter(value, "name");
      out.filename = parameter(value, "filename");
    } else if (name == "content-type") {
      out.content_type = ascii_lower(value);
    }
  }
  if (out.name.empty()) throw MalformedForm("a form part has no Content-Disposition name");
  return out;
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  const std::string type = ascii_lower(trim_blanks(content_type.substr(0, content_type.find(';'))));
  if (type != "multipart/form-data") return std::nullopt;
  std::string boundary = parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) return std::string();  // present but unusable
  return boundary;
}

std::vector<FormPart> parse_form(std::string_view body, std::string_view boundary, std::size_t max_parts) {
  if (boundary.empty()) throw MalformedForm("multipart/form-data needs a boundary of 1 to 70 characters");
  const std::string delimiter = "--" + std::string(boundary);
  auto pos = body.find(delimiter);
  if (pos == std::string_view::npos) throw MalformedForm("the body does not contain the multipart boundary");
  std::vector<FormPart> parts;
  const std::string next_delimiter = "\r\n" + delimiter;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos).starts_with("--")) return parts;  // the closing delimiter
    const auto line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) throw MalformedForm("the multipart body ends inside a delimiter line");
    const auto start = line_end + 2;
    const auto end = body.find(next_delimiter, start);
    if (end == std::string_view::npos) throw MalformedForm("the multipart body has no closing boundary");
    if (parts.size() == max_parts) throw MalformedForm("too many form parts (at most " + std::to_string(max_parts) + ")");
    parts.push_back(parse_part(body.substr(start, end - start)));
    pos = end + 2;
  }
}

}  // namespace umstore::ingest
