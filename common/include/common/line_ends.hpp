#pragma once
// Line ends of mail: CRLF on the wire and in the store (RFC 5322), while
// clients and files sometimes bring bare LF.
#include <string>
#include <string_view>

namespace umstore {

inline bool has_bare_lf(std::string_view text) {
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    if (i == 0 || text[i - 1] != '\r') return true;
  }
  return false;
}

// `text` with CRLF for every bare LF (CRLF already there stays as it is).
inline std::string with_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

}  // namespace umstore
