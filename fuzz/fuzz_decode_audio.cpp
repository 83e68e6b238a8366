// Any bytes into decode_audio (libsndfile: WAV, AU, ...), then the voice pipeline.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codecs/audio.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::codecs;
  try {
    // Small limits keep each run short; the limits themselves are part of what is tested.
    const PcmAudio audio = decode_audio({data, size}, "fuzz.wav", {.max_seconds = 20, .max_input_bytes = 1 << 20});
    const PcmAudio narrow = audio.sample_rate == 8000 ? audio : resample(audio, 8000);
    // The SIMD-lane encoder must agree with the one-stream encoder on
    // every input: the whole stream and its second half side by side.
    const std::span<const std::int16_t> samples = narrow.samples;
    const std::span<const std::int16_t> streams[] = {samples, samples.subspan(samples.size() / 2)};
    const auto batch = encode_32kadpcm_batch(streams);
    if (batch[0] != encode_32kadpcm(streams[0]) || batch[1] != encode_32kadpcm(streams[1])) __builtin_trap();
    (void)encode_wav_pcm16(narrow);
  } catch (const CodecError&) {
  }
  return 0;
}
