// Numbers, durations, texts and attachment names as people read them: see
// mime/people_text.hpp. Numbers are grouped by libphonenumber (Google's
// per-country metadata, Debian's libphonenumber): grouping rules differ by
// country and change, and hand-made rules got most of the world wrong.
#include "mime/people_text.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cmath>
#include <ranges>
#include <string>
#include <vector>

#include "ascii.hpp"
#include "common/e164.hpp"
#include "common/line_ends.hpp"

namespace umstore::mime {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxFilenameLabelBytes = 40;

std::string two_digits(unsigned value) { return (value < 10 ? "0" : "") + std::to_string(value); }

struct LocalTime {
  std::chrono::year_month_day date;
  std::chrono::hh_mm_ss<std::chrono::seconds> time;
};

LocalTime local_time(SystemTime when, int utc_offset_minutes) {
  const auto local = std::chrono::floor<std::chrono::seconds>(when) + std::chrono::minutes(utc_offset_minutes);
  const auto day = std::chrono::floor<std::chrono::days>(local);
  return {std::chrono::year_month_day(day), std::chrono::hh_mm_ss<std::chrono::seconds>(local - day)};
}

// "2026-12-05-1423", for file names: sorts by time, no characters any file system refuses.
std::string file_name_time(SystemTime when, int utc_offset_minutes) {
  const LocalTime t = local_time(when, utc_offset_minutes);
  return std::to_string(static_cast<int>(t.date.year())) + "-" + two_digits(static_cast<unsigned>(t.date.month())) +
         "-" + two_digits(static_cast<unsigned>(t.date.day())) + "-" +
         two_digits(static_cast<unsigned>(t.time.hours().count())) +
         two_digits(static_cast<unsigned>(t.time.minutes().count()));
}

// "Sat 21 Nov 2026 19:40 +0000": the RFC 5322 date without comma and seconds.
std::string readable_time(SystemTime when, int utc_offset_minutes) {
  std::string text = format_rfc5322_date(when, utc_offset_minutes);
  if (const auto comma = text.find(','); comma != std::string::npos) text.erase(comma, 1);
  const auto first_colon = text.find(':');
  if (first_colon != std::string::npos) {
    const auto second_colon = text.find(':', first_colon + 1);
    if (second_colon != std::string::npos) text.erase(second_colon, 3);
  }
  return text;
}

// Letters, digits and + - . @ kept (UTF-8 letters too: RFC 2231 carries
// them), spaces and underscores as one "_", everything else left out.
std::string file_name_label(std::string_view source) {
  std::string out;
  for (const char c : source) {
    const bool multibyte = static_cast<unsigned char>(c) >= 0x80;
    if (multibyte || ascii::is_alpha(c) || ascii::is_digit(c) || c == '+' || c == '-' || c == '.' || c == '@') {
      const bool starts_character = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      if (starts_character && out.size() >= kMaxFilenameLabelBytes) break;
      out.push_back(c);
    } else if ((c == ' ' || c == '_') && !out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && (out.back() == '_' || out.back() == '.')) out.pop_back();
  while (!out.empty() && out.front() == '.') out.erase(0, 1);
  return out;
}

// RFC 2231 attr-char, minus the ones some clients mishandle.
bool is_attribute_char(char c) {
  return ascii::is_alpha(c) || ascii::is_digit(c) || c == '-' || c == '.' || c == '_' || c == '+' || c == '!' ||
         c == '~';
}

// "15550123,NumberingPlan=e164" -> "+15550123"; digits alone for other plans (extensions).
std::string number_in_caller_id(std::string_view value) {
  const std::string digits = e164_digits(value.substr(0, value.find(',')));
  if (digits.empty()) return {};
  std::string params = ascii_lower(value.substr(std::min(value.size(), value.find(','))));
  params.erase(std::remove_if(params.begin(), params.end(), ascii::is_wsp), params.end());
  return params.find("numberingplan=e164") != std::string::npos ? "+" + digits : digits;
}

std::string header_text(const Part& part, std::string_view name) {
  const auto raw = part.header(name);
  return raw ? std::string(ascii::trim(decode_encoded_words(unfold(*raw)))) : std::string();
}

// The display name of a From field, else its address; nothing for non-mail-user@.
std::string sender_in(std::string_view from) {
  const std::size_t open = from.rfind('<');
  const std::size_t close = from.rfind('>');
  std::string name, address;
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    address = std::string(ascii::trim(from.substr(open + 1, close - open - 1)));
    name = std::string(ascii::trim(from.substr(0, open)));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
  } else {
    address = std::string(ascii::trim(from));
  }
  if (ascii_istarts_with(address, "non-mail-user@")) return {};  // a call answer: its display name is ours
  return name.empty() ? address : name;
}

// The zone of an RFC 5322 date in minutes ("... +0130" -> 90); 0 for "GMT" and the like.
int zone_of(std::string_view date) {
  const std::string_view zone = date.substr(std::min(date.size(), date.find_last_of(' ') + 1));
  if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-') ||
      !std::all_of(zone.begin() + 1, zone.end(), ascii::is_digit))
    return 0;
  const int minutes = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 60 + (zone[3] - '0') * 10 + (zone[4] - '0');
  return zone[0] == '-' ? -minutes : minutes;
}

