#pragma once
// MIME's ASCII character classes; case folding and comparison are common/ascii.hpp's.
#include <string>
#include <string_view>

#include "common/ascii.hpp"

namespace umstore::mime::ascii {

constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 2045 token characters: printable ASCII minus SP and tspecials.
constexpr bool is_token_char(char c) {
  if (c <= ' ' || c >= 127) return false;
  for (char special : std::string_view("()<>@,;:\\\"/[]?=")) {
    if (c == special) return false;
  }
  return true;
}

// Printable ASCII only (no controls, no 8-bit).
inline bool is_printable(std::string_view text) {
  for (const char c : text)
    if (c < 32 || c >= 127) return false;
  return true;
}

// Control characters (CR, LF, TAB...) as spaces: for text placed in a header or a single line.
inline std::string without_controls(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  return out;
}

inline std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace umstore::mime::ascii
