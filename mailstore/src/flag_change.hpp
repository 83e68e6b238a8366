#pragma once
// Flag and keyword algebra any backend applies the same way (internal):
// which keywords are valid, and what a STORE-like change makes of a
// message's flags and keywords. Keywords compare case-insensitively.
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

inline constexpr std::size_t kMaxKeywordLength = 128;
inline constexpr std::size_t kMaxKeywordsPerMessage = 64;

// Throws InvalidKeyword unless each is an IMAP atom (RFC 3501 flag-keyword)
// of 1..kMaxKeywordLength characters, at most kMaxKeywordsPerMessage of them.
void validate_keywords(std::span<const std::string> keywords);
// The keywords in order, each kept once.
std::vector<std::string> unique_keywords(std::span<const std::string> keywords);

struct FlagsAndKeywords {
  Flags flags = 0;
  std::vector<std::string> keywords;
};
// A message's flags and keywords after `how` with `flags` and `keywords`;
// throws InvalidKeyword when the message would carry too many keywords.
FlagsAndKeywords changed_flags(Flags old_flags, const std::vector<std::string>& old_keywords, FlagChange how,
                               Flags flags, std::span<const std::string> keywords);

}  // namespace umstore::mailstore::detail