std::string with_attachments(std::string_view opening, std::span<const std::string> names) {
  if (names.empty()) return {};
  std::string out = "\r\n" + std::string(opening) + " " + names.front();
  for (std::size_t i = 1; i < names.size(); ++i) out += (i + 1 == names.size() ? " and " : ", ") + names[i];
  return out + ".\r\n";
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
  const auto two = [](long long v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (hours > 0) return std::to_string(hours) + ":" + two(minutes) + ":" + two(secs);
  return std::to_string(minutes) + ":" + two(secs);
}

std::string format_number_for_people(std::string_view e164) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const auto canonical = normalise_e164(e164);
  if (!canonical) return std::string(e164);  // extensions and odd input stay as written
  // Thread-safe: one immutable instance, metadata loaded once.
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(*canonical, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return std::string(e164);
  std::string out;
  util.Format(number, PhoneNumberUtil::INTERNATIONAL, &out);
  return out.empty() ? std::string(e164) : out;
}

MessageOrigin origin_of(const Part& root) {
  MessageOrigin origin;
  origin.caller.number = number_in_caller_id(header_text(root, "Caller-ID"));
  origin.caller.name = header_text(root, "Caller-Name");
  if (origin.caller.number.empty() && origin.caller.name.empty()) origin.sender = sender_in(header_text(root, "From"));
  const std::string date = header_text(root, "Date");
  origin.received = parse_rfc5322_date(date).value_or(SystemTime{});
  origin.utc_offset_minutes = zone_of(date);
  return origin;
}

std::string origin_short(const MessageOrigin& origin) {
  const Caller& caller = origin.caller;
  if (!caller.name.empty()) return ascii::without_controls(caller.name);
  if (!caller.number.empty()) return format_number_for_people(ascii::without_controls(caller.number));
  if (!origin.sender.empty()) return ascii::without_controls(origin.sender);
  return "Unknown caller";
}

std::string origin_for_people(const MessageOrigin& origin) {
  const Caller& caller = origin.caller;
  if (caller.name.empty() || caller.number.empty()) return origin_short(origin);
  return ascii::without_controls(caller.name) + " (" + format_number_for_people(ascii::without_controls(caller.number)) + ")";
}

std::string attachment_name(const MessageOrigin& origin, std::string_view stem, std::string_view extension) {
  const Caller& caller = origin.caller;
  std::string who = file_name_label(!caller.number.empty() ? normalise_e164(caller.number).value_or(caller.number)
                                    : !caller.name.empty() ? caller.name
                                                           : origin.sender);
  if (who.empty()) who = "unknown";
  return std::string(stem) + "-" + who + "-" + file_name_time(origin.received, origin.utc_offset_minutes) +
         std::string(extension);
}

std::string voice_text(const MessageOrigin& origin, double seconds, std::size_t forwarded,
                       std::span<const std::string> attachments) {
  std::string text = "Voice message from " + origin_for_people(origin) + ", " + format_duration(seconds) +
                     ", received " + readable_time(origin.received, origin.utc_offset_minutes) + ".\r\n";
  if (forwarded > 0)
    text += "\r\nIt forwards " + std::to_string(forwarded) +
            (forwarded == 1 ? " earlier message.\r\n" : " earlier messages.\r\n");
  return text + with_attachments("The recording is attached as", attachments);
}

std::string fax_text(const MessageOrigin& origin, unsigned pages, std::span<const std::string> attachments) {
  const std::string page_count =
      pages == 0 ? std::string() : ", " + std::to_string(pages) + (pages == 1 ? " page" : " pages");
  return "Fax from " + origin_for_people(origin) + page_count + ", received " +
         readable_time(origin.received, origin.utc_offset_minutes) + ".\r\n" +
         with_attachments("The fax is attached as", attachments);
}

std::string transcript_text(std::string_view transcript) {
  // Wrapped at blanks, so the part stays 7bit and reads well in any client.
  constexpr std::size_t kLine = 76;
  std::string text = "Transcript (automatic, may contain errors):\r\n\r\n";
  std::size_t line = 0;
  for (const auto word_range : std::views::split(transcript, ' ')) {
    const std::string_view word(word_range.begin(), word_range.end());
    if (word.empty()) continue;
    if (line > 0 && line + 1 + word.size() > kLine) {
      text += kCrlf;
      line = 0;
    } else if (line > 0) {
      text += ' ';
      ++line;
    }
    text += word;
    line += word.size();
  }
  return text + std::string(kCrlf);
}

std::string fax_first_lines_text(std::string_view lines) {
  return "First lines of the fax (automatic text recognition, may contain errors):\r\n\r\n" + with_crlf(lines);
}

std::string fax_recognised_text(std::string_view text) {
  return "Text recognised on the pages (automatic, may contain errors):\r\n\r\n" + with_crlf(text);
}

std::string text_entity(std::string_view utf8_text, std::string_view disposition) {
  const bool ascii_only =
      std::all_of(utf8_text.begin(), utf8_text.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
  // Quoted-printable also keeps long lines (long names) within 76 characters.
  const bool short_lines = std::ranges::all_of(std::views::split(utf8_text, kCrlf),
                                               [](auto line) { return std::ranges::distance(line) <= 76; });
  const bool plain = ascii_only && short_lines;
  return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " +
         std::string(plain ? "7bit" : "quoted-printable") + "\r\nContent-Disposition: " + std::string(disposition) +
         "\r\n\r\n" + (plain ? std::string(utf8_text) : quoted_printable_encode(utf8_text));
}

std::string content_disposition(std::string_view type, std::string_view filename) {
  const std::string clean = ascii::without_controls(filename);
  if (ascii::is_printable(clean) && clean.find_first_of("\"\\") == std::string::npos)
    return std::string(type) + ";\r\n filename=\"" + clean + "\"";
  constexpr std::string_view kHex = "0123456789ABCDEF";
  constexpr std::size_t kSectionLength = 60;
  std::vector<std::string> sections(1, "utf-8''");
  for (const char c : clean) {
    const auto byte = static_cast<unsigned char>(c);
    std::string piece = is_attribute_char(c) ? std::string(1, c) : std::string{'%', kHex[byte >> 4], kHex[byte & 0x0F]};
    if (sections.back().size() + piece.size() > kSectionLength) sections.emplace_back();
    sections.back() += piece;
  }
  if (sections.size() == 1) return std::string(type) + ";\r\n filename*=" + sections.front();
  std::string out(type);
  for (std::size_t i = 0; i < sections.size(); ++i) out += ";\r\n filename*" + std::to_string(i) + "*=" + sections[i];
  return out;
}

}  // namespace umstore::mime
