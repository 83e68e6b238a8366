#include "sequence_set.hpp"

#include <algorithm>
#include <cctype>

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxRanges = 100000;

std::optional<std::uint32_t> parse_number(std::string_view s) {
  if (s == "*") return 0u;
  if (s.empty() || s.size() > 10 || s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

}  // namespace

std::optional<SequenceSet> SequenceSet::parse(std::string_view text) {
  SequenceSet set;
  if (text.empty()) return std::nullopt;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto colon = item.find(':');
    Range r;
    if (colon == std::string_view::npos) {
      auto n = parse_number(item);
      if (!n) return std::nullopt;
      r.first = r.last = *n;
    } else {
      auto a = parse_number(item.substr(0, colon));
      auto b = parse_number(item.substr(colon + 1));
      if (!a || !b) return std::nullopt;
      r.first = *a;
      r.last = *b;
    }
    if (set.ranges_.size() >= kMaxRanges) return std::nullopt;
    set.ranges_.push_back(r);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return set;
}

SequenceSet SequenceSet::of(std::span<const std::uint32_t> ascending) {
  SequenceSet set;
  for (const std::uint32_t n : ascending) {
    if (!set.ranges_.empty() && set.ranges_.back().last + 1 == n)
      set.ranges_.back().last = n;
    else
      set.ranges_.push_back({n, n});
  }
  return set;
}

bool SequenceSet::contains(std::uint32_t n, std::uint32_t star) const {
  for (const Range& r : ranges_) {
    std::uint32_t a = r.first == 0 ? star : r.first;
    std::uint32_t b = r.last == 0 ? star : r.last;
    if (a > b) std::swap(a, b);
    if (n >= a && n <= b) return true;
  }
  return false;
}

bool SequenceSet::uses_star() const {
  return std::any_of(ranges_.begin(), ranges_.end(), [](const Range& r) { return r.first == 0 || r.last == 0; });
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> SequenceSet::ranges(std::uint32_t star) const {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const Range& r : ranges_) {
    std::uint32_t a = r.first == 0 ? star : r.first;
    std::uint32_t b = r.last == 0 ? star : r.last;
    if (a > b) std::swap(a, b);
    if (a > 0) out.emplace_back(a, b);  // "*" in an empty mailbox names nothing
  }
  std::sort(out.begin(), out.end());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merged;
  for (const auto& r : out) {
    if (!merged.empty() && static_cast<std::uint64_t>(merged.back().second) + 1 >= r.first)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  }
  return merged;
}

std::string format_uid_set(std::span<const std::uint32_t> values) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
  for (std::uint32_t v : values) {
    if (!ranges.empty() && ranges.back().second + 1 == v)
      ranges.back().second = v;
    else
      ranges.emplace_back(v, v);
  }
  return format_uid_set(ranges);
}

std::string format_uid_set(std::span<const std::pair<std::uint32_t, std::uint32_t>> ranges) {
  std::string out;
  for (const auto& [first, last] : ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(first);
    if (last > first) out += ':' + std::to_string(last);
  }
  return out;
}

}  // namespace umstore::imap
