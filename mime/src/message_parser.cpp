// Offset-based MIME parser: RFC 5322 header sections, RFC 2045 fields and
// RFC 2046 §5.1.1 multipart delimiters. Every Part only records offsets into
// the caller's buffer, so IMAP can slice BODY[...] sections from it.
#include "ascii.hpp"
#include "mime/message_parser.hpp"

#include <algorithm>

namespace umstore::mime {
namespace {

// Longer boundaries break RFC 2046 (max 70); we accept up to a line's worth.
constexpr std::size_t kMaxBoundaryLength = 998;

struct Line {
  std::size_t begin = 0;
  std::size_t content_end = 0;  // before CRLF / LF
  std::size_t end = 0;          // after the line break
};

Line line_at(std::string_view message, std::size_t pos, std::size_t limit) {
  const std::size_t lf = message.find('\n', pos);
  if (lf == std::string_view::npos || lf >= limit) return {pos, limit, limit};
  const std::size_t content_end = (lf > pos && message[lf - 1] == '\r') ? lf - 1 : lf;
  return {pos, content_end, lf + 1};
}

bool is_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 127 && c != ':'; });
}

std::size_t count_lines(std::string_view body) {
  if (body.empty()) return 0;
  const auto breaks = static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n'));
  return body.back() == '\n' ? breaks : breaks + 1;
}

std::vector<std::string> parse_languages(std::string_view value) {
  std::vector<std::string> languages;
  const std::string text = unfold(value);
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view tag = ascii::trim(std::string_view(text).substr(pos, comma - pos));
    tag = ascii::trim(tag.substr(0, tag.find('(')));  // drop comments
    if (!tag.empty()) languages.emplace_back(tag);
    pos = comma + 1;
  }
  return languages;
}

std::string unfolded_trimmed(std::string_view value) { return std::string(ascii::trim(unfold(value))); }

struct Delimiter {
  Line line;
  bool closes = false;
};

class PartParser {
 public:
  PartParser(std::string_view message, const ParseLimits& limits) : message_(message), limits_(limits) {}

  // The root of a body whose header is elsewhere.
  Part parse_body(ContentType type) {
    ++parts_;
    Part part;
    part.body_end = message_.size();
    part.content_type = std::move(type);
    if (part.is_multipart() && limits_.max_depth > 0) split_multipart(part, 0);
    return part;
  }

  Part parse(std::size_t begin, std::size_t end, std::size_t depth, bool in_digest) {
    ++parts_;
    Part part;
    part.header_begin = begin;
    parse_header(part, begin, end);
    part.body_end = end;
    apply_mime_fields(part, in_digest);
    if (is_text_or_message(part)) part.body_lines = count_lines(part.body(message_));
    if (depth < limits_.max_depth) {
      if (part.is_multipart()) {
        split_multipart(part, depth);
      } else if (part.is_message() && !is_encoded(part)) {
        if (parts_ < limits_.max_parts) part.children.push_back(parse(part.body_begin, part.body_end, depth + 1, false));
      }
    }
    return part;
  }

 private:
  static bool is_text_or_message(const Part& part) {
    return part.content_type.type == "text" || part.is_message();
  }

  // RFC 2046 §5.2.1: an encapsulated message may only be 7bit/8bit/binary.
  static bool is_encoded(const Part& part) {
    return part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable";
  }

  void parse_header(Part& part, std::size_t begin, std::size_t end) {
    std::optional<std::size_t> current;  // index of the field a continuation line extends
    std::size_t pos = begin;
    while (pos < end) {
      const Line line = line_at(message_, pos, end);
      pos = line.end;
      if (line.content_end == line.begin) {
        part.body_begin = line.end;
        return;
      }
      if (ascii::is_wsp(message_[line.begin])) {
        if (current) extend_field(part.headers[*current], line);
        continue;
      }
      current.reset();
      const std::string_view text = message_.substr(line.begin, line.content_end - line.begin);
      const std::size_t colon = text.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = text.substr(0, colon);
      while (!name.empty() && ascii::is_wsp(name.back())) name.remove_suffix(1);
      if (!is_field_name(name) || part.headers.size() >= limits_.max_header_fields) continue;
      std::size_t value_begin = line.begin + colon + 1;
      while (value_begin < line.content_end && ascii::is_wsp(message_[value_begin])) ++value_begin;
      part.headers.push_back({name, message_.substr(value_begin, line.content_end - value_begin)});
      current = part.headers.size() - 1;
    }
    part.body_begin = end;  // no empty line: it is all header
  }

  void extend_field(HeaderField& field, const Line& line) const {
    const std::size_t value_begin = static_cast<std::size_t>(field.value.data() - message_.data());
    field.value = message_.substr(value_begin, line.content_end - value_begin);
  }

