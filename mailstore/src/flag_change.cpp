#include "flag_change.hpp"

#include <algorithm>

#include "common/ascii.hpp"

namespace umstore::mailstore::detail {
namespace {

bool has_keyword(std::span<const std::string> list, std::string_view keyword) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& k) { return ascii_iequals(k, keyword); });
}

[[noreturn]] void too_many_keywords() {
  throw InvalidKeyword("a message can carry at most " + std::to_string(kMaxKeywordsPerMessage) + " keywords");
}

}  // namespace

void validate_keywords(std::span<const std::string> keywords) {
  if (keywords.size() > kMaxKeywordsPerMessage) too_many_keywords();
  for (const auto& keyword : keywords) {
    if (keyword.empty() || keyword.size() > kMaxKeywordLength)
      throw InvalidKeyword("keywords must be 1 to " + std::to_string(kMaxKeywordLength) + " characters long");
    for (const char c : keyword) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7F || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos)
        throw InvalidKeyword("\"" + keyword + "\" is not a valid keyword: use letters, digits and $ only, e.g. $Forwarded");
    }
  }
}

std::vector<std::string> unique_keywords(std::span<const std::string> keywords) {
  std::vector<std::string> out;
  for (const auto& k : keywords)
    if (!has_keyword(out, k)) out.push_back(k);
  return out;
}

FlagsAndKeywords changed_flags(Flags old_flags, const std::vector<std::string>& old_keywords, FlagChange how,
                               Flags flags, std::span<const std::string> keywords) {
  switch (how) {
    case FlagChange::Add: {
      std::vector<std::string> out = old_keywords;
      for (const auto& k : keywords)
        if (!has_keyword(out, k)) out.push_back(k);
      if (out.size() > kMaxKeywordsPerMessage) too_many_keywords();
      return {static_cast<Flags>(old_flags | flags), std::move(out)};
    }
    case FlagChange::Remove: {
      std::vector<std::string> out = old_keywords;
      std::erase_if(out, [&](const std::string& k) { return has_keyword(keywords, k); });
      return {static_cast<Flags>(old_flags & ~flags), std::move(out)};
    }
    case FlagChange::Replace:
      break;
  }
  return {flags, unique_keywords(keywords)};
}

}  // namespace umstore::mailstore::detail
