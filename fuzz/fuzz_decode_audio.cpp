// Any bytes into decode_audio (libsndfile: WAV, AU, ...), then the voice pipeline.
#include <cstddef>
#include <cstdint>

#include "codecs/audio.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::codecs;
  try {
    // Small limits keep each run short; the limits themselves are part of what is tested.
    const PcmAudio audio = decode_audio({data, size}, "fuzz.wav", {.max_seconds = 20, .max_input_bytes = 1 << 20});
    const PcmAudio narrow = audio.sample_rate == 8000 ? audio : resample(audio, 8000);
    (void)encode_32kadpcm(narrow.samples);
    (void)encode_wav_pcm16(narrow);
  } catch (const CodecError&) {
  }
  return 0;
}
