#include "ingest/pipeline.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/e164.hpp"

namespace umstore::ingest {
namespace {

constexpr unsigned kVpimRate = 8000;  // audio/32KADPCM is defined at 8 kHz

// A voice or fax message input with who it is from and to, and when it came.
template <typename MessageInput>
MessageInput addressed(const Recording& r, const IngestSettings& s) {
  MessageInput in;
  in.domain = s.domain;
  in.caller = r.caller;
  in.recipient = {r.to_number + "@" + s.domain, r.to_name};
  in.received = r.received;
  return in;
}

std::string caller_text(const mime::Caller& caller) {
  return caller.number.empty() ? std::string("unknown caller") : caller.number;
}

void check_mailbox_number(const Recording& r) {
  if (!is_e164(r.to_number))
    throw std::invalid_argument("mailbox number '" + r.to_number +
                                "' is not E.164: write it as + and 2 to 15 digits, e.g. +15550100");
}

// The recording as 8 kHz PCM, the rate audio/32KADPCM is defined at.
codecs::PcmAudio voice_at_vpim_rate(const Recording& r, const IngestSettings& s) {
  codecs::PcmAudio audio = codecs::decode_audio(r.file, r.file_name, s.voice_limits);
  if (audio.sample_rate != kVpimRate) audio = codecs::resample(audio, kVpimRate);
  return audio;
}

ComposedMessage voice_message(const Recording& r, const IngestSettings& s, const codecs::PcmAudio& audio,
                              std::span<const std::uint8_t> adpcm) {
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);

  auto in = addressed<mime::VoiceMessageInput>(r, s);
  in.adpcm32k = adpcm;
  in.duration_seconds = audio.duration_seconds();
  in.playable_wav = std::span<const std::uint8_t>(wav);
  return {r.to_number, in.recipient.address, mime::compose_voice_message(in),
          fmt::format("voice {} from {}", mime::format_duration(in.duration_seconds), caller_text(r.caller))};
}

ComposedMessage compose_voice(const Recording& r, const IngestSettings& s) {
  const codecs::PcmAudio audio = voice_at_vpim_rate(r, s);
  return voice_message(r, s, audio, codecs::encode_32kadpcm(audio.samples));
}

ComposedMessage compose_fax(const Recording& r, const IngestSettings& s) {
  const std::vector<std::uint8_t> tiff = codecs::to_profile_s(r.file, r.file_name, s.fax_limits);
  const codecs::FaxDocument doc = codecs::inspect_tiff(tiff, r.file_name, s.fax_limits);

  auto in = addressed<mime::FaxMessageInput>(r, s);
  in.tiff = tiff;
  in.pages = static_cast<unsigned>(doc.pages.size());
  in.note = r.note;
  return {r.to_number, in.recipient.address, mime::compose_fax_message(in),
          fmt::format("fax {} page(s) from {}", in.pages, caller_text(r.caller))};
}

}  // namespace

ComposedMessage compose(const Recording& recording, const IngestSettings& settings) {
  check_mailbox_number(recording);
  return recording.kind == Kind::Voice ? compose_voice(recording, settings) : compose_fax(recording, settings);
}

std::vector<ComposeOutcome> compose_batch(std::span<const Recording* const> recordings,
                                          const IngestSettings& settings) {
  std::vector<ComposeOutcome> outcomes(recordings.size());
  // Voice recordings decoded to 8 kHz, waiting for their 32KADPCM.
  std::vector<std::size_t> voice_index;
  std::vector<codecs::PcmAudio> voice_audio;
  voice_index.reserve(recordings.size());
  voice_audio.reserve(recordings.size());
  for (std::size_t i = 0; i < recordings.size(); ++i) {
    const Recording& r = *recordings[i];
    try {
      check_mailbox_number(r);
      if (r.kind == Kind::Voice) {
        voice_audio.push_back(voice_at_vpim_rate(r, settings));
        voice_index.push_back(i);
      } else {
        outcomes[i].message = compose_fax(r, settings);
      }
    } catch (const std::exception& e) {
      outcomes[i].error = e.what();
    }
  }
  std::vector<std::span<const std::int16_t>> streams;
  streams.reserve(voice_audio.size());
  for (const auto& audio : voice_audio) streams.emplace_back(audio.samples);
  auto adpcm = codecs::encode_32kadpcm_batch(streams);  // throws only when out of memory
  for (std::size_t v = 0; v < voice_index.size(); ++v) {
    const std::size_t i = voice_index[v];
    try {
      outcomes[i].message = voice_message(*recordings[i], settings, voice_audio[v], adpcm[v]);
    } catch (const std::exception& e) {
      outcomes[i].error = e.what();
    }
    // The PCM and 32KADPCM of a composed recording are no longer needed.
    voice_audio[v] = {};
    adpcm[v] = {};
  }
  return outcomes;
}

}  // namespace umstore::ingest
