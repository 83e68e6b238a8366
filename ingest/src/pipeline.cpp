#include "ingest/pipeline.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/e164.hpp"

namespace umstore::ingest {
namespace {

constexpr unsigned kVpimRate = 8000;  // audio/32KADPCM is defined at 8 kHz

mime::Recipient recipient_of(const Recording& r, const IngestSettings& s) {
  return {r.to_number + "@" + s.domain, r.to_name};
}

std::string caller_text(const mime::Caller& caller) {
  return caller.number.empty() ? std::string("unknown caller") : caller.number;
}

ComposedMessage compose_voice(const Recording& r, const IngestSettings& s) {
  codecs::PcmAudio audio = codecs::decode_audio(r.file, r.file_name, s.voice_limits);
  if (audio.sample_rate != kVpimRate) audio = codecs::resample(audio, kVpimRate);
  const std::vector<std::uint8_t> adpcm = codecs::encode_32kadpcm(audio.samples);
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);

  mime::VoiceMessageInput in;
  in.domain = s.domain;
  in.caller = r.caller;
  in.recipient = recipient_of(r, s);
  in.received = r.received;
  in.adpcm32k = adpcm;
  in.duration_seconds = audio.duration_seconds();
  in.playable_wav = std::span<const std::uint8_t>(wav);
  return {r.to_number, in.recipient.address, mime::compose_voice_message(in),
          fmt::format("voice {} from {}", mime::format_duration(in.duration_seconds), caller_text(r.caller))};
}

ComposedMessage compose_fax(const Recording& r, const IngestSettings& s) {
  const std::vector<std::uint8_t> tiff = codecs::to_profile_s(r.file, r.file_name, s.fax_limits);
  const codecs::FaxDocument doc = codecs::inspect_tiff(tiff, r.file_name, s.fax_limits);

  mime::FaxMessageInput in;
  in.domain = s.domain;
  in.caller = r.caller;
  in.recipient = recipient_of(r, s);
  in.received = r.received;
  in.tiff = tiff;
  in.pages = static_cast<unsigned>(doc.pages.size());
  in.note = r.note;
  return {r.to_number, in.recipient.address, mime::compose_fax_message(in),
          fmt::format("fax {} page(s) from {}", in.pages, caller_text(r.caller))};
}

}  // namespace

ComposedMessage compose(const Recording& recording, const IngestSettings& settings) {
  if (!is_e164(recording.to_number))
    throw std::invalid_argument("mailbox number '" + recording.to_number +
                                "' is not E.164: write it as + and 2 to 15 digits, e.g. +15550100");
  return recording.kind == Kind::Voice ? compose_voice(recording, settings) : compose_fax(recording, settings);
}

}  // namespace umstore::ingest
