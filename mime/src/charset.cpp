#include "charset.hpp"

#include "ascii.hpp"
#include "common/utf8.hpp"

#include <array>

namespace umstore::mime {
namespace {

enum class Charset { utf8, latin1, latin9, windows1252 };

std::optional<Charset> charset_from_name(std::string_view name) {
  const std::string lower = ascii_lower(ascii::trim(name));
  if (lower == "utf-8" || lower == "utf8" || lower == "us-ascii" || lower == "ascii") return Charset::utf8;
  if (lower == "iso-8859-1" || lower == "iso_8859-1" || lower == "latin1" || lower == "l1" ||
      lower == "iso8859-1")
    return Charset::latin1;
  if (lower == "iso-8859-15" || lower == "iso_8859-15" || lower == "latin-9" || lower == "iso8859-15")
    return Charset::latin9;
  if (lower == "windows-1252" || lower == "cp1252" || lower == "x-cp1252") return Charset::windows1252;
  return std::nullopt;
}

// windows-1252 0x80..0x9F; holes map to the C1 control of the same value.
constexpr std::array<char32_t, 32> kWindows1252High{
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

char32_t latin9_code_point(unsigned char byte) {
  switch (byte) {
    case 0xA4: return 0x20AC;
    case 0xA6: return 0x0160;
    case 0xA8: return 0x0161;
    case 0xB4: return 0x017D;
    case 0xB8: return 0x017E;
    case 0xBC: return 0x0152;
    case 0xBD: return 0x0153;
    case 0xBE: return 0x0178;
    default: return byte;
  }
}

char32_t code_point(unsigned char byte, Charset charset) {
  if (charset == Charset::windows1252 && byte >= 0x80 && byte <= 0x9F) return kWindows1252High[byte - 0x80];
  if (charset == Charset::latin9) return latin9_code_point(byte);
  return byte;
}

}  // namespace

std::optional<std::string> charset_to_utf8(std::string_view bytes, std::string_view charset) {
  const auto known = charset_from_name(charset);
  if (!known) return std::nullopt;
  if (*known == Charset::utf8) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  for (const char c : bytes) append_utf8(out, code_point(static_cast<unsigned char>(c), *known));
  return out;
}

}  // namespace umstore::mime
