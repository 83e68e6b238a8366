// Composes VPIM v2 voice messages (RFC 3801) and simple-mode Internet fax
// messages (RFC 3965), optionally wrapped for desktop mail clients; see
// docs/message-structure.md for the structures and the rules behind them.
#include "ascii.hpp"
#include "common/e164.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/people_text.hpp"
#include "mime/voice_message.hpp"

#include <algorithm>
#include <iterator>
#include <random>
#include <thread>
#include <unistd.h>
#include <vector>

namespace umstore::mime {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxCallerIdDigits = 32;

struct Entity {
  std::string headers;  // each field ends in CRLF
  std::string body;
  // A base64 body is encoded only when the message is assembled, straight
  // into it: recordings are megabytes, every intermediate copy costs. The
  // bytes belong to the composer's input, which outlives every Entity.
  std::span<const std::uint8_t> base64_source;
  bool base64 = false;

  std::size_t body_size() const {
    return base64 ? base64_encoded_size(base64_source.size()) : body.size();
  }
  void append_body(std::string& out) const {
    if (!base64) {
      out += body;
      return;
    }
    append_base64(out, std::string_view(reinterpret_cast<const char*>(base64_source.data()), base64_source.size()));
  }
};

struct CommonInput {
  std::string_view domain;
  const MessageOrigin& origin;
  const Recipient& recipient;
  std::string_view message_id_hint;
  const MessageOptions& options;
};

// Who the text names: the caller, else a subscriber who sent or forwarded it.
MessageOrigin origin_of_input(const Caller& caller, const MessageOptions& options, SystemTime received,
                              int utc_offset_minutes) {
  MessageOrigin origin{caller, {}, received, utc_offset_minutes};
  if (caller.name.empty() && caller.number.empty() && options.originator)
    origin.sender = options.originator->name.empty() ? options.originator->address : options.originator->name;
  return origin;
}

void require_domain(std::string_view domain) {
  const bool valid = !domain.empty() && std::all_of(domain.begin(), domain.end(), [](char c) {
    return ascii::is_alpha(c) || ascii::is_digit(c) || c == '.' || c == '-';
  });
  if (!valid)
    throw ComposeError("mail domain \"" + ascii::without_controls(domain) +
                       "\" is not a host name; set the domain umstore sends mail as (e.g. vm.example.net)");
}

void require_address(std::string_view address) {
  const std::size_t at = address.find('@');
  const bool valid = at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
                     address.find('@', at + 1) == std::string_view::npos &&
                     std::all_of(address.begin(), address.end(),
                                 [](char c) { return c > ' ' && c < 127 && c != '<' && c != '>' && c != ',' && c != '"'; });
  if (!valid)
    throw ComposeError("recipient address \"" + ascii::without_controls(address) +
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
  const std::string clean = ascii::without_controls(name);
  if (!ascii::is_printable(clean)) return encode_header_text(clean);  // RFC 2047 §5(3): encoded-words as a phrase
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

// RFC 3939: digits only; the plan says whether they are a full E.164 number.
std::optional<std::string> caller_id(const Caller& caller) {
  std::string digits = e164_digits(caller.number);
  if (digits.empty()) return std::nullopt;
  digits.resize(std::min(digits.size(), kMaxCallerIdDigits));
  const auto e164 = normalise_e164(caller.number);
  if (caller.number.starts_with('+') && e164) return digits + ",NumberingPlan=e164";
  return digits;
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
  entity.base64_source = data;
  entity.base64 = true;
  return entity;
}

Entity text_part(std::string_view utf8_text, std::string_view disposition = "inline") {
  const std::string whole = text_entity(utf8_text, disposition);
  const std::size_t body = whole.find("\r\n\r\n") + 4;
  Entity entity;
  entity.headers = whole.substr(0, body - 2);
  entity.body = whole.substr(body);
  return entity;
}

// Multipart bodies are written into one buffer sized up front: a recording's
// base64 is megabytes, and every intermediate string would copy it again.
void append_part(std::string& out, const Entity& entity) {
  out += entity.headers;
  out += kCrlf;
  entity.append_body(out);
  if (!out.ends_with(kCrlf)) out += kCrlf;  // this CRLF belongs to the next delimiter
}

std::size_t multipart_body_size(std::string_view boundary, const std::vector<Entity>& parts) {
  std::size_t size = boundary.size() + 6;
  for (const Entity& part : parts) size += boundary.size() + 4 + part.headers.size() + 2 + part.body_size() + 2;
  return size;
}

void append_multipart_body(std::string& out, std::string_view boundary, const std::vector<Entity>& parts) {
  for (const Entity& part : parts) {
    out += "--";
    out += boundary;
    out += kCrlf;
    append_part(out, part);
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
}

std::string multipart_headers(const std::string& content_type, std::string_view boundary) {
  return field("Content-Type", content_type + ";\r\n boundary=\"" + std::string(boundary) + "\"") +
         field("Content-Transfer-Encoding", "7bit");
}

Entity multipart_entity(std::string content_type, std::string_view boundary, const std::vector<Entity>& parts) {
  Entity entity;
  entity.headers = multipart_headers(content_type, boundary);
  entity.body.reserve(multipart_body_size(boundary, parts));
  append_multipart_body(entity.body, boundary, parts);
  return entity;
}

std::string option_headers(const MessageOptions& options) {
  std::string out;
  switch (options.sensitivity) {
    case Sensitivity::personal: out += field("Sensitivity", "Personal"); break;
    case Sensitivity::private_: out += field("Sensitivity", "Private"); break;
    case Sensitivity::company_confidential: out += field("Sensitivity", "Company-Confidential"); break;
    case Sensitivity::normal: break;  // RFC 3801 §4.2.13: omitted for normal messages
  }
  if (options.importance == Importance::low) out += field("Importance", "low");
  if (options.importance == Importance::high) out += field("Importance", "high");
  if (!options.notification_address.empty()) {
    require_address(options.notification_address);
    out += field("Disposition-Notification-To", options.notification_address);
  }
  return out;
}

std::string without_bare_line_ends(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == '\n') out += kCrlf;
    else out.push_back(text[i]);
  }
  return out;
}

std::string common_headers(const CommonInput& in, std::string_view subject, std::string_view mime_version,
                           std::string_view context) {
  require_domain(in.domain);
  require_address(in.recipient.address);
  const std::string domain(in.domain);
  std::string out;
  if (in.options.originator) {
    require_address(in.options.originator->address);
    out += field("From", mailbox(in.options.originator->name, in.options.originator->address));
  } else {
    out += field("From", mailbox(origin_short(in.origin), "non-mail-user@" + domain));
  }
  out += field("To", mailbox(in.recipient.name, in.recipient.address));
  out += field("Date", format_rfc5322_date(in.origin.received, in.origin.utc_offset_minutes));
  out += field("Message-ID", "<" + message_id_token(in.message_id_hint) + "@" + domain + ">");
  out += field("Subject", encode_header_text(subject));
  out += field("MIME-Version", mime_version);
  out += field("Message-Context", context);
  out += option_headers(in.options);
  if (auto id = caller_id(in.origin.caller)) out += field("Caller-ID", *id);
  if (!in.origin.caller.name.empty()) out += field("Caller-Name", encode_header_text(in.origin.caller.name));
  return out;
}

std::string assemble(const std::string& top_headers, const Entity& content) {
  std::string out;
  out.reserve(top_headers.size() + content.headers.size() + kCrlf.size() + content.body_size());
  out += top_headers;
  out += content.headers;
  out += kCrlf;
  content.append_body(out);
  return out;
}

// assemble(top_headers, multipart_entity(...)) without first copying every part into the entity.
std::string assemble_multipart(const std::string& top_headers, const std::string& content_type,
                               std::string_view boundary, const std::vector<Entity>& parts) {
  const std::string headers = multipart_headers(content_type, boundary);
  std::string out;
  out.reserve(top_headers.size() + headers.size() + kCrlf.size() + multipart_body_size(boundary, parts));
  out += top_headers;
  out += headers;
  out += kCrlf;
  append_multipart_body(out, boundary, parts);
  return out;
}

long long voice_duration(const VoiceMessageInput& in) {
  // Without a measured length, 32KADPCM is 4000 octets per second (RFC 3802).
  const double seconds = in.duration_seconds > 0 ? in.duration_seconds : static_cast<double>(in.adpcm32k.size()) / 4000.0;
  return content_duration_seconds(seconds);
}

// RFC 2046 §5.2.1: an encapsulated message is never base64/QP; 8bit when it has to be.
Entity forwarded_entity(std::string_view message) {
  const bool ascii = std::all_of(message.begin(), message.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
  Entity entity;
  entity.headers = field("Content-Type", "message/rfc822") + field("Content-Transfer-Encoding", ascii ? "7bit" : "8bit") +
                   field("Content-Disposition", "inline");
  entity.body = std::string(message);
  return entity;
}

Entity vcard_entity(std::string_view vcard) {
  Entity entity;
  entity.headers = field("Content-Type", "text/directory; charset=utf-8; profile=vCard") +
                   field("Content-Transfer-Encoding", "quoted-printable");
  entity.body = quoted_printable_encode(without_bare_line_ends(vcard));
  return entity;
}

std::vector<Entity> forwarded_entities(const VoiceMessageInput& in) {
  std::vector<Entity> parts;
  for (const std::string_view message : in.forwarded) parts.push_back(forwarded_entity(message));
  return parts;
}

// RFC 3801 §4.4 (multipart/voice-message): spoken name first, then the message, then forwarded messages.
Entity vpim_entity(const VoiceMessageInput& in, long long duration, std::string_view boundary) {
  std::vector<Entity> parts;
  if (in.spoken_name_adpcm32k)
    parts.push_back(base64_entity("audio/32KADPCM", "inline; voice=Originator-Spoken-Name; filename=\"name.726\"",
                                  *in.spoken_name_adpcm32k,
                                  content_duration_seconds(static_cast<double>(in.spoken_name_adpcm32k->size()) / 4000.0)));
  parts.push_back(base64_entity("audio/32KADPCM", "inline; voice=Voice-Message; filename=\"voicemail.726\"",
                                in.adpcm32k, duration));
  if (in.originator_vcard) parts.push_back(vcard_entity(*in.originator_vcard));
  for (Entity& forwarded : forwarded_entities(in)) parts.push_back(std::move(forwarded));
  return multipart_entity("multipart/voice-message; version=2.0", boundary, parts);
}

VoiceForm resolved_form(const VoiceMessageInput& in) {
  if (in.form != VoiceForm::automatic) return in.form;
  return in.playable_wav || in.playable_mp3 ? VoiceForm::desktop : VoiceForm::vpim;
}

struct PlayableCopies {
  std::vector<Entity> parts;
  std::vector<std::string> names;
};

// WAV and MP3 for people's clients; `extra` is appended to each disposition (IVM's handling=optional).
PlayableCopies playable_copies(const VoiceMessageInput& in, const MessageOrigin& origin, long long duration,
                               std::string_view extra) {
  PlayableCopies copies;
  const auto add = [&](const std::optional<std::span<const std::uint8_t>>& data, std::string_view type, std::string_view ext) {
    if (!data) return;
    std::string name = attachment_name(origin, "voicemail", ext);
    copies.parts.push_back(base64_entity(std::string(type), content_disposition("attachment", name) + std::string(extra), *data, duration));
    copies.names.push_back(std::move(name));
  };
  add(in.playable_wav, "audio/wav", ".wav");
  add(in.playable_mp3, "audio/mpeg", ".mp3");
  return copies;
}

// RFC 4239: audio/basic is the codec every IVM recipient plays; it carries the message (handling=required).
std::string compose_ivm(const VoiceMessageInput& in, const MessageOrigin& origin, const std::string& headers,
                        const std::string& token) {
  if (!in.ulaw || in.ulaw->empty())
    throw ComposeError("the IVM form needs the recording as G.711 mu-law (VoiceMessageInput::ulaw)");
  const long long duration = content_duration_seconds(static_cast<double>(in.ulaw->size()) / 8000.0);
  PlayableCopies copies = playable_copies(in, origin, duration, ";\r\n handling=optional");
  std::vector<std::string> names{attachment_name(origin, "voicemail", ".au")};
  names.insert(names.end(), copies.names.begin(), copies.names.end());
  std::vector<Entity> parts;
  parts.push_back(text_part(voice_text(origin, static_cast<double>(duration), in.forwarded.size(), names),
                            "inline; handling=optional"));
  parts.push_back(base64_entity("audio/basic",
                                content_disposition("attachment", names.front()) + ";\r\n voice=Voice-Message; handling=required",
                                *in.ulaw, duration));
  parts.insert(parts.end(), std::make_move_iterator(copies.parts.begin()), std::make_move_iterator(copies.parts.end()));
  for (Entity& forwarded : forwarded_entities(in)) parts.push_back(std::move(forwarded));
  return assemble_multipart(headers, "multipart/mixed", "=_ivm_" + token, parts);
}

}  // namespace

std::string compose_voice_message(const VoiceMessageInput& in) {
  const MessageOrigin origin = origin_of_input(in.caller, in.options, in.received, in.utc_offset_minutes);
  const long long duration = voice_duration(in);
  const std::string subject = "Voice message from " + origin_short(origin) + " (" +
                              format_duration(static_cast<double>(duration)) + ")";
  const CommonInput common{in.domain, origin, in.recipient, in.message_id_hint, in.options};
  const std::string token = random_token();
  const VoiceForm form = resolved_form(in);
  if (form == VoiceForm::ivm) return compose_ivm(in, origin, common_headers(common, subject, "1.0", "voice-message"), token);

  Entity vpim = vpim_entity(in, duration, "=_vpim_" + token);
  std::string headers = common_headers(common, subject, "1.0 (Voice 2.0)", "voice-message");
  if (form == VoiceForm::vpim) return assemble(headers, vpim);

  PlayableCopies copies = playable_copies(in, origin, duration, "");
  std::vector<Entity> parts;
  if (!in.transcript.empty()) {
    headers += field(kTranscriptField, encode_long_header_text(in.transcript, kTranscriptFieldBytes));
    parts.push_back(text_part(transcript_text(in.transcript)));
  }
  parts.push_back(text_part(voice_text(origin, static_cast<double>(duration), in.forwarded.size(), copies.names)));
  parts.push_back(std::move(vpim));
  parts.insert(parts.end(), std::make_move_iterator(copies.parts.begin()), std::make_move_iterator(copies.parts.end()));
  return assemble_multipart(headers, "multipart/mixed", "=_mixed_" + token, parts);
}

std::string compose_fax_message(const FaxMessageInput& in) {
  const MessageOrigin origin = origin_of_input(in.caller, in.options, in.received, in.utc_offset_minutes);
  const std::string pages =
      in.pages == 0 ? std::string() : " (" + std::to_string(in.pages) + (in.pages == 1 ? " page)" : " pages)");
  const std::string subject = "Fax from " + origin_short(origin) + pages;
  const CommonInput common{in.domain, origin, in.recipient, in.message_id_hint, in.options};
  const std::string headers = common_headers(common, subject, "1.0", "fax-message");
  const std::string tiff_name = attachment_name(origin, "fax", ".tif");
  // name= for clients older than Content-Disposition, where the name needs no RFC 2231.
  const bool plain_name = ascii::is_printable(tiff_name) && tiff_name.find_first_of("\"\\") == std::string::npos;
  const std::string tiff_type =
      "image/tiff; application=faxbw" + (plain_name ? ";\r\n name=\"" + tiff_name + "\"" : std::string());
  const bool desktop = in.form == FaxForm::desktop || (in.form == FaxForm::automatic && in.pdf);
  std::vector<Entity> parts;
  const auto add_recognised_text = [&] {
    if (!in.text_first_lines.empty()) parts.push_back(text_part(fax_first_lines_text(in.text_first_lines)));
    if (!in.recognised_text.empty()) parts.push_back(text_part(fax_recognised_text(in.recognised_text)));
  };
  if (!desktop) {
    const Entity tiff = base64_entity(tiff_type, content_disposition("inline", tiff_name), in.tiff, std::nullopt);
    if (in.note.empty() && in.text_first_lines.empty() && in.recognised_text.empty()) return assemble(headers, tiff);
    // Simple mode still: IFAX recipients must accept text/plain next to the TIFF (RFC 3965 2.2).
    if (!in.note.empty()) parts.push_back(text_part(in.note + "\r\n"));
    add_recognised_text();
    parts.push_back(tiff);
    return assemble_multipart(headers, "multipart/mixed", "=_mixed_" + random_token(), parts);
  }
  // People's form: who, how many pages and when at first sight, the images as attachments.
  std::vector<std::string> names{tiff_name};
  if (in.pdf) names.push_back(attachment_name(origin, "fax", ".pdf"));
  parts.push_back(text_part(fax_text(origin, in.pages, names)));
  if (!in.note.empty()) parts.push_back(text_part(in.note + "\r\n"));
  add_recognised_text();
  parts.push_back(base64_entity(tiff_type, content_disposition("attachment", tiff_name), in.tiff, std::nullopt));
  if (in.pdf) parts.push_back(base64_entity("application/pdf", content_disposition("attachment", names.back()), *in.pdf, std::nullopt));
  return assemble_multipart(headers, "multipart/mixed", "=_mixed_" + random_token(), parts);
}

}  // namespace umstore::mime
