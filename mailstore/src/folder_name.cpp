#include "mailstore/folder_name.hpp"

#include <algorithm>
#include <cstdint>

#include "common/utf8.hpp"
#include "mailstore/folder.hpp"

namespace umstore::mailstore {
namespace {

constexpr char kHierarchy = '/';
constexpr char kDirectorySeparator = '.';

bool is_safe(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' || c == '_' ||
         c == '+' || c == ',' || c == '=' || c == '-';
}

void check_characters(std::string_view name) {
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == 0) throw InvalidFolderName("folder names cannot contain NUL characters");
    if (c < 0x20 || c == 0x7F) throw InvalidFolderName("folder names cannot contain control characters");
    const std::size_t len = utf8_sequence_length(name.substr(i));
    if (len == 0) throw InvalidFolderName("the folder name is not valid UTF-8");
    i += len;
  }
}

void check_components(std::string_view name) {
  if (name.front() == kHierarchy)
    throw InvalidFolderName("folder names cannot start with \"/\": write them relative to the mailbox, e.g. \"Archive\"");
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(name.find(kHierarchy, start), name.size());
    const std::string_view part = name.substr(start, end - start);
    if (part.empty()) throw InvalidFolderName("folder names cannot contain empty levels (\"//\" or a trailing \"/\")");
    if (part == "." || part == "..") throw InvalidFolderName("folder names cannot contain \".\" or \"..\" levels");
    if (end == name.size()) return;
    start = end + 1;
  }
}

bool equals_inbox(std::string_view s) {
  return s.size() == 5 && std::equal(s.begin(), s.end(), "INBOX", [](char a, char b) {
           return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case would give a second spelling of the same name
}

}  // namespace

std::string canonical_folder_name(std::string_view name) {
  if (name.empty()) throw InvalidFolderName("the folder name is empty");
  check_characters(name);
  check_components(name);
  std::string canonical(name);
  const std::string_view first = name.substr(0, name.find(kHierarchy));
  if (equals_inbox(first)) canonical.replace(0, 5, "INBOX");
  if (folder_directory_name(canonical).size() > kMaxFolderDirectoryName)
    throw InvalidFolderName("the folder name is too long; use a shorter name");
  return canonical;
}

bool is_inbox(std::string_view canonical_name) noexcept { return canonical_name == "INBOX"; }

std::string folder_directory_name(std::string_view canonical_name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(canonical_name.size());
  for (const char ch : canonical_name) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == kHierarchy) {
      out += kDirectorySeparator;
    } else if (is_safe(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> folder_name_from_directory(std::string_view directory_name) {
  std::string name;
  for (std::size_t i = 0; i < directory_name.size(); ++i) {
    const char ch = directory_name[i];
    if (ch == kDirectorySeparator) {
      name += kHierarchy;
    } else if (ch == '%') {
      if (i + 2 >= directory_name.size()) return std::nullopt;
      const int hi = hex_value(directory_name[i + 1]);
      const int lo = hex_value(directory_name[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      if (is_safe(decoded) || decoded == kHierarchy) return std::nullopt;  // not how we would write it
      name += static_cast<char>(decoded);
      i += 2;
    } else if (is_safe(static_cast<unsigned char>(ch))) {
      name += ch;
    } else {
      return std::nullopt;
    }
  }
  try {
    if (canonical_folder_name(name) != name) return std::nullopt;
  } catch (const InvalidFolderName&) {
    return std::nullopt;
  }
  return name;
}

}  // namespace umstore::mailstore
