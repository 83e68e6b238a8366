// Content-Type / Content-Disposition values: RFC 2045 §5.1, RFC 2183, and
// RFC 2231 parameter continuations and charsets.
#include "ascii.hpp"
#include "charset.hpp"
#include "mime/message_parser.hpp"

#include <algorithm>
#include <map>

namespace umstore::mime {
namespace {

constexpr std::size_t kMaxCommentDepth = 32;

struct RawParameter {
  std::string name;  // lower-case, still with any RFC 2231 "*N*" suffix
  std::string value;
};

class ValueScanner {
 public:
  explicit ValueScanner(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void advance() { ++pos_; }

  void skip_cfws() {
    while (!at_end()) {
      if (ascii::is_wsp(peek()) || peek() == '\r' || peek() == '\n') {
        ++pos_;
      } else if (peek() == '(') {
        skip_comment();
      } else {
        return;
      }
    }
  }

  std::string_view token() {
    const std::size_t begin = pos_;
    while (!at_end() && ascii::is_token_char(peek())) ++pos_;
    return text_.substr(begin, pos_ - begin);
  }

  std::string quoted_string() {
    std::string out;
    ++pos_;  // opening quote
    while (!at_end() && peek() != '"') {
      if (peek() == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out.push_back(text_[pos_++]);
    }
    if (!at_end()) ++pos_;  // closing quote (tolerate its absence)
    return out;
  }

  // Lenient: real mail has unquoted values with spaces ("name=my file.wav").
  std::string unquoted_value() {
    const std::size_t begin = pos_;
    while (!at_end() && peek() != ';' && peek() != '(' && peek() != '"') ++pos_;
    return std::string(ascii::trim(text_.substr(begin, pos_ - begin)));
  }

  void skip_to_next_parameter() {
    while (!at_end() && peek() != ';') {
      if (peek() == '"') {
        quoted_string();
      } else if (peek() == '(') {
        skip_comment();
      } else {
        ++pos_;
      }
    }
  }

 private:
  void skip_comment() {
    std::size_t depth = 0;
    while (!at_end()) {
      const char c = text_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (c == '(') {
        if (++depth > kMaxCommentDepth) break;
      } else if (c == ')' && --depth == 0) {
        return;
      }
    }
    pos_ = std::min(pos_, text_.size());
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::vector<RawParameter> scan_parameters(ValueScanner& scanner, std::size_t max_parameters) {
  std::vector<RawParameter> raw;
  while (true) {
    scanner.skip_to_next_parameter();
    if (scanner.at_end()) break;
    scanner.advance();  // ';'
    scanner.skip_cfws();
    const std::string name = ascii_lower(scanner.token());
    scanner.skip_cfws();
    if (name.empty() || scanner.peek() != '=') continue;
    scanner.advance();
    scanner.skip_cfws();
    std::string value = scanner.peek() == '"' ? scanner.quoted_string() : scanner.unquoted_value();
    if (raw.size() == max_parameters) break;
    raw.push_back({name, std::move(value)});
  }
  return raw;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        ascii::hex_value(text[i + 1]) >= 0 && ascii::hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(ascii::hex_value(text[i + 1]) * 16 + ascii::hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct Section {
  std::size_t index = 0;
  bool encoded = false;
  std::string value;
};

struct SplitName {
  std::string base;
  std::optional<Section> section;  // set for RFC 2231 names
};

SplitName split_rfc2231_name(const RawParameter& raw, std::size_t max_sections) {
  const std::size_t star = raw.name.find('*');
  if (star == std::string::npos || star == 0) return {raw.name, std::nullopt};
  std::string_view suffix = std::string_view(raw.name).substr(star + 1);
  Section section;
  section.value = raw.value;
  if (!suffix.empty() && suffix.back() == '*') {
    section.encoded = true;
    suffix.remove_suffix(1);
  } else if (suffix.empty()) {
    section.encoded = true;  // "name*=" is an encoded single value
  }
  if (!suffix.empty()) {
    if (suffix.size() > 4 || !std::all_of(suffix.begin(), suffix.end(), ascii::is_digit))
      return {raw.name, std::nullopt};
    section.index = std::stoul(std::string(suffix));
    if (section.index >= max_sections) return {raw.name, std::nullopt};
  }
  return {raw.name.substr(0, star), section};
}

std::string join_sections(std::vector<Section> sections) {
  std::sort(sections.begin(), sections.end(), [](const Section& a, const Section& b) { return a.index < b.index; });
  std::string charset;
  std::string bytes;
  std::size_t expected = 0;
  for (const Section& section : sections) {
    if (section.index != expected) break;  // a gap or duplicate ends the value
    ++expected;
    std::string_view value = section.value;
    if (section.encoded && section.index == 0) {
      const std::size_t first = value.find('\'');
      const std::size_t second = first == std::string_view::npos ? first : value.find('\'', first + 1);
      if (second != std::string_view::npos) {
        charset = std::string(value.substr(0, first));
        value.remove_prefix(second + 1);
      }
    }
    bytes += section.encoded ? percent_decode(value) : std::string(value);
  }
  if (charset.empty()) return bytes;
  return charset_to_utf8(bytes, charset).value_or(bytes);
}

Parameters assemble_parameters(const std::vector<RawParameter>& raw, std::size_t max_parameters) {
  std::vector<std::string> order;
  std::map<std::string, std::string> plain;
  std::map<std::string, std::vector<Section>> extended;
  for (const RawParameter& parameter : raw) {
    SplitName split = split_rfc2231_name(parameter, max_parameters);
    if (std::find(order.begin(), order.end(), split.base) == order.end()) order.push_back(split.base);
    if (split.section) {
      extended[split.base].push_back(std::move(*split.section));
    } else if (!plain.contains(split.base)) {
      plain[split.base] = parameter.value;
    }
  }
  Parameters out;
  for (const std::string& name : order) {
    if (auto it = extended.find(name); it != extended.end()) {
      out.items.emplace_back(name, join_sections(it->second));
    } else {
      const std::string& value = plain[name];
      // Many mailers put RFC 2047 words inside quoted file names; decode them as clients do.
      const bool has_encoded_word = value.find("=?") != std::string::npos && value.find("?=") != std::string::npos;
      out.items.emplace_back(name, has_encoded_word ? decode_encoded_words(value) : value);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> Parameters::get(std::string_view name) const {
  for (const auto& [key, value] : items) {
    if (ascii_iequals(key, name)) return value;
  }
  return std::nullopt;
}

bool ContentType::is(std::string_view t, std::string_view s) const {
  return ascii_iequals(type, t) && ascii_iequals(subtype, s);
}

ContentType parse_content_type(std::string_view value, std::size_t max_parameters) {
  const std::string text = unfold(value);
  ValueScanner scanner(text);
  scanner.skip_cfws();
  const std::string type = ascii_lower(scanner.token());
  scanner.skip_cfws();
  std::string subtype;
  if (scanner.peek() == '/') {
    scanner.advance();
    scanner.skip_cfws();
    subtype = ascii_lower(scanner.token());
  }
  ContentType result;
  if (type.empty() || subtype.empty()) {
    // RFC 2045 §5.2: an unusable Content-Type means plain US-ASCII text.
    result.params.items.emplace_back("charset", "us-ascii");
    return result;
  }
  result.type = type;
  result.subtype = subtype;
  result.params = assemble_parameters(scan_parameters(scanner, max_parameters), max_parameters);
  return result;
}

Disposition parse_disposition(std::string_view value, std::size_t max_parameters) {
  const std::string text = unfold(value);
  ValueScanner scanner(text);
  scanner.skip_cfws();
  Disposition result;
  result.type = ascii_lower(scanner.token());
  result.params = assemble_parameters(scan_parameters(scanner, max_parameters), max_parameters);
  return result;
}

}  // namespace umstore::mime
