// Local delivery policy: see local_delivery_policy.hpp for what it decides.
#include "delivery/local_delivery_policy.hpp"

#include <algorithm>
#include <cmath>

#include "codecs/audio.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"
#include "codecs/mp3.hpp"
#include "message_rewriting.hpp"

namespace umstore::delivery {
namespace {

using mime::Part;
using namespace rewriting;

constexpr std::size_t kMaxNoteFindings = 5;

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

// --- gateway emails ---------------------------------------------------------------

// "user@host" matches itself, "@host" every address at host.
bool matches_address(const std::vector<std::string>& patterns, const std::string& address) {
  if (address.empty()) return false;
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    const std::string wanted = lower(pattern);
    return wanted.starts_with('@') ? address.ends_with(wanted) : address == wanted;
  });
}

const GatewayRule* gateway_for(const Part& root, const InboundMessage& in, const DeliverySettings& settings) {
  const std::string from = address_in(header_text(root, "From"));
  const std::string envelope = lower(in.envelope_sender);
  const std::string recipient = address_in(in.recipient);
  for (const GatewayRule& rule : settings.gateways) {
    const bool from_gateway = matches_address(rule.senders, from) || matches_address(rule.senders, envelope);
    if (from_gateway && (rule.recipients.empty() || matches_address(rule.recipients, recipient))) return &rule;
  }
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
  const std::vector<std::uint8_t> wav =
      mailbox.playable == mailstore::PlayableAudio::wav ? codecs::encode_wav_pcm16(audio) : std::vector<std::uint8_t>();
  mime::VoiceMessageInput voice;
  voice.domain = settings.domain;
  voice.caller = caller_of(root, *rule);
  voice.recipient.address = plan.mailbox.empty() ? std::string(in.recipient) : plan.mailbox + "@" + settings.domain;
  voice.received = parse_rfc5322_date(header_text(root, "Date")).value_or(in.received);
  voice.utc_offset_minutes = rule->utc_offset_minutes.value_or(mailbox.utc_offset_minutes);
  voice.adpcm32k = adpcm;
  voice.duration_seconds = audio.duration_seconds();
  std::vector<std::uint8_t> mp3;
  if (mailbox.playable == mailstore::PlayableAudio::wav) voice.playable_wav = std::span<const std::uint8_t>(wav);
  if (mailbox.playable == mailstore::PlayableAudio::mp3) {
    mp3 = codecs::encode_mp3(audio);
    voice.playable_mp3 = std::span<const std::uint8_t>(mp3);
  }
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

// The playable forms the mailbox asked for, added to a message that passed the checks.
void add_playable_forms(const Part& root, const InboundMessage& in, const MailboxProfile& mailbox,
                        const DeliverySettings& settings, const mime::ConformanceReport& report, DeliveryPlan& plan) {
  if (report.kind == mime::MessageKind::internet_fax) {
    try {
      if (auto people = as_people_fax(root, in.raw, mailbox.fax_pdf)) {
        plan.message = findings_header(report) + *people;
        plan.notes.push_back(mailbox.fax_pdf ? "people's fax form with a PDF copy" : "people's fax form");
      }
    } catch (const codecs::CodecError& e) {
      plan.notes.push_back(std::string("fax stored as it came: ") + e.what());
    }
    return;
  }
  const Part* voice_message = mime::find_voice_message(root);
  if (voice_message != &root || mailbox.playable == mailstore::PlayableAudio::none) return;
  try {
    if (const auto audio = voice_audio(root, in.raw, settings.max_playable_seconds)) {
      plan.message = findings_header(report) +
                     with_playable_audio(root, in.raw, *audio, mailbox.playable);
      plan.notes.push_back("added a playable " + std::string(mailstore::to_string(mailbox.playable)) + " (" +
                           mime::format_duration(audio->duration_seconds()) + ")");
    }
  } catch (const codecs::CodecError& e) {
    plan.notes.push_back(std::string("no playable copy: ") + e.what());
  }
}

}  // namespace

std::string folder_for(mime::MessageKind kind, const MailboxProfile& mailbox) {
  if (!mailbox.file_by_kind) return "INBOX";
  if (kind == mime::MessageKind::vpim_voice || kind == mime::MessageKind::other_voice) return mailbox.voice_folder;
  if (kind == mime::MessageKind::internet_fax) return mailbox.fax_folder;
  return "INBOX";
}

void check_gateway_rule(const GatewayRule& rule) {
  if (rule.senders.empty()) throw PolicyError("a gateway email rule needs at least one sender address");
  for (const std::string* pattern : {&rule.caller_in_subject, &rule.mailbox_in_subject})
    if (!pattern->empty()) compile(*pattern);
}

bool is_gateway_drop_address(const DeliverySettings& settings, std::string_view address) {
  const std::string wanted = lower(address);
  return std::any_of(settings.gateways.begin(), settings.gateways.end(), [&](const GatewayRule& rule) {
    return std::any_of(rule.recipients.begin(), rule.recipients.end(),
                       [&](const std::string& r) { return !r.starts_with('@') && lower(r) == wanted; });
  });
}

MailboxProfile profile_of_mailbox(const DeliverySettings& settings, std::string_view number) {
  return settings.mailbox_profiles ? settings.mailbox_profiles(number) : MailboxProfile{};
}

MailboxProfile mailbox_profile(const mailstore::AccountStore& accounts, std::string_view number) {
  MailboxProfile profile;
  if (const auto stored = accounts.delivery(number)) {
    profile.playable = stored->playable;
    profile.fax_pdf = stored->fax_pdf;
    profile.file_by_kind = stored->file_by_kind;
  }
  return profile;
}

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
  add_playable_forms(root, in, mailbox, settings, report, plan);
  return plan;
}

}  // namespace umstore::delivery
