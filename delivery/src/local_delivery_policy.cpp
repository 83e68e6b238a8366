// Local delivery policy: see local_delivery_policy.hpp for what it decides.
#include "delivery/local_delivery_policy.hpp"

#include <algorithm>
#include <cmath>

#include "codecs/audio.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

namespace umstore::delivery {
namespace {

using mime::Part;

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxNoteFindings = 5;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return std::string(text);
}

std::string header_text(const Part& part, std::string_view name) {
  const auto raw = part.header(name);
  return raw ? trimmed(mime::decode_encoded_words(mime::unfold(*raw))) : std::string();
}

// The addr-spec of a From-style field: inside <...> when present.
std::string address_in(std::string_view value) {
  const std::size_t open = value.rfind('<');
  const std::size_t close = value.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open)
    return lower(trimmed(value.substr(open + 1, close - open - 1)));
  return lower(trimmed(value));
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::regex compile(const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    throw PolicyError("gateway pattern \"" + pattern + "\" is not a regular expression: " + e.what());
  }
}

std::optional<std::string> first_capture(const std::string& pattern, const std::string& text) {
  if (pattern.empty()) return std::nullopt;
  std::smatch match;
  const std::regex expression = compile(pattern);
  if (!std::regex_search(text, match, expression) || match.size() < 2 || !match[1].matched) return std::nullopt;
  return match[1].str();
}

// --- rewriting ---------------------------------------------------------------

// A boundary that occurs nowhere in the content it will delimit.
std::string fresh_boundary(std::string_view content) {
  const std::size_t seed = std::hash<std::string_view>{}(content.substr(0, 4096)) ^ content.size();
  for (std::size_t attempt = 0;; ++attempt) {
    std::string boundary = "=_umstore_" + std::to_string(seed + attempt);
    if (content.find(boundary) == std::string_view::npos) return boundary;
  }
}

// The original header fields, without the ones the new top-level entity replaces.
std::string header_without(std::string_view header_block, std::initializer_list<std::string_view> dropped) {
  std::string out;
  bool dropping = false;
  std::size_t pos = 0;
  while (pos < header_block.size()) {
    std::size_t end = header_block.find('\n', pos);
    end = end == std::string_view::npos ? header_block.size() : end + 1;
    const std::string_view line = header_block.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n" || line == "\n") break;  // the empty line ending the header
    const bool continuation = line.front() == ' ' || line.front() == '\t';
    if (!continuation) {
      const std::string name = lower(trimmed(line.substr(0, line.find(':'))));
      dropping = std::any_of(dropped.begin(), dropped.end(), [&](std::string_view d) { return name == lower(d); });
    }
    if (!dropping) {
      out += line;
      if (!out.ends_with(kCrlf)) {
        if (out.ends_with('\n')) out.pop_back();
        out += kCrlf;
      }
    }
  }
  return out;
}

std::string text_part(const std::string& utf8) {
  const bool ascii = std::all_of(utf8.begin(), utf8.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
  return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " +
         std::string(ascii ? "7bit" : "quoted-printable") + "\r\nContent-Disposition: inline\r\n\r\n" +
         (ascii ? utf8 : mime::quoted_printable_encode(utf8));
}

std::string wav_part(std::span<const std::uint8_t> wav, long long seconds) {
  return "Content-Type: audio/wav\r\nContent-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"voicemail.wav\"\r\nContent-Duration: " +
         std::to_string(seconds) + "\r\n\r\n" + mime::base64_encode(as_text(wav));
}

void append_part(std::string& body, std::string_view boundary, std::string_view part) {
  body += "--" + std::string(boundary) + std::string(kCrlf) + std::string(part);
  if (!body.ends_with(kCrlf)) body += kCrlf;
}

// --- inbound VPIM: a playable copy ---------------------------------------------

bool is_message_audio(const Part& part) {
  if (!part.content_type.is("audio", "32kadpcm")) return false;
  const auto voice = part.disposition.params.get("voice");
  return !voice || lower(*voice) == "voice-message";
}

std::optional<codecs::PcmAudio> voice_audio(const Part& voice_message, std::string_view raw, double max_seconds) {
  codecs::PcmAudio audio{8000, {}};
  for (const Part& child : voice_message.children) {
    if (!is_message_audio(child)) continue;
    const std::string adpcm = mime::decode_body(child, raw);
    if (static_cast<double>(adpcm.size()) / 4000.0 + audio.duration_seconds() > max_seconds) return std::nullopt;
    const auto samples = codecs::decode_32kadpcm(as_bytes(adpcm));
    audio.samples.insert(audio.samples.end(), samples.begin(), samples.end());  // RFC 3801 §4.4: concatenate, never drop
  }
  if (audio.samples.empty()) return std::nullopt;
  return audio;
}

std::string with_playable_audio(const Part& root, std::string_view raw, const codecs::PcmAudio& audio,
                                const MailboxProfile& mailbox) {
  const long long seconds = mime::content_duration_seconds(audio.duration_seconds());
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);
  const std::string from = header_text(root, "From");
  std::string when;
  if (const auto date = parse_rfc5322_date(header_text(root, "Date")))
    when = ", sent " + format_rfc5322_date(*date, mailbox.utc_offset_minutes);
  const std::string text = "Voice message from " + (from.empty() ? std::string("an unknown sender") : from) + ", " +
                           mime::format_duration(static_cast<double>(seconds)) + when +
                           ".\r\n\r\nThe recording is attached as voicemail.wav; the original VPIM message "
                           "(audio/32KADPCM) is kept as it was sent.\r\n";
  const std::string original_type = mime::unfold(root.header("Content-Type").value_or("multipart/voice-message"));
  const std::string original = "Content-Type: " + trimmed(original_type) +
                               "\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + std::string(root.body(raw));
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  append_part(body, boundary, text_part(text));
  append_part(body, boundary, original);
  append_part(body, boundary, wav_part(wav, seconds));
  body += "--" + boundary + "--\r\n";
  std::string headers = header_without(root.header_text(raw), {"Content-Type", "Content-Transfer-Encoding"});
  if (!root.header("MIME-Version")) headers += "MIME-Version: 1.0 (Voice 2.0)\r\n";
  return headers + "Content-Type: multipart/mixed;\r\n boundary=\"" + boundary +
         "\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body;
}

