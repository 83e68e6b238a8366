// RFC 5322 unfolding and RFC 2047 encoded-words.
#include "ascii.hpp"
#include "charset.hpp"
#include "mime/message_parser.hpp"

namespace umstore::mime {
namespace {

struct EncodedWord {
  std::string charset;  // without an RFC 2231 "*language" suffix
  std::string bytes;    // decoded, still in charset
  std::size_t end = 0;  // one past the closing "?="
};

std::string decode_q(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out.push_back(' ');
    } else if (text[i] == '=' && i + 2 < text.size() && ascii::hex_value(text[i + 1]) >= 0 &&
               ascii::hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(ascii::hex_value(text[i + 1]) * 16 + ascii::hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Parses "=?charset?B|Q?text?=" starting at pos (which points at "=?").
std::optional<EncodedWord> parse_encoded_word(std::string_view text, std::size_t pos) {
  const std::size_t charset_end = text.find('?', pos + 2);
  if (charset_end == std::string_view::npos || charset_end + 2 >= text.size() || text[charset_end + 2] != '?')
    return std::nullopt;
  const char encoding = ascii_to_lower(text[charset_end + 1]);
  if (encoding != 'b' && encoding != 'q') return std::nullopt;
  const std::size_t payload_begin = charset_end + 3;
  const std::size_t payload_end = text.find("?=", payload_begin);
  if (payload_end == std::string_view::npos) return std::nullopt;
  const std::string_view payload = text.substr(payload_begin, payload_end - payload_begin);
  for (const char c : payload) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return std::nullopt;  // encoded-words hold no whitespace
  }
  std::string_view charset = text.substr(pos + 2, charset_end - pos - 2);
  charset = charset.substr(0, charset.find('*'));
  if (charset.empty()) return std::nullopt;
  EncodedWord word;
  word.charset = std::string(charset);
  word.bytes = encoding == 'b' ? base64_decode(payload) : decode_q(payload);
  word.end = payload_end + 2;
  return word;
}

// Adjacent words in one charset are joined before conversion, because
// senders split multi-byte characters across words.
struct PendingWords {
  std::string charset;
  std::string bytes;
  std::string original;  // shown as is when the charset is unknown

  void flush(std::string& out) {
    if (original.empty()) return;
    if (auto utf8 = charset_to_utf8(bytes, charset)) {
      out += *utf8;
    } else {
      out += original;
    }
    charset.clear();
    bytes.clear();
    original.clear();
  }
};

bool only_whitespace(std::string_view text) {
  for (const char c : text) {
    if (!ascii::is_wsp(c) && c != '\r' && c != '\n') return false;
  }
  return true;
}

bool is_plain_header_char(char c) {
  return (c >= 32 && c <= 126) || c == '\t';
}

// Longest UTF-8 prefix of text that fits max_bytes without splitting a character.
std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  if (cut == 0) return max_bytes;
  // Split after a space when one is near: decoders that wrongly keep the
  // whitespace between encoded-words (Python's phrase parser) then show a
  // double space rather than a space inside a word.
  const std::size_t space = text.substr(0, cut).rfind(' ');
  if (space != std::string_view::npos && space >= cut / 2) return space + 1;
  return cut;
}

}  // namespace

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    if (raw[i] == '\n') continue;
    out.push_back(raw[i]);
  }
  return out;
}

std::string decode_encoded_words(std::string_view input) {
  const std::string text = unfold(input);
  std::string out;
  out.reserve(text.size());
  PendingWords pending;
  std::size_t pos = 0;
  std::size_t gap_begin = 0;  // text since the last encoded word, held back while it is only whitespace
  while (pos < text.size()) {
    const std::size_t start = text.find("=?", pos);
    if (start == std::string::npos) break;
    const auto word = parse_encoded_word(text, start);
    if (!word) {
      pos = start + 2;
      continue;
    }
    const std::string_view gap = std::string_view(text).substr(gap_begin, start - gap_begin);
    const bool adjacent = !pending.original.empty() && only_whitespace(gap);
    if (!adjacent) {
      pending.flush(out);
      out += gap;
    }
    if (adjacent && !ascii_iequals(pending.charset, word->charset)) pending.flush(out);
    if (pending.original.empty()) pending.charset = word->charset;
    pending.bytes += word->bytes;
    pending.original += text.substr(start, word->end - start);
    pos = gap_begin = word->end;
  }
  pending.flush(out);
  out += std::string_view(text).substr(gap_begin);
  return out;
}

std::string encode_header_text(std::string_view utf8) {
  std::string clean;
  clean.reserve(utf8.size());
  bool needs_encoding = false;
  for (const char c : utf8) {
    // CR, LF and other controls would let a caller's text start a new header.
    const bool control = static_cast<unsigned char>(c) < 32 || c == 127;
    clean.push_back(control ? ' ' : c);
    if (!control && !is_plain_header_char(c)) needs_encoding = true;
  }
  if (clean.find("=?") != std::string::npos) needs_encoding = true;  // would be misread as an encoded-word
  if (!needs_encoding) return clean;

  // "=?UTF-8?B?" + 48 base64 chars + "?=" = 60 chars: fits a 76-char line even
  // after a header name such as "Caller-Name: ".
  constexpr std::size_t kBytesPerWord = 36;
  std::string out;
  std::string_view rest = clean;
  while (!rest.empty()) {
    const std::size_t n = utf8_prefix_length(rest, kBytesPerWord);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += base64_encode(rest.substr(0, n), 0);
    out += "?=";
    rest.remove_prefix(n);
  }
  return out;
}

std::string encode_long_header_text(std::string_view utf8, std::size_t max_bytes) {
  std::string text(utf8.substr(0, utf8_prefix_length(utf8, max_bytes)));
  if (text.size() < utf8.size()) {
    const std::size_t blank = text.rfind(' ');
    if (blank != std::string::npos && blank > 0) text.resize(blank);
    text += " ...";
  }
  std::string encoded = encode_header_text(text);
  if (encoded.find("=?") == 0) return encoded;  // encoded-words come folded
  // Plain text: fold before the blank that would take a line past 76
  // (a field name of up to 24 characters comes before the first).
  constexpr std::size_t kLine = 76;
  std::string out;
  std::size_t line = 24;
  std::size_t pos = 0;
  while (pos < encoded.size()) {
    std::size_t end = encoded.find(' ', pos + 1);
    if (end == std::string::npos) end = encoded.size();
    const std::string_view word = std::string_view(encoded).substr(pos, end - pos);  // with its leading blank
    if (!out.empty() && line + word.size() > kLine && word.starts_with(' ')) {
      out += "\r\n";
      line = 0;
    }
    out += word;
    line += word.size();
    pos = end;
  }
  return out;
}

}  // namespace umstore::mime
