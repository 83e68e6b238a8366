#pragma once
// Voice codecs: pure functions, bytes in and bytes out, no files, no sockets.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::codecs {

// An input the codecs cannot use. what() names the input, the format found
// and what is wrong, e.g. "voicemail.wav: WAV (IMA ADPCM): truncated data chunk".
class CodecError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PcmAudio {
  unsigned sample_rate = 8000;
  std::vector<std::int16_t> samples;  // mono
  double duration_seconds() const {
    return sample_rate ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

struct AudioLimits {
  double max_seconds = 3600;
  std::size_t max_input_bytes = 512u << 20;
};

// Any container/encoding libsndfile reads (WAV PCM/float/u-law/A-law/ADPCM/GSM,
// AU, ...); stereo is mixed down to mono. `name` is used in error messages only.
PcmAudio decode_audio(std::span<const std::uint8_t> file, std::string_view name, const AudioLimits& limits = {});

// Band-limited resampling (anti-alias low-pass) to `rate`.
PcmAudio resample(const PcmAudio& in, unsigned rate);

// G.726 32 kbit/s (ITU-T G.726 via spandsp) with RFC 3802 packing: the first
// sample's code in the low nibble. Input must be 8 kHz; an odd sample count
// is padded with one silent sample.
std::vector<std::uint8_t> encode_32kadpcm(std::span<const std::int16_t> pcm_8khz);
std::vector<std::int16_t> decode_32kadpcm(std::span<const std::uint8_t> adpcm);

// RIFF WAVE, 16-bit linear PCM, mono: the one WAV encoding every mail client
// and browser plays.
std::vector<std::uint8_t> encode_wav_pcm16(const PcmAudio& audio);

}  // namespace umstore::codecs