// --- gateway emails ---------------------------------------------------------------

bool matches_sender(const GatewayRule& rule, const std::string& address) {
  if (address.empty()) return false;
  return std::any_of(rule.senders.begin(), rule.senders.end(), [&](const std::string& sender) {
    const std::string wanted = lower(sender);
    return wanted.starts_with('@') ? address.ends_with(wanted) : address == wanted;
  });
}

const GatewayRule* gateway_for(const Part& root, const InboundMessage& in, const DeliverySettings& settings) {
  const std::string from = address_in(header_text(root, "From"));
  const std::string envelope = lower(in.envelope_sender);
  for (const GatewayRule& rule : settings.gateways)
    if (matches_sender(rule, from) || matches_sender(rule, envelope)) return &rule;
  return nullptr;
}

bool is_recording(const Part& part) {
  if (part.content_type.type == "audio") return true;
  const std::string name = lower(part.disposition.params.get("filename").value_or(part.content_type.params.get("name").value_or("")));
  return name.ends_with(".wav") || name.ends_with(".au");
}

const Part* find_recording(const Part& root) {
  if (is_recording(root)) return &root;
  for (const Part& child : root.children)
    if (const Part* found = find_recording(child)) return found;
  return nullptr;
}

mime::Caller caller_of(const Part& root, const GatewayRule& rule) {
  mime::Caller caller;
  for (const std::string& name : rule.caller_number_headers)
    if (caller.number = header_text(root, name); !caller.number.empty()) break;
  for (const std::string& name : rule.caller_name_headers)
    if (caller.name = header_text(root, name); !caller.name.empty()) break;
  if (caller.number.empty()) caller.number = first_capture(rule.caller_in_subject, header_text(root, "Subject")).value_or("");
  return caller;
}

// The audio file in a gateway's email as VPIM; nullopt when it is not a gateway email.
std::optional<DeliveryPlan> from_gateway(const Part& root, const InboundMessage& in, const MailboxProfile& mailbox,
                                         const DeliverySettings& settings) {
  const GatewayRule* rule = gateway_for(root, in, settings);
  if (!rule || mime::classify_message(root) == mime::MessageKind::vpim_voice) return std::nullopt;
  const Part* recording = find_recording(root);
  if (!recording) return std::nullopt;
  DeliveryPlan plan;
  plan.mailbox = first_capture(rule->mailbox_in_subject, header_text(root, "Subject")).value_or("");
  const std::string file = mime::decode_body(*recording, in.raw);
  const std::string name = recording->disposition.params.get("filename").value_or("recording");
  codecs::PcmAudio audio;
  try {
    audio = codecs::decode_audio(as_bytes(file), name, {.max_seconds = settings.max_playable_seconds});
    if (audio.sample_rate != 8000) audio = codecs::resample(audio, 8000);
  } catch (const codecs::CodecError& e) {
    plan.message = std::string(in.raw);  // keep the voicemail as sent rather than lose it
    plan.notes.push_back(std::string("gateway email kept as sent: ") + e.what());
    return plan;
  }
  const std::vector<std::uint8_t> adpcm = codecs::encode_32kadpcm(audio.samples);
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);
  mime::VoiceMessageInput voice;
  voice.domain = settings.domain;
  voice.caller = caller_of(root, *rule);
  voice.recipient.address = plan.mailbox.empty() ? std::string(in.recipient) : plan.mailbox + "@" + settings.domain;
  voice.received = parse_rfc5322_date(header_text(root, "Date")).value_or(in.received);
  voice.utc_offset_minutes = mailbox.utc_offset_minutes;
  voice.adpcm32k = adpcm;
  voice.duration_seconds = audio.duration_seconds();
  if (mailbox.playable_audio) voice.playable_wav = std::span<const std::uint8_t>(wav);
  voice.message_id_hint = address_in(header_text(root, "Message-ID"));
  plan.message = mime::compose_voice_message(voice);
  plan.kind = mime::MessageKind::vpim_voice;
  plan.notes.push_back("gateway voicemail from " + address_in(header_text(root, "From")) + " (" + name +
                       ") converted to VPIM, " + mime::format_duration(audio.duration_seconds()));
  return plan;
}

