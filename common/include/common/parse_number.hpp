#pragma once
// A number that is the whole of a protocol or file field: no sign the type
// cannot hold, no leading blanks, nothing after the digits (std::from_chars,
// so locale-independent).
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace umstore {

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace umstore
