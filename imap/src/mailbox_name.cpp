#include "mailbox_name.hpp"
#include "common/ascii.hpp"
#include "common/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "command_parser.hpp"

namespace umstore::imap {
namespace {

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  auto p = kB64.find(c);
  return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

// Decodes one UTF-8 sequence; returns U+FFFD on malformed input.
char32_t next_utf8(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i++]);
  if (b < 0x80) return b;
  int extra = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
  if (extra < 0) return 0xfffd;
  char32_t cp = b & (0x3f >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) return 0xfffd;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3f);
  }
  return cp;
}

void flush_utf16(std::string& out, std::vector<std::uint16_t>& units) {
  if (units.empty()) return;
  out.push_back('&');
  std::uint32_t bits = 0;
  int nbits = 0;
  for (std::uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out.push_back(kB64[(bits >> nbits) & 0x3f]);
    }
  }
  if (nbits > 0) out.push_back(kB64[(bits << (6 - nbits)) & 0x3f]);
  out.push_back('-');
  units.clear();
}

}  // namespace

std::optional<std::string> decode_mutf7(std::string_view wire) {
  std::string out;
  std::size_t i = 0;
  while (i < wire.size()) {
    char c = wire[i];
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return std::nullopt;
    if (c != '&') {
      out.push_back(c);
      ++i;
      continue;
    }
    auto end = wire.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) {
      out.push_back('&');
      i = end + 1;
      continue;
    }
    std::uint32_t bits = 0;
    int nbits = 0;
    std::vector<std::uint16_t> units;
    for (std::size_t k = i + 1; k < end; ++k) {
      int v = b64_value(wire[k]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<std::uint16_t>((bits >> nbits) & 0xffff));
      }
    }
    if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      char32_t cp = units[k];
      if (cp >= 0xd800 && cp < 0xdc00) {
        if (k + 1 >= units.size() || units[k + 1] < 0xdc00 || units[k + 1] >= 0xe000) return std::nullopt;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (units[k + 1] - 0xdc00);
        ++k;
      } else if (cp >= 0xdc00 && cp < 0xe000) {
        return std::nullopt;
      }
      if (cp >= 0x20 && cp <= 0x7e) return std::nullopt;  // must have been written directly
      append_utf8(out, cp);
    }
    i = end + 1;
  }
  return out;
}

std::string encode_mutf7(std::string_view utf8) {
  std::string out;
  std::vector<std::uint16_t> units;
  std::size_t i = 0;
  while (i < utf8.size()) {
    char32_t cp = next_utf8(utf8, i);
    if (cp >= 0x20 && cp <= 0x7e) {
      flush_utf16(out, units);
      if (cp == '&')
        out += "&-";
      else
        out.push_back(static_cast<char>(cp));
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<std::uint16_t>(0xd800 + (cp >> 10)));
      units.push_back(static_cast<std::uint16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      units.push_back(static_cast<std::uint16_t>(cp));
    }
  }
  flush_utf16(out, units);
  return out;
}

std::optional<std::string> pattern_from_wire(std::string_view wire, bool utf8) {
  if (!utf8) return decode_mutf7(wire);
  for (std::size_t i = 0; i < wire.size();)
    if (next_utf8(wire, i) == 0xfffd) return std::nullopt;  // malformed (or a literal U+FFFD, refused too)
  return std::string(wire);
}

std::optional<std::string> mailbox_from_wire(std::string_view wire, bool utf8) {
  auto name = pattern_from_wire(wire, utf8);
  if (!name) return std::nullopt;
  if (name->size() > 1 && name->back() == kHierarchyDelimiter) name->pop_back();
  if (ascii_iequals(*name, "INBOX")) return std::string("INBOX");
  if (name->size() > 6 && ascii_iequals(name->substr(0, 6), "INBOX/")) name->replace(0, 5, "INBOX");
  return name;
}

namespace {
// RFC 3501 §6.3.8 wildcards: '*' matches anything, '%' anything but the
// hierarchy delimiter. Matched as a set of reachable name positions, one
// pattern character at a time: O(pattern x name), whatever the client
// writes. (Backtracking took minutes on "*a*a*a...*b", found by fuzzing.)
// A run of wildcards is one ('*' if it holds one, else '%'), and a pattern
// with more other characters than the name has cannot match, so the work
// is at most O(name^2) per name however long the pattern.
std::string compact_wildcards(std::string_view pattern) {
  std::string out;
  for (const char c : pattern) {
    const bool wild = c == '*' || c == '%';
    if (wild && !out.empty() && (out.back() == '*' || out.back() == '%')) {
      if (c == '*') out.back() = '*';
      continue;
    }
    out += c;
  }
  return out;
}

bool match_from(std::string_view pattern, std::string_view n) {
  const std::string p = compact_wildcards(pattern);
  const auto literals = static_cast<std::size_t>(std::count_if(p.begin(), p.end(), [](char c) { return c != '*' && c != '%'; }));
  if (literals > n.size()) return false;
  std::vector<bool> reach(n.size() + 1, false);
  reach[0] = true;
  std::vector<bool> next(n.size() + 1);
  for (std::size_t j = 0; j < p.size(); ++j) {
    const char c = p[j];
    if (c == '*' || c == '%') {
      // Positions reachable from a reached one without crossing a delimiter
      // ('%'), or at all ('*').
      bool open = false;
      for (std::size_t k = 0; k <= n.size(); ++k) {
        if (c == '%' && k > 0 && n[k - 1] == kHierarchyDelimiter) open = false;
        if (reach[k]) open = true;
        next[k] = open;
      }
    } else {
      next[0] = false;
      for (std::size_t k = 0; k < n.size(); ++k) next[k + 1] = reach[k] && n[k] == c;
    }
    reach.swap(next);
  }
  return reach[n.size()];
}
}  // namespace

bool matches_list_pattern(std::string_view pattern, std::string_view name) {
  // INBOX is case-insensitive: compare an upper-cased "INBOX" prefix on both sides.
  std::string p(pattern);
  std::string n(name);
  auto fold_inbox = [](std::string& s) {
    if (s.size() >= 5 && ascii_iequals(s.substr(0, 5), "INBOX") && (s.size() == 5 || s[5] == kHierarchyDelimiter))
      s.replace(0, 5, "INBOX");
  };
  fold_inbox(p);
  fold_inbox(n);
  return match_from(p, n);
}

}  // namespace umstore::imap