// --- refusing and flagging ------------------------------------------------------------

bool breaks_content(const mime::Finding& finding) {
  if (finding.severity != mime::Severity::error) return false;
  const std::string_view rule = finding.rule;
  return rule.starts_with("RFC 2045 §6") || rule.starts_with("RFC 2046") || rule.starts_with("RFC 3302") ||
         (rule.starts_with("RFC 3801 §4.4") && finding.text.find("holds no audio") != std::string::npos);
}

std::string ascii_rule(std::string rule) {
  for (std::size_t at = rule.find("§"); at != std::string::npos; at = rule.find("§")) rule.replace(at, 2, "section ");
  return rule;
}

std::optional<SmtpRefusal> refusal_for(const Part& root, const mime::ConformanceReport& report,
                                       const DeliverySettings& settings) {
  const bool voice_or_fax = report.kind != mime::MessageKind::plain;
  if (report.kind == mime::MessageKind::vpim_voice && !settings.accept_private &&
      lower(header_text(root, "Sensitivity")) == "private")
    return SmtpRefusal{554, "5.6.0",
                       "private voice message refused: this system cannot prevent forwarding (RFC 3801 section 4.2.13)"};
  if (!voice_or_fax) return std::nullopt;
  const auto broken = std::find_if(report.findings.begin(), report.findings.end(), breaks_content);
  if (broken == report.findings.end()) return std::nullopt;
  return SmtpRefusal{554, "5.6.0",
                     "malformed " + std::string(mime::describe(report.kind)) + ": " + ascii_rule(broken->rule) + ": " +
                         broken->text};
}

std::string findings_header(const mime::ConformanceReport& report) {
  std::string value;
  std::size_t listed = 0;
  for (const mime::Finding& finding : report.findings) {
    if (finding.severity != mime::Severity::error || listed == kMaxNoteFindings) continue;
    value += (listed++ ? ";\r\n " : "") + ascii_rule(finding.rule) + " [" + finding.location + "]";
  }
  return value.empty() ? std::string() : "X-Umstore-Conformance: " + value + "\r\n";
}

std::string folder_for(mime::MessageKind kind, const MailboxProfile& mailbox) {
  if (!mailbox.file_by_kind) return "INBOX";
  if (kind == mime::MessageKind::vpim_voice || kind == mime::MessageKind::other_voice) return mailbox.voice_folder;
  if (kind == mime::MessageKind::internet_fax) return mailbox.fax_folder;
  return "INBOX";
}

}  // namespace

std::string SmtpRefusal::reply_line() const {
  return std::to_string(reply_code) + " " + enhanced_status + " " + text;
}

DeliveryPlan plan_local_delivery(const InboundMessage& in, const MailboxProfile& mailbox,
                                 const DeliverySettings& settings) {
  const Part root = mime::parse_message(in.raw);
  if (auto converted = from_gateway(root, in, mailbox, settings)) {
    if (converted->kind == mime::MessageKind::plain) converted->kind = mime::classify_message(root);
    converted->folder = folder_for(converted->kind, mailbox);
    return *converted;
  }
  DeliveryPlan plan;
  const mime::ConformanceReport report = mime::check_message(in.raw);
  plan.kind = report.kind;
  plan.refusal = refusal_for(root, report, settings);
  if (plan.refusal) return plan;
  plan.folder = folder_for(report.kind, mailbox);
  plan.message = findings_header(report) + std::string(in.raw);
  if (plan.message.size() != in.raw.size()) plan.notes.push_back("stored with conformance errors flagged");
  const Part* voice_message = mime::find_voice_message(root);
  if (voice_message != &root || !mailbox.playable_audio) return plan;
  try {
    if (const auto audio = voice_audio(root, in.raw, settings.max_playable_seconds)) {
      plan.message = findings_header(report) + with_playable_audio(root, in.raw, *audio, mailbox);
      plan.notes.push_back("added a playable WAV (" + mime::format_duration(audio->duration_seconds()) + ")");
    }
  } catch (const codecs::CodecError& e) {
    plan.notes.push_back(std::string("no playable copy: ") + e.what());
  }
  return plan;
}

}  // namespace umstore::delivery
