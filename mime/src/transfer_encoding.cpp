// RFC 2045 §6.7 quoted-printable and §6.8 base64.
#include "ascii.hpp"
#include "mime/message_parser.hpp"

#include <array>
#include <cstdint>

namespace umstore::mime {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> base64_values() {
  std::array<std::int8_t, 256> values{};
  for (auto& v : values) v = -1;
  for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i)
    values[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  return values;
}
constexpr auto kBase64Values = base64_values();

// A quoted-printable line may end in whitespace added by transports; RFC 2045
// says to delete it, so find where the meaningful part of the line stops.
std::size_t end_without_trailing_space(std::string_view text, std::size_t line_begin, std::size_t line_end) {
  while (line_end > line_begin && ascii::is_wsp(text[line_end - 1])) --line_end;
  return line_end;
}

void decode_quoted_printable_line(std::string_view line, std::string& out) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '=') {
      out.push_back(line[i]);
      continue;
    }
    if (i + 1 == line.size()) return;  // soft line break: the caller drops the line end
    if (i + 2 < line.size() && ascii::hex_value(line[i + 1]) >= 0 && ascii::hex_value(line[i + 2]) >= 0) {
      out.push_back(static_cast<char>(ascii::hex_value(line[i + 1]) * 16 + ascii::hex_value(line[i + 2])));
      i += 2;
    } else {
      out.push_back('=');  // malformed: keep literally, as RFC 2045 suggests
    }
  }
}

}  // namespace

std::string base64_encode(std::string_view data, std::size_t line_length) {
  line_length -= line_length % 4;  // whole quanta per line
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 38 + 8);
  std::size_t column = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t group = static_cast<unsigned char>(data[i]) << 16;
    if (n > 1) group |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (n > 2) group |= static_cast<unsigned char>(data[i + 2]);
    if (line_length != 0 && column == line_length) {
      out += "\r\n";
      column = 0;
    }
    out.push_back(kBase64Alphabet[(group >> 18) & 0x3F]);
    out.push_back(kBase64Alphabet[(group >> 12) & 0x3F]);
    out.push_back(n > 1 ? kBase64Alphabet[(group >> 6) & 0x3F] : '=');
    out.push_back(n > 2 ? kBase64Alphabet[group & 0x3F] : '=');
    column += 4;
  }
  if (line_length != 0 && !out.empty()) out += "\r\n";
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t group = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') break;
    const int value = kBase64Values[static_cast<unsigned char>(c)];
    if (value < 0) continue;
    group = (group << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((group >> bits) & 0xFF));
    }
  }
  return out;
}

std::string quoted_printable_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t line_end = text.find('\n', pos);
    const bool has_break = line_end != std::string_view::npos;
    if (!has_break) line_end = text.size();
    const std::size_t content_end = (has_break && line_end > pos && text[line_end - 1] == '\r') ? line_end - 1 : line_end;
    const std::string_view line = text.substr(pos, end_without_trailing_space(text, pos, content_end) - pos);
    decode_quoted_printable_line(line, out);
    const bool soft_break = !line.empty() && line.back() == '=';
    if (has_break && !soft_break) out.append(text.substr(content_end, line_end + 1 - content_end));
    pos = has_break ? line_end + 1 : text.size();
  }
  return out;
}

std::string quoted_printable_encode(std::string_view text) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  constexpr std::size_t kMaxLine = 76;
  std::string out;
  std::size_t column = 0;
  const auto emit = [&](std::string_view piece) {
    if (column + piece.size() > kMaxLine - 1) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      if (!out.empty() && column > 0 && ascii::is_wsp(out.back())) {
        // Trailing whitespace would be stripped in transit: encode it.
        const char space = out.back();
        out.pop_back();
        out += space == ' ' ? "=20" : "=09";
      }
      out += "\r\n";
      column = 0;
      ++i;
    } else if ((byte >= 33 && byte <= 126 && byte != '=') || byte == ' ' || byte == '\t') {
      emit(std::string_view(&text[i], 1));
    } else {
      const char encoded[3] = {'=', kHex[byte >> 4], kHex[byte & 0x0F]};
      emit(std::string_view(encoded, 3));
    }
  }
  if (!out.empty() && ascii::is_wsp(out.back())) {
    const char space = out.back();
    out.pop_back();
    out += space == ' ' ? "=20" : "=09";
  }
  return out;
}

std::string decode_body(const Part& part, std::string_view message) {
  const std::string_view body = part.body(message);
  if (part.transfer_encoding == "base64") return base64_decode(body);
  if (part.transfer_encoding == "quoted-printable") return quoted_printable_decode(body);
  return std::string(body);
}

}  // namespace umstore::mime
