#pragma once
// multipart/form-data (RFC 7578) over a body already in memory, split by
// the MIME parser all mail goes through (mime::parse_body: form-data is
// MIME multipart) and held to a form's stricter rules: parts are views
// into the body, nothing is copied.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::ingest {

struct FormPart {
  std::string name;          // from Content-Disposition
  std::string filename;      // empty for plain fields
  std::string content_type;  // empty when the part has none
  std::string_view data;
};

class MalformedForm : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The boundary parameter of a multipart/form-data Content-Type, or nullopt
// when the type is something else.
std::optional<std::string> form_boundary(std::string_view content_type);

// Throws MalformedForm (with what is wrong) for a body that does not follow
// the boundary, or has more than max_parts parts.
std::vector<FormPart> parse_form(std::string_view body, std::string_view boundary, std::size_t max_parts = 32);

}  // namespace umstore::ingest
