// Numbers and durations as people read them, shared by subjects and text parts.
#include "ascii.hpp"
#include "mime/voice_message.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace umstore::mime {
namespace {

// ITU-T E.164 country codes with one or two digits; the rest have three.
constexpr std::array<std::string_view, 41> kShortCountryCodes{
    "1",  "7",  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43",
    "44", "45", "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58",
    "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91"};
constexpr std::array<std::string_view, 5> kMoreShortCountryCodes{"92", "93", "94", "95", "98"};

std::size_t country_code_length(std::string_view digits) {
  for (const auto code : kShortCountryCodes) {
    if (digits.starts_with(code)) return code.size();
  }
  for (const auto code : kMoreShortCountryCodes) {
    if (digits.starts_with(code)) return code.size();
  }
  return 3;
}

// Groups of three from the left and the last four together: "613 555 0142".
std::string group_national_number(std::string_view digits) {
  if (digits.size() <= 4) return std::string(digits);
  const std::string_view head = digits.substr(0, digits.size() - 4);
  std::string out;
  for (std::size_t i = 0; i < head.size(); i += 3) {
    out += head.substr(i, 3);
    out.push_back(' ');
  }
  out += digits.substr(digits.size() - 4);
  return out;
}

}  // namespace

long long content_duration_seconds(double seconds) {
  constexpr double kMax = 2147483647.0;
  if (!(seconds > 0)) return 0;  // also catches NaN
  // A millisecond of slack keeps 23.0000001 (float noise) at 23.
  const double rounded = std::ceil(seconds - 0.001);
  return static_cast<long long>(std::clamp(rounded, 1.0, kMax));
}

std::string format_duration(double seconds) {
  const long long total = content_duration_seconds(seconds);
  const long long hours = total / 3600;
  const long long minutes = (total / 60) % 60;
  const long long secs = total % 60;
  const auto two_digits = [](long long v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (hours > 0) return std::to_string(hours) + ":" + two_digits(minutes) + ":" + two_digits(secs);
  return std::to_string(minutes) + ":" + two_digits(secs);
}

std::string format_number_for_people(std::string_view e164) {
  if (e164.size() < 3 || e164.front() != '+') return std::string(e164);
  const std::string_view digits = e164.substr(1);
  if (!std::all_of(digits.begin(), digits.end(), ascii::is_digit)) return std::string(e164);
  const std::size_t cc = std::min(country_code_length(digits), digits.size() - 1);
  return "+" + std::string(digits.substr(0, cc)) + " " + group_national_number(digits.substr(cc));
}

}  // namespace umstore::mime
