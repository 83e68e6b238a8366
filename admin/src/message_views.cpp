#include "message_views.hpp"

#include <algorithm>
#include <chrono>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/ascii.hpp"
#include "common/parse_number.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"

namespace umstore::admin {
namespace {

constexpr std::string_view kFolders[] = {"INBOX", "Voicemail", "Fax"};

std::string header_value(const mime::Part& part, std::string_view name) {
  auto raw = part.header(name);
  return raw ? mime::decode_encoded_words(trim_blanks(mime::unfold(*raw))) : std::string();
}

// Depth-first: the first part for which `wanted` holds.
const mime::Part* find_part(const mime::Part& part, bool (*wanted)(const mime::Part&)) {
  if (wanted(part)) return &part;
  for (const auto& child : part.children)
    if (const auto* found = find_part(child, wanted)) return found;
  return nullptr;
}

bool is_adpcm(const mime::Part& p) { return p.content_type.is("audio", "32kadpcm"); }
bool is_wav(const mime::Part& p) {
  return p.content_type.is("audio", "wav") || p.content_type.is("audio", "x-wav") || p.content_type.is("audio", "vnd.wave");
}
bool is_tiff(const mime::Part& p) { return p.content_type.is("image", "tiff"); }

std::vector<std::uint8_t> decoded(const mime::Part& part, std::string_view message) {
  const std::string body = mime::decode_body(part, message);
  return {body.begin(), body.end()};
}

// RFC 3939 "15550123,NumberingPlan=e164" as "+15550123"; other plans as written.
std::string caller_number(std::string_view caller_id) {
  const auto comma = caller_id.find(',');
  const std::string_view number = trim_blanks(caller_id.substr(0, comma));
  const bool e164 = comma != std::string_view::npos && ascii_iequals(trim_blanks(caller_id.substr(comma + 1)), "NumberingPlan=e164");
  return e164 && !number.starts_with('+') ? "+" + std::string(number) : std::string(number);
}

MessageSummary summarise(std::string_view message) {
  const auto root = mime::parse_message(message);
  MessageSummary s;
  const std::string context = ascii_lower(header_value(root, "Message-Context"));
  s.kind = context == "voice-message" ? "voice" : context == "fax-message" ? "fax" : "mail";
  s.caller = caller_number(header_value(root, "Caller-ID"));
  if (s.caller.empty()) s.caller = header_value(root, "From");
  s.caller_name = header_value(root, "Caller-Name");
  s.subject = header_value(root, "Subject");
  if (auto date = parse_rfc5322_date(header_value(root, "Date")))
    s.date_ms = std::chrono::duration_cast<std::chrono::milliseconds>(date->time_since_epoch()).count();
  if (const auto* audio = find_part(root, is_adpcm))
    s.duration_seconds = parse_number<long long>(trim_blanks(header_value(*audio, "Content-Duration"))).value_or(0);
  if (const auto* tiff = find_part(root, is_tiff)) {
    try {
      s.pages = static_cast<unsigned>(codecs::inspect_tiff(decoded(*tiff, message), "fax").pages.size());
    } catch (const std::exception&) {
      s.pages = 0;  // a damaged TIFF: listed, with no page count
    }
  }
  return s;
}

}  // namespace

bool is_message_folder(std::string_view folder) {
  return std::find(std::begin(kFolders), std::end(kFolders), folder) != std::end(kFolders);
}

std::vector<MessageSummary> list_messages(mailstore::UserMailbox& mailbox) {
  std::vector<MessageSummary> out;
  for (const auto& entry : mailbox.list()) {
    if (!is_message_folder(entry.name)) continue;
    auto folder = mailbox.open(entry.name);
    for (const auto& info : folder->snapshot()) {
      auto data = folder->open_message(info.uid);
      if (!data) continue;
      MessageSummary s = summarise(data->bytes());
      s.folder = entry.name;
      s.uid = info.uid;
      s.seen = (info.flags & mailstore::kSeen) != 0;
      if (s.date_ms == 0) s.date_ms = info.internal_date * 1000;
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.date_ms > b.date_ms; });
  return out;
}

std::optional<Content> voice_audio(std::string_view message) {
  const auto root = mime::parse_message(message);
  // The playable copy as stored, else the VPIM audio decoded (8 kHz PCM).
  if (const auto* wav = find_part(root, is_wav)) return Content{"audio/wav", mime::decode_body(*wav, message)};
  const auto* adpcm = find_part(root, is_adpcm);
  if (!adpcm) return std::nullopt;
  codecs::PcmAudio pcm;
  pcm.sample_rate = 8000;
  pcm.samples = codecs::decode_32kadpcm(decoded(*adpcm, message));
  const auto wav = codecs::encode_wav_pcm16(pcm);
  return Content{"audio/wav", std::string(wav.begin(), wav.end())};
}

std::optional<Content> fax_pdf(std::string_view message) {
  const auto root = mime::parse_message(message);
  const auto* tiff = find_part(root, is_tiff);
  if (!tiff) return std::nullopt;
  const auto pdf = codecs::to_fax_pdf(decoded(*tiff, message), "fax");
  return Content{"application/pdf", std::string(pdf.begin(), pdf.end())};
}

}  // namespace umstore::admin
