#include "ingest/pipeline.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/e164.hpp"
#include "recognised_text.hpp"

namespace umstore::ingest {
namespace {

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
  return decode_voice(r.file, r.file_name, s.voice_limits, s.decode);
}

std::string summary_with(std::string summary, const std::string& note) {
  return note.empty() ? summary : summary + ", " + note;
}

// Waits for the transcript (TextUnderway), then composes.
ComposedMessage voice_message(const Recording& r, const IngestSettings& s, const codecs::PcmAudio& audio,
                              std::span<const std::uint8_t> adpcm, TextUnderway& transcript) {
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);

  auto in = addressed<mime::VoiceMessageInput>(r, s);
  in.adpcm32k = adpcm;
  in.duration_seconds = audio.duration_seconds();
  in.playable_wav = std::span<const std::uint8_t>(wav);
  in.transcript = transcript.await().text;
  return {r.to_number, in.recipient.address, mime::compose_voice_message(in),
          summary_with(fmt::format("voice {} from {}", mime::format_duration(in.duration_seconds), caller_text(r.caller)),
                       transcript.note())};
}

ComposedMessage compose_voice(const Recording& r, const IngestSettings& s) {
  const codecs::PcmAudio audio = voice_at_vpim_rate(r, s);
  TextUnderway transcript = TextUnderway::for_voice(s.recognition, r, audio);
  return voice_message(r, s, audio, codecs::encode_32kadpcm(audio.samples), transcript);
}

// A fax converted, its text being recognised.
struct FaxUnderway {
  std::vector<std::uint8_t> tiff;
  unsigned pages = 0;
  TextUnderway text;
};

FaxUnderway start_fax(const Recording& r, const IngestSettings& s) {
  DecodedFax fax = decode_fax(r.file, r.file_name, s.fax_limits, s.decode);
  TextUnderway text = TextUnderway::for_fax(s.recognition, r, fax.tiff);
  return {std::move(fax.tiff), fax.pages, std::move(text)};
}

ComposedMessage fax_message(const Recording& r, const IngestSettings& s, FaxUnderway& fax) {
  auto in = addressed<mime::FaxMessageInput>(r, s);
  in.tiff = fax.tiff;
  in.pages = fax.pages;
  in.note = r.note;
  recognition::RecognisedText text = fax.text.await();
  in.text_first_lines = std::move(text.first_lines);
  in.recognised_text = std::move(text.text);
  return {r.to_number, in.recipient.address, mime::compose_fax_message(in),
          summary_with(fmt::format("fax {} page(s) from {}", in.pages, caller_text(r.caller)), fax.text.note())};
}

ComposedMessage compose_fax(const Recording& r, const IngestSettings& s) {
  FaxUnderway fax = start_fax(r, s);
  return fax_message(r, s, fax);
}

}  // namespace

ComposedMessage compose(const Recording& recording, const IngestSettings& settings) {
  check_mailbox_number(recording);
  return recording.kind == Kind::Voice ? compose_voice(recording, settings) : compose_fax(recording, settings);
}

std::vector<ComposeOutcome> compose_batch(std::span<const Recording* const> recordings,
                                          const IngestSettings& settings) {
  std::vector<ComposeOutcome> outcomes(recordings.size());
  // Voice recordings decoded to 8 kHz, waiting for their 32KADPCM, and
  // faxes converted; the text of each is being recognised meanwhile.
  std::vector<std::size_t> voice_index, fax_index;
  std::vector<codecs::PcmAudio> voice_audio;
  std::vector<TextUnderway> transcripts;
  std::vector<FaxUnderway> faxes;
  for (std::size_t i = 0; i < recordings.size(); ++i) {
    const Recording& r = *recordings[i];
    try {
      check_mailbox_number(r);
      if (r.kind == Kind::Voice) {
        voice_audio.push_back(voice_at_vpim_rate(r, settings));
        transcripts.push_back(TextUnderway::for_voice(settings.recognition, r, voice_audio.back()));
        voice_index.push_back(i);
      } else {
        faxes.push_back(start_fax(r, settings));
        fax_index.push_back(i);
      }
    } catch (const DecodeInterrupted&) {
      outcomes[i].interrupted = true;
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
      outcomes[i].message = voice_message(*recordings[i], settings, voice_audio[v], adpcm[v], transcripts[v]);
    } catch (const std::exception& e) {
      outcomes[i].error = e.what();
    }
    // The PCM and 32KADPCM of a composed recording are no longer needed.
    voice_audio[v] = {};
    adpcm[v] = {};
  }
  for (std::size_t f = 0; f < fax_index.size(); ++f) {
    try {
      outcomes[fax_index[f]].message = fax_message(*recordings[fax_index[f]], settings, faxes[f]);
    } catch (const std::exception& e) {
      outcomes[fax_index[f]].error = e.what();
    }
    faxes[f].tiff = {};  // no longer needed once composed
  }
  return outcomes;
}

}  // namespace umstore::ingest
