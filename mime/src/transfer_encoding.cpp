// RFC 2045 §6.7 quoted-printable and §6.8 base64.
#include "ascii.hpp"
#include "mime/message_parser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

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

// Two output characters per 12 input bits: half the lookups of one per 6.
constexpr std::array<std::array<char, 2>, 4096> base64_pairs() {
  std::array<std::array<char, 2>, 4096> pairs{};
  for (std::size_t i = 0; i < pairs.size(); ++i) pairs[i] = {kBase64Alphabet[i >> 6], kBase64Alphabet[i & 0x3F]};
  return pairs;
}
constexpr auto kBase64Pairs = base64_pairs();

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

std::size_t base64_encoded_size(std::size_t data_size, std::size_t line_length) {
  line_length -= line_length % 4;
  const std::size_t chars = (data_size + 2) / 3 * 4;
  const std::size_t lines = line_length == 0 ? 0 : (chars + line_length - 1) / line_length;
  return chars + 2 * lines;
}

std::string base64_encode(std::string_view data, std::size_t line_length) {
  std::string out;
  append_base64(out, data, line_length);
  return out;
}

void append_base64(std::string& out, std::string_view data, std::size_t line_length) {
  line_length -= line_length % 4;  // whole quanta per line
  // Every line, the last one too, ends in CRLF; the size is known up front,
  // so the output is written in place (recordings make this megabytes).
  const std::size_t start = out.size();
  out.resize(start + base64_encoded_size(data.size(), line_length));
  char* to = out.data() + start;
  const auto* from = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char* const whole_end = from + data.size() / 3 * 3;
  const std::size_t quanta_per_line = line_length == 0 ? SIZE_MAX : line_length / 4;
  const auto end_line = [&to] {
    *to++ = '\r';
    *to++ = '\n';
  };
  std::size_t quanta_in_line = 0;
  while (from < whole_end) {
    const std::size_t quanta =
        std::min<std::size_t>(quanta_per_line - quanta_in_line, static_cast<std::size_t>(whole_end - from) / 3);
    for (std::size_t q = 0; q < quanta; ++q, from += 3, to += 4) {
      const std::uint32_t group = (std::uint32_t{from[0]} << 16) | (std::uint32_t{from[1]} << 8) | from[2];
      std::memcpy(to, kBase64Pairs[group >> 12].data(), 2);
      std::memcpy(to + 2, kBase64Pairs[group & 0xFFF].data(), 2);
    }
    quanta_in_line += quanta;
    if (quanta_in_line == quanta_per_line) {
      end_line();
      quanta_in_line = 0;
    }
  }
  const std::size_t rest = data.size() % 3;
  if (rest != 0) {
    const std::uint32_t group = (std::uint32_t{from[0]} << 16) | (rest > 1 ? std::uint32_t{from[1]} << 8 : 0u);
    *to++ = kBase64Alphabet[group >> 18];
    *to++ = kBase64Alphabet[(group >> 12) & 0x3F];
    *to++ = rest > 1 ? kBase64Alphabet[(group >> 6) & 0x3F] : '=';
    *to++ = '=';
    ++quanta_in_line;
  }
  if (line_length != 0 && quanta_in_line != 0) end_line();
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
