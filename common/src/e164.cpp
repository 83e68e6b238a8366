#include "common/e164.hpp"

#include <cctype>

namespace umstore {

bool is_e164(std::string_view number) noexcept {
  if (number.size() < 3 || number.size() > 16 || number.front() != '+') return false;
  if (number[1] == '0') return false;
  for (char c : number.substr(1))
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<std::string> normalise_e164(std::string_view written) {
  if (written.starts_with("tel:")) written.remove_prefix(4);
  std::string out;
  for (char c : written) {
    if (c == '+' && out.empty()) out.push_back(c);
    else if (std::isdigit(static_cast<unsigned char>(c))) out.push_back(c);
    else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    else return std::nullopt;
  }
  if (!is_e164(out)) return std::nullopt;
  return out;
}

std::string e164_digits(std::string_view number) {
  std::string out;
  for (char c : number)
    if (c >= '0' && c <= '9') out.push_back(c);
  return out;
}

}  // namespace umstore
