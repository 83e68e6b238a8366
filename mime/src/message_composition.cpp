// Composes VPIM v2 voice messages (RFC 3801) and simple-mode Internet fax
// messages (RFC 3965), optionally wrapped for desktop mail clients; see
// docs/message-structure.md for the structures and the rules behind them.
#include "ascii.hpp"
#include "common/e164.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

#include <algorithm>
#include <ranges>
#include <random>
#include <thread>
#include <unistd.h>
#include <vector>

namespace umstore::mime {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxFilenameLabelBytes = 40;
constexpr std::size_t kMaxCallerIdDigits = 32;

struct Entity {
  std::string headers;  // each field ends in CRLF
  std::string body;
};

struct CommonInput {
  std::string_view domain;
  const Caller& caller;
  const Recipient& recipient;
  SystemTime received;
  int utc_offset_minutes;
  std::string_view message_id_hint;
};

std::string without_controls(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  }
  return out;
}

bool is_ascii_printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 32 && c < 127; });
}

void require_domain(std::string_view domain) {
  const bool valid = !domain.empty() && std::all_of(domain.begin(), domain.end(), [](char c) {
    return ascii::is_alpha(c) || ascii::is_digit(c) || c == '.' || c == '-';
  });
  if (!valid)
    throw ComposeError("mail domain \"" + without_controls(domain) +
                       "\" is not a host name; set the domain umstore sends mail as (e.g. vm.example.net)");
}

void require_address(std::string_view address) {
  const std::size_t at = address.find('@');
  const bool valid = at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
                     address.find('@', at + 1) == std::string_view::npos &&
                     std::all_of(address.begin(), address.end(),
                                 [](char c) { return c > ' ' && c < 127 && c != '<' && c != '>' && c != ',' && c != '"'; });
  if (!valid)
    throw ComposeError("recipient address \"" + without_controls(address) +
                       "\" is not a plain local@domain address; fix the mailbox address");
}

std::uint64_t random_value() {
  // Seeded once per thread: random_device can be slow, and on some platforms
  // deterministic, so the clock, thread and process are mixed in as well.
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    const auto now = static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    const auto thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
    std::seed_seq seed{device(), device(), static_cast<unsigned>(now), static_cast<unsigned>(now >> 32),
                       static_cast<unsigned>(thread), static_cast<unsigned>(getpid())};
    return std::mt19937_64(seed);
  }();
  return engine();
}

std::string random_token() {
  const std::uint64_t value = random_value();
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(value >> shift) & 0xF]);
  return out;
}

std::string message_id_token(std::string_view hint) {
  std::string token;
  for (const char c : hint) {
    if (ascii::is_alpha(c) || ascii::is_digit(c) || c == '.' || c == '-' || c == '_') token.push_back(c);
    if (token.size() == 64) break;
  }
  while (token.starts_with('.')) token.erase(0, 1);
  return token.empty() ? random_token() + "." + random_token() : token;
}

