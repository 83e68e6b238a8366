#pragma once
// Sequence sets ("1:4,7,9:*") for message numbers and UIDs (RFC 3501 §9).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umstore::imap {

class SequenceSet {
 public:
  static std::optional<SequenceSet> parse(std::string_view text);
  // The set of exactly these numbers, ascending (none: an empty set).
  static SequenceSet of(std::span<const std::uint32_t> ascending);

  // `star` is the value "*" stands for (largest number in use; 0 when none).
  bool contains(std::uint32_t n, std::uint32_t star) const;
  bool uses_star() const;
  // The numbers it names as ascending, disjoint, non-adjacent [first, last] ranges.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges(std::uint32_t star) const;

 private:
  struct Range {
    std::uint32_t first = 0;  // 0 stands for "*"
    std::uint32_t last = 0;
  };
  std::vector<Range> ranges_;
};

// "1:3,5" from values in ascending order (COPYUID, APPENDUID, VANISHED).
std::string format_uid_set(std::span<const std::uint32_t> values);
// The same from ascending, disjoint ranges.
std::string format_uid_set(std::span<const std::pair<std::uint32_t, std::uint32_t>> ranges);

}  // namespace umstore::imap
