// The first byte picks the raw format and rate; the rest is the audio.
#include <array>
#include <cstddef>
#include <cstdint>

#include "codecs/audio.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::codecs;
  if (size == 0) return 0;
  constexpr std::array<unsigned, 5> rates = {8000, 11025, 16000, 48000, 4000};
  const auto format = static_cast<RawAudioFormat>(data[0] % 3);
  const unsigned rate = rates[(data[0] >> 2) % rates.size()];
  try {
    const PcmAudio audio = decode_raw_audio({data + 1, size - 1}, format, rate, "fuzz.raw", {.max_seconds = 20});
    (void)decode_32kadpcm({data + 1, size - 1});
    (void)resample(audio, 8000);
  } catch (const CodecError&) {
  }
  return 0;
}
