// decode_raw_audio: headerless G.711 and 32KADPCM, the formats gateways drop
// when they do not bother with a container.
#include <array>
#include <string>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

constexpr unsigned min_raw_rate = 8000;
constexpr unsigned max_raw_rate = 48000;

// ITU-T G.711 expansion, as in the reference implementation (bits inverted on the wire).
std::int16_t expand_mulaw(std::uint8_t code) {
  code = static_cast<std::uint8_t>(~code);
  const int exponent = (code >> 4) & 0x07;
  const int magnitude = (((code & 0x0F) << 3) + 0x84) << exponent;
  return static_cast<std::int16_t>((code & 0x80) ? (0x84 - magnitude) : (magnitude - 0x84));
}

std::int16_t expand_alaw(std::uint8_t code) {
  code ^= 0x55;
  const int exponent = (code >> 4) & 0x07;
  int magnitude = (code & 0x0F) << 4;
  magnitude = exponent == 0 ? magnitude + 8 : (magnitude + 0x108) << (exponent - 1);
  return static_cast<std::int16_t>((code & 0x80) ? magnitude : -magnitude);
}

template <std::int16_t (*expand)(std::uint8_t)>
const std::array<std::int16_t, 256>& expansion_table() {
  static const std::array<std::int16_t, 256> table = [] {
    std::array<std::int16_t, 256> values{};
    for (unsigned code = 0; code < 256; ++code) values[code] = expand(static_cast<std::uint8_t>(code));
    return values;
  }();
  return table;
}

const char* format_label(RawAudioFormat format) {
  switch (format) {
    case RawAudioFormat::mulaw: return "raw G.711 u-law";
    case RawAudioFormat::alaw: return "raw G.711 A-law";
    case RawAudioFormat::adpcm32k: return "raw 32KADPCM";
  }
  return "raw audio";
}

[[noreturn]] void fail(std::string_view name, RawAudioFormat format, const std::string& problem) {
  throw CodecError(std::string(name) + ": " + format_label(format) + ": " + problem);
}

}  // namespace

PcmAudio decode_raw_audio(std::span<const std::uint8_t> bytes, RawAudioFormat format, unsigned sample_rate,
                          std::string_view name, const AudioLimits& limits) {
  if (bytes.empty()) fail(name, format, "empty input");
  if (bytes.size() > limits.max_input_bytes)
    fail(name, format, "input is " + std::to_string(bytes.size()) + " bytes, limit " + std::to_string(limits.max_input_bytes));
  const bool adpcm = format == RawAudioFormat::adpcm32k;
  if (adpcm ? sample_rate != 8000 : (sample_rate < min_raw_rate || sample_rate > max_raw_rate))
    fail(name, format, "sample rate " + std::to_string(sample_rate) + " Hz is not supported (" +
                           (adpcm ? std::string("G.726 is 8000 Hz only") : "8000..48000 Hz") + ")");
  const double seconds = static_cast<double>(bytes.size()) * (adpcm ? 2 : 1) / sample_rate;
  if (seconds > limits.max_seconds)
    throw LimitExceeded(LimitExceeded::Limit::voice_seconds,
                        std::string(name) + ": " + format_label(format) + ": too long: " +
                            std::to_string(static_cast<long long>(seconds)) + " s, limit " +
                            std::to_string(static_cast<long long>(limits.max_seconds)) + " s");
  PcmAudio audio;
  audio.sample_rate = sample_rate;
  if (adpcm) {
    audio.samples = decode_32kadpcm(bytes);
    return audio;
  }
  const auto& table = format == RawAudioFormat::mulaw ? expansion_table<expand_mulaw>() : expansion_table<expand_alaw>();
  audio.samples.reserve(bytes.size());
  for (const std::uint8_t code : bytes) audio.samples.push_back(table[code]);
  return audio;
}

}  // namespace umstore::codecs
