#include "common/rfc5322_date.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <ctime>
#include <strings.h>

namespace umstore {
namespace {
constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::tm broken_down(SystemTime when, int offset_minutes) {
  std::time_t t = std::chrono::system_clock::to_time_t(when) + offset_minutes * 60;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string offset_text(int offset_minutes) {
  char sign = offset_minutes < 0 ? '-' : '+';
  int m = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  return fmt::format("{}{:02}{:02}", sign, m / 60, m % 60);
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  void skip_cfws() {
    while (pos_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == ',') {
        ++pos_;
      } else if (s_[pos_] == '(') {
        int depth = 0;
        while (pos_ < s_.size()) {
          if (s_[pos_] == '(') ++depth;
          if (s_[pos_] == ')' && --depth == 0) { ++pos_; break; }
          ++pos_;
        }
      } else {
        break;
      }
    }
  }
  std::string_view word() {
    skip_cfws();
    size_t b = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '+' || s_[pos_] == '-'))
      ++pos_;
    return s_.substr(b, pos_ - b);
  }
  static constexpr std::size_t kMaxDigits = 9;
  std::optional<int> number(char after = 0) {
    skip_cfws();
    size_t b = pos_;
    int v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (pos_ - b < kMaxDigits) v = v * 10 + (s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == b || pos_ - b > kMaxDigits) return std::nullopt;  // no date field has more: and no int overflow
    if (after) {
      if (pos_ >= s_.size() || s_[pos_] != after) return std::nullopt;
      ++pos_;
    }
    return v;
  }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void advance() { ++pos_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::optional<int> zone_minutes(std::string_view z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
    for (char c : z.substr(1))
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    int v = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[3] - '0') * 10 + (z[4] - '0');
    return z[0] == '-' ? -v : v;
  }
  static constexpr std::pair<std::string_view, int> kZones[] = {
      {"UT", 0}, {"GMT", 0}, {"Z", 0}, {"EST", -300}, {"EDT", -240}, {"CST", -360},
      {"CDT", -300}, {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420}};
  for (auto [name, off] : kZones)
    if (z == name) return off;
  return 0;  // RFC 5322: unknown zones are treated as -0000
}
}  // namespace

std::string format_rfc5322_date(SystemTime when, int utc_offset_minutes) {
  std::tm tm = broken_down(when, utc_offset_minutes);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} {}", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, offset_text(utc_offset_minutes));
}

std::string format_imap_date(SystemTime when) {
  std::tm tm = broken_down(when, 0);
  return fmt::format("{:02}-{}-{:04} {:02}:{:02}:{:02} +0000", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::optional<SystemTime> parse_rfc5322_date(std::string_view text) {
  Scanner sc(text);
  std::string_view first = sc.word();
  std::optional<int> day;
  if (!first.empty() && std::isalpha(static_cast<unsigned char>(first[0]))) {
    day = sc.number();
  } else {
    if (first.size() > Scanner::kMaxDigits) return std::nullopt;
    int v = 0;
    for (char c : first) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      v = v * 10 + (c - '0');
    }
    if (!first.empty()) day = v;
  }
  if (!day) return std::nullopt;
  std::string_view mon = sc.word();
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (mon.size() >= 3 && ::strncasecmp(mon.data(), kMonths[static_cast<size_t>(i)], 3) == 0) month = i;
  auto year = sc.number();
  auto hour = sc.number(':');
  auto minute = sc.number();
  int second = 0;
  if (sc.at(':')) {
    sc.advance();
    auto sec = sc.number();
    if (!sec) return std::nullopt;
    second = *sec;
  }
  if (month < 0 || !year || !hour || !minute) return std::nullopt;
  std::string_view rest = sc.word();
  int y = *year < 50 ? *year + 2000 : (*year < 1000 ? *year + 1900 : *year);
  auto zone = zone_minutes(rest);
  if (!zone) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm) - *zone * 60;
  // system_clock counts nanoseconds in 64 bits (years 1677 to 2262): a
  // date outside that (found by fuzzing: year 4050) is no date it can hold.
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 86400;
  if (t > kLimit || t < -kLimit) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace umstore