std::string quoted_phrase(std::string_view name) {
  const std::string clean = without_controls(name);
  if (!is_ascii_printable(clean)) return encode_header_text(clean);  // RFC 2047 §5(3): encoded-words as a phrase
  std::string out = "\"";
  for (const char c : clean) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string mailbox(std::string_view name, std::string_view address) {
  if (name.empty()) return std::string(address);
  return quoted_phrase(name) + " <" + std::string(address) + ">";
}

std::string caller_label(const Caller& caller) {
  if (!caller.name.empty()) return without_controls(caller.name);
  if (!caller.number.empty()) return format_number_for_people(without_controls(caller.number));
  return "Unknown caller";
}

// "Alice Example (+1 555 0123)" when both are known.
std::string caller_label_long(const Caller& caller) {
  if (caller.name.empty() || caller.number.empty()) return caller_label(caller);
  return without_controls(caller.name) + " (" + format_number_for_people(without_controls(caller.number)) + ")";
}

// RFC 3939: digits only; the plan says whether they are a full E.164 number.
std::optional<std::string> caller_id(const Caller& caller) {
  std::string digits = e164_digits(caller.number);
  if (digits.empty()) return std::nullopt;
  digits.resize(std::min(digits.size(), kMaxCallerIdDigits));
  const auto e164 = normalise_e164(caller.number);
  if (caller.number.starts_with('+') && e164) return digits + ",NumberingPlan=e164";
  return digits;
}

struct LocalTime {
  std::chrono::year_month_day date;
  std::chrono::hh_mm_ss<std::chrono::seconds> time;
};

LocalTime local_time(SystemTime when, int utc_offset_minutes) {
  const auto local = std::chrono::floor<std::chrono::seconds>(when) + std::chrono::minutes(utc_offset_minutes);
  const auto day = std::chrono::floor<std::chrono::days>(local);
  return {std::chrono::year_month_day(day), std::chrono::hh_mm_ss<std::chrono::seconds>(local - day)};
}

std::string two_digits(unsigned value) { return (value < 10 ? "0" : "") + std::to_string(value); }

// "20261121-1940", for file names.
std::string compact_local_time(SystemTime when, int utc_offset_minutes) {
  const LocalTime t = local_time(when, utc_offset_minutes);
  return std::to_string(static_cast<int>(t.date.year())) + two_digits(static_cast<unsigned>(t.date.month())) +
         two_digits(static_cast<unsigned>(t.date.day())) + "-" + two_digits(static_cast<unsigned>(t.time.hours().count())) +
         two_digits(static_cast<unsigned>(t.time.minutes().count()));
}

// "Sat 21 Nov 2026 19:40 +0000": the RFC 5322 date without comma and seconds.
std::string readable_local_time(SystemTime when, int utc_offset_minutes) {
  std::string text = format_rfc5322_date(when, utc_offset_minutes);
  if (const auto comma = text.find(','); comma != std::string::npos) text.erase(comma, 1);
  const auto first_colon = text.find(':');
  if (first_colon != std::string::npos) {
    const auto second_colon = text.find(':', first_colon + 1);
    if (second_colon != std::string::npos) text.erase(second_colon, 3);
  }
  return text;
}

std::string filename_label(const Caller& caller) {
  const std::string source = !caller.name.empty() ? caller.name : !caller.number.empty() ? caller.number : "unknown";
  std::string out;
  for (std::size_t i = 0; i < source.size(); ++i) {
    const char c = source[i];
    const bool multibyte = static_cast<unsigned char>(c) >= 0x80;
    if (multibyte || ascii::is_alpha(c) || ascii::is_digit(c) || c == '+' || c == '-' || c == '.') {
      const bool starts_character = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      if (starts_character && out.size() >= kMaxFilenameLabelBytes) break;
      out.push_back(c);
    } else if ((c == ' ' || c == '_') && !out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && (out.back() == '_' || out.back() == '.')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

// RFC 2231 attr-char, minus the ones some clients mishandle.
bool is_attribute_char(char c) {
  return ascii::is_alpha(c) || ascii::is_digit(c) || c == '-' || c == '.' || c == '_' || c == '+' || c == '!' ||
         c == '~';
}

// filename="x" for ASCII; RFC 2231 filename*0*=utf-8''... sections otherwise,
// each short enough for its own folded line.
std::string filename_parameter(std::string_view filename) {
  const std::string clean = without_controls(filename);
  if (is_ascii_printable(clean) && clean.find_first_of("\"\\") == std::string::npos)
    return "filename=\"" + clean + "\"";
  constexpr std::string_view kHex = "0123456789ABCDEF";
  constexpr std::size_t kSectionLength = 60;
  std::vector<std::string> sections(1, "utf-8''");
  for (const char c : clean) {
    std::string piece = is_attribute_char(c) ? std::string(1, c) : std::string{'%', kHex[static_cast<unsigned char>(c) >> 4], kHex[c & 0x0F]};
    if (sections.back().size() + piece.size() > kSectionLength) sections.emplace_back();
    sections.back() += piece;
  }
  if (sections.size() == 1) return "filename*=" + sections.front();
  std::string out;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    if (i > 0) out += ";\r\n ";
    out += "filename*" + std::to_string(i) + "*=" + sections[i];
  }
  return out;
}

std::string field(std::string_view name, std::string_view value) {
  return std::string(name) + ": " + std::string(value) + std::string(kCrlf);
}

Entity base64_entity(std::string content_type, std::string disposition, std::span<const std::uint8_t> data,
                     std::optional<long long> duration) {
  Entity entity;
  entity.headers = field("Content-Type", content_type) + field("Content-Transfer-Encoding", "base64") +
                   field("Content-Disposition", disposition);
  if (duration) entity.headers += field("Content-Duration", std::to_string(*duration));
  entity.body = base64_encode(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  return entity;
}

Entity text_entity(std::string_view utf8_text) {
  Entity entity;
  const bool ascii_only =
      std::all_of(utf8_text.begin(), utf8_text.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
  // Quoted-printable also keeps long lines (long names) within 76 characters.
  const bool short_lines = std::ranges::all_of(std::views::split(utf8_text, std::string_view(kCrlf)),
                                               [](auto line) { return std::ranges::distance(line) <= 76; });
  const bool plain = ascii_only && short_lines;
  entity.headers = field("Content-Type", "text/plain; charset=utf-8") +
                   field("Content-Transfer-Encoding", plain ? "7bit" : "quoted-printable") +
                   field("Content-Disposition", "inline");
  entity.body = plain ? std::string(utf8_text) : quoted_printable_encode(utf8_text);
  return entity;
}

std::string part_text(const Entity& entity) {
  std::string out = entity.headers + std::string(kCrlf) + entity.body;
  if (!out.ends_with(kCrlf)) out += kCrlf;  // this CRLF belongs to the next delimiter
  return out;
}

Entity multipart_entity(std::string content_type, std::string_view boundary, const std::vector<Entity>& parts) {
  Entity entity;
  entity.headers = field("Content-Type", content_type + ";\r\n boundary=\"" + std::string(boundary) + "\"") +
                   field("Content-Transfer-Encoding", "7bit");
  for (const Entity& part : parts) entity.body += "--" + std::string(boundary) + "\r\n" + part_text(part);
  entity.body += "--" + std::string(boundary) + "--\r\n";
  return entity;
}

std::string common_headers(const CommonInput& in, std::string_view subject, std::string_view mime_version,
                           std::string_view context) {
  require_domain(in.domain);
  require_address(in.recipient.address);
  const std::string domain(in.domain);
  std::string out;
  out += field("From", mailbox(caller_label(in.caller), "non-mail-user@" + domain));
  out += field("To", mailbox(in.recipient.name, in.recipient.address));
  out += field("Date", format_rfc5322_date(in.received, in.utc_offset_minutes));
  out += field("Message-ID", "<" + message_id_token(in.message_id_hint) + "@" + domain + ">");
  out += field("Subject", encode_header_text(subject));
  out += field("MIME-Version", mime_version);
  out += field("Message-Context", context);
  if (auto id = caller_id(in.caller)) out += field("Caller-ID", *id);
  if (!in.caller.name.empty()) out += field("Caller-Name", encode_header_text(in.caller.name));
  return out;
}

std::string assemble(const std::string& top_headers, const Entity& content) {
  return top_headers + content.headers + std::string(kCrlf) + content.body;
}

long long voice_duration(const VoiceMessageInput& in) {
  // Without a measured length, 32KADPCM is 4000 octets per second (RFC 3802).
  const double seconds = in.duration_seconds > 0 ? in.duration_seconds : static_cast<double>(in.adpcm32k.size()) / 4000.0;
  return content_duration_seconds(seconds);
}

Entity vpim_entity(const VoiceMessageInput& in, long long duration, std::string_view boundary) {
  const Entity audio = base64_entity("audio/32KADPCM", "inline; voice=Voice-Message; filename=\"voicemail.726\"",
                                     in.adpcm32k, duration);
  return multipart_entity("multipart/voice-message; version=2.0", boundary, {audio});
}

}  // namespace

std::string compose_voice_message(const VoiceMessageInput& in) {
  const long long duration = voice_duration(in);
  const std::string duration_text = format_duration(static_cast<double>(duration));
  const std::string subject = "Voice message from " + caller_label(in.caller) + " (" + duration_text + ")";
  const CommonInput common{in.domain, in.caller, in.recipient, in.received, in.utc_offset_minutes, in.message_id_hint};
  const std::string token = random_token();
  const Entity vpim = vpim_entity(in, duration, "=_vpim_" + token);
  if (!in.playable_wav) return assemble(common_headers(common, subject, "1.0 (Voice 2.0)", "voice-message"), vpim);

  const std::string wav_name =
      "voicemail-" + filename_label(in.caller) + "-" + compact_local_time(in.received, in.utc_offset_minutes) + ".wav";
  const std::string text = "Voice message from " + caller_label_long(in.caller) + ", " + duration_text +
                           ", received " + readable_local_time(in.received, in.utc_offset_minutes) +
                           ".\r\n\r\nThe recording is attached as " + wav_name + ".\r\n";
  const Entity wav = base64_entity("audio/wav", "attachment;\r\n " + filename_parameter(wav_name), *in.playable_wav, duration);
  const Entity mixed = multipart_entity("multipart/mixed", "=_mixed_" + token, {text_entity(text), vpim, wav});
  return assemble(common_headers(common, subject, "1.0 (Voice 2.0)", "voice-message"), mixed);
}

std::string compose_fax_message(const FaxMessageInput& in) {
  const std::string pages =
      in.pages == 0 ? std::string() : std::to_string(in.pages) + (in.pages == 1 ? " page" : " pages");
  const std::string subject = "Fax from " + caller_label(in.caller) + (pages.empty() ? "" : " (" + pages + ")");
  const CommonInput common{in.domain, in.caller, in.recipient, in.received, in.utc_offset_minutes, in.message_id_hint};
  const std::string headers = common_headers(common, subject, "1.0", "fax-message");
  constexpr std::string_view kTiffType = "image/tiff; application=faxbw; name=\"fax.tif\"";
  if (!in.pdf) return assemble(headers, base64_entity(std::string(kTiffType), "inline; filename=\"fax.tif\"", in.tiff, std::nullopt));

  const std::string pdf_name =
      "fax-" + filename_label(in.caller) + "-" + compact_local_time(in.received, in.utc_offset_minutes) + ".pdf";
  const std::string text = "Fax from " + caller_label_long(in.caller) + (pages.empty() ? "" : ", " + pages) +
                           ", received " + readable_local_time(in.received, in.utc_offset_minutes) +
                           ".\r\n\r\nThe fax is attached as " + pdf_name + " (PDF) and as fax.tif (TIFF).\r\n";
  const Entity tiff = base64_entity(std::string(kTiffType), "attachment; filename=\"fax.tif\"", in.tiff, std::nullopt);
  const Entity pdf = base64_entity("application/pdf", "attachment;\r\n " + filename_parameter(pdf_name), *in.pdf, std::nullopt);
  const Entity mixed = multipart_entity("multipart/mixed", "=_mixed_" + random_token(), {text_entity(text), tiff, pdf});
  return assemble(headers, mixed);
}

}  // namespace umstore::mime
