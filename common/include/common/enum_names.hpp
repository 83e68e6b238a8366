#pragma once
// An enum's names in config files, the account database and the CLI, kept
// in one table per enum so that printing and parsing cannot disagree.
#include <optional>
#include <string_view>
#include <utility>

namespace umstore {

template <typename Enum>
using EnumName = std::pair<Enum, std::string_view>;

// The name of `value`; every value has a row in `names`.
template <typename Enum, std::size_t N>
constexpr std::string_view name_of(const EnumName<Enum> (&names)[N], Enum value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return names[0].second;
}

// The value called exactly `name`, if any.
template <typename Enum, std::size_t N>
constexpr std::optional<Enum> value_named(const EnumName<Enum> (&names)[N], std::string_view name) {
  for (const auto& [v, n] : names)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace umstore