  void apply_mime_fields(Part& part, bool in_digest) const {
    if (auto value = part.header("Content-Type")) {
      part.content_type = parse_content_type(*value, limits_.max_parameters);
    } else if (in_digest) {
      part.content_type.type = "message";
      part.content_type.subtype = "rfc822";
    } else {
      part.content_type.params.items.emplace_back("charset", "us-ascii");
    }
    // RFC 2046 §4.1.2: text without a charset is US-ASCII; say so, as IMAP servers do.
    if (part.content_type.type == "text" && !part.content_type.params.get("charset"))
      part.content_type.params.items.emplace_back("charset", "us-ascii");
    if (auto value = part.header("Content-Transfer-Encoding")) {
      const std::string encoding = parse_disposition(*value, 0).type;  // one token, comments skipped
      if (!encoding.empty()) part.transfer_encoding = encoding;
    }
    if (auto value = part.header("Content-Disposition")) part.disposition = parse_disposition(*value, limits_.max_parameters);
    if (auto value = part.header("Content-ID")) part.id = unfolded_trimmed(*value);
    if (auto value = part.header("Content-Description")) part.description = unfolded_trimmed(*value);
    if (auto value = part.header("Content-MD5")) part.md5 = unfolded_trimmed(*value);
    if (auto value = part.header("Content-Location")) part.location = unfolded_trimmed(*value);
    if (auto value = part.header("Content-Language")) part.languages = parse_languages(*value);
  }

  // A delimiter line is "--boundary", optionally "--", then transport padding.
  std::optional<Delimiter> delimiter_at(std::size_t pos, std::size_t end, std::string_view dash_boundary) const {
    const Line line = line_at(message_, pos, end);
    std::string_view rest = message_.substr(pos + dash_boundary.size(), line.content_end - pos - dash_boundary.size());
    Delimiter delimiter{line, false};
    if (rest.starts_with("--")) {
      delimiter.closes = true;
      rest.remove_prefix(2);
    }
    const bool padding_only = std::all_of(rest.begin(), rest.end(), [](char c) { return ascii::is_wsp(c); });
    if (!padding_only) return std::nullopt;
    return delimiter;
  }

  std::optional<Delimiter> next_delimiter(std::size_t& pos, std::size_t begin, std::size_t end,
                                          std::string_view dash_boundary) const {
    const std::string_view region = message_.substr(0, end);
    while (pos < end) {
      const std::size_t found = region.find(dash_boundary, pos);
      if (found == std::string_view::npos) break;
      pos = found + 1;
      const bool at_line_start = found == begin || message_[found - 1] == '\n';
      if (!at_line_start) continue;
      if (auto delimiter = delimiter_at(found, end, dash_boundary)) return delimiter;
    }
    pos = end;
    return std::nullopt;
  }

  // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
  std::size_t part_end_before(std::size_t delimiter_begin, std::size_t part_begin) const {
    std::size_t end = delimiter_begin;
    if (end > part_begin && message_[end - 1] == '\n') --end;
    if (end > part_begin && message_[end - 1] == '\r') --end;
    return end;
  }

  void split_multipart(Part& part, std::size_t depth) {
    const auto boundary = part.content_type.params.get("boundary");
    if (!boundary || boundary->empty() || boundary->size() > kMaxBoundaryLength) return;
    const std::string dash_boundary = "--" + *boundary;
    const bool digest = part.content_type.subtype == "digest";
    std::optional<std::size_t> open_part;  // where the current body part began
    std::size_t pos = part.body_begin;
    while (auto delimiter = next_delimiter(pos, part.body_begin, part.body_end, dash_boundary)) {
      if (open_part && !add_child(part, *open_part, part_end_before(delimiter->line.begin, *open_part), depth, digest))
        return;
      if (delimiter->closes) return;  // the epilogue is ignored
      open_part = delimiter->line.end;
      pos = delimiter->line.end;
    }
    if (open_part) add_child(part, *open_part, part.body_end, depth, digest);  // missing close-delimiter
  }

  bool add_child(Part& parent, std::size_t begin, std::size_t end, std::size_t depth, bool digest) {
    if (parts_ >= limits_.max_parts) return false;
    parent.children.push_back(parse(begin, std::max(begin, end), depth + 1, digest));
    return true;
  }

  std::string_view message_;
  const ParseLimits& limits_;
  std::size_t parts_ = 0;
};

}  // namespace

std::optional<std::string_view> Part::header(std::string_view name) const {
  for (const HeaderField& field : headers) {
    if (ascii_iequals(field.name, name)) return field.value;
  }
  return std::nullopt;
}

std::string_view Part::header_text(std::string_view message) const {
  const std::size_t begin = std::min(header_begin, message.size());
  const std::size_t end = std::clamp(body_begin, begin, message.size());
  return message.substr(begin, end - begin);
}

std::string_view Part::body(std::string_view message) const {
  const std::size_t begin = std::min(body_begin, message.size());
  const std::size_t end = std::clamp(body_end, begin, message.size());
  return message.substr(begin, end - begin);
}

Part parse_message(std::string_view message, const ParseLimits& limits) {
  PartParser parser(message, limits);
  return parser.parse(0, message.size(), 0, false);
}

Part parse_body(std::string_view body, ContentType type, const ParseLimits& limits) {
  PartParser parser(body, limits);
  return parser.parse_body(std::move(type));
}

}  // namespace umstore::mime
