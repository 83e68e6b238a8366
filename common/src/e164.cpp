#include "common/e164.hpp"

namespace umstore {
namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr bool is_separator(char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }

}  // namespace

bool is_e164(std::string_view number) noexcept {
  if (number.size() < 3 || number.size() > 16 || number.front() != '+') return false;
  if (number[1] == '0') return false;
  for (char c : number.substr(1))
    if (!is_digit(c)) return false;
  return true;
}

std::string dialled_digits(std::string_view written) {
  if (written.starts_with("tel:")) written.remove_prefix(4);
  written = written.substr(0, written.find(';'));
  std::string out;
  for (const char c : written) {
    if (is_digit(c) || (c == '+' && out.empty())) out.push_back(c);
    else if (!is_separator(c)) return {};
  }
  return out == "+" ? std::string() : out;
}

std::optional<std::string> normalise_e164(std::string_view written, PlusSign plus) {
  std::string number = dialled_digits(written);
  if (plus == PlusSign::optional && !number.empty() && number.front() != '+') number.insert(0, 1, '+');
  if (!is_e164(number)) return std::nullopt;
  return number;
}

std::string e164_digits(std::string_view number) {
  std::string out;
  for (char c : number)
    if (is_digit(c)) out.push_back(c);
  return out;
}

}  // namespace umstore
