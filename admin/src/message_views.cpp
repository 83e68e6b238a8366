#include "message_views.hpp"

#include <algorithm>
#include <chrono>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/message_summary.hpp"

namespace umstore::admin {
namespace {

constexpr std::string_view kFolders[] = {"INBOX", "Voicemail", "Fax"};

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

MessageSummary summarise(std::string_view message) {
  const auto read = mime::summarise_message(message);
  MessageSummary s;
  s.kind = read.kind;
  s.caller = read.caller;
  s.caller_name = read.caller_name;
  s.subject = read.subject;
  if (auto date = parse_rfc5322_date(read.date))
    s.date_ms = std::chrono::duration_cast<std::chrono::milliseconds>(date->time_since_epoch()).count();
  s.duration_seconds = read.seconds.value_or(0);
  s.pages = read.pages.value_or(0);
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
