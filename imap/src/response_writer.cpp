#include "response_writer.hpp"
#include "common/ascii.hpp"

#include <array>
#include <cctype>
#include <chrono>
#include <algorithm>
#include <ctime>
#include <vector>

#include "command_parser.hpp"
#include "common/rfc5322_date.hpp"

namespace umstore::imap {
namespace {

constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_atom_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > ' ' && u < 0x7f && c != '(' && c != ')' && c != '{' && c != '"' && c != '\\' && c != '%' &&
         c != '*' && c != ']';
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<int> month_index(std::string_view m) {
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (ascii_iequals(kMonths[i], m)) return static_cast<int>(i) + 1;
  return std::nullopt;
}

std::optional<int> digits(std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "d-Mon-yyyy" -> days since the epoch
std::optional<std::int64_t> parse_day(std::string_view text) {
  auto d1 = text.find('-');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = text.find('-', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  std::string_view day_text = text.substr(0, d1);
  while (!day_text.empty() && day_text.front() == ' ') day_text.remove_prefix(1);
  auto day = digits(day_text, 1, 2);
  auto month = month_index(text.substr(d1 + 1, d2 - d1 - 1));
  auto year = digits(text.substr(d2 + 1), 4, 4);
  if (!day || !month || !year || *day < 1 || *day > 31) return std::nullopt;
  return days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
}

}  // namespace

void append_astring(std::string& out, std::string_view s, bool utf8) {
  bool atom = !s.empty() && !ascii_iequals(s, "NIL");
  for (char c : s) atom = atom && is_atom_char(c);
  if (atom)
    out += s;
  else
    append_string(out, s, utf8);
}

std::string format_flags(mailstore::Flags flags, std::span<const std::string> keywords, bool recent) {
  std::string out = "(";
  auto add = [&out](std::string_view f) {
    if (out.size() > 1) out.push_back(' ');
    out += f;
  };
  if (flags & mailstore::kSeen) add("\\Seen");
  if (flags & mailstore::kAnswered) add("\\Answered");
  if (flags & mailstore::kFlagged) add("\\Flagged");
  if (flags & mailstore::kDeleted) add("\\Deleted");
  if (flags & mailstore::kDraft) add("\\Draft");
  if (recent) add("\\Recent");
  for (const auto& k : keywords) add(k);
  out.push_back(')');
  return out;
}

std::string format_internal_date(std::int64_t seconds) {
  return format_imap_date(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

std::optional<std::int64_t> parse_search_date(std::string_view text) {
  auto days = parse_day(text);
  if (!days) return std::nullopt;
  return *days * 86400;
}

std::optional<std::int64_t> parse_written_day(std::string_view text) {
  // [day-name ","] day month year ...: words split at spaces and commas
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < text.size() && words.size() < 4;) {
    const auto end = std::min(text.find_first_of(" \t,", i), text.size());
    if (end > i) words.push_back(text.substr(i, end - i));
    i = end + 1;
  }
  if (!words.empty() && !words[0].empty() && !std::isdigit(static_cast<unsigned char>(words[0][0])))
    words.erase(words.begin());
  if (words.size() < 3) return std::nullopt;
  const auto day = digits(words[0], 1, 2);
  const auto month = month_index(words[1]);
  auto year = digits(words[2], 2, 4);
  if (!day || !month || !year || *day < 1 || *day > 31) return std::nullopt;
  if (words[2].size() < 4) *year += *year < 50 ? 2000 : 1900;  // RFC 5322 §4.3 obsolete years
  return days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400;
}

std::optional<std::int64_t> parse_date_time(std::string_view text) {
  // "dd-Mon-yyyy hh:mm:ss +zzzz", day may be space padded
  if (text.size() < 25) return std::nullopt;
  auto zone_sp = text.rfind(' ');
  auto time_sp = text.rfind(' ', zone_sp - 1);
  if (zone_sp == std::string_view::npos || time_sp == std::string_view::npos) return std::nullopt;
  auto days = parse_day(text.substr(0, time_sp));
  std::string_view time = text.substr(time_sp + 1, zone_sp - time_sp - 1);
  std::string_view zone = text.substr(zone_sp + 1);
  if (!days || time.size() != 8 || time[2] != ':' || time[5] != ':' || zone.size() != 5) return std::nullopt;
  auto hh = digits(time.substr(0, 2), 2, 2), mm = digits(time.substr(3, 2), 2, 2), ss = digits(time.substr(6, 2), 2, 2);
  auto zh = digits(zone.substr(1, 2), 2, 2), zm = digits(zone.substr(3, 2), 2, 2);
  if (!hh || !mm || !ss || !zh || !zm || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  if (*hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  std::int64_t offset = (*zh * 60 + *zm) * 60 * (zone[0] == '-' ? -1 : 1);
  return *days * 86400 + *hh * 3600 + *mm * 60 + *ss - offset;
}

std::optional<mailstore::Flags> system_flag(std::string_view name) {
  if (ascii_iequals(name, "\\Seen")) return mailstore::kSeen;
  if (ascii_iequals(name, "\\Answered")) return mailstore::kAnswered;
  if (ascii_iequals(name, "\\Flagged")) return mailstore::kFlagged;
  if (ascii_iequals(name, "\\Deleted")) return mailstore::kDeleted;
  if (ascii_iequals(name, "\\Draft")) return mailstore::kDraft;
  return std::nullopt;
}

bool is_valid_keyword(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name)
    if (!is_atom_char(c)) return false;
  return true;
}

}  // namespace umstore::imap
