#pragma once
// Voice codecs: pure functions, bytes in and bytes out, no files, no sockets.
#include <cstdint>
#include <memory>
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

// An input over a limit the caller set (AudioLimits, FaxLimits). `limit`
// says which, so a caller that took it from its configuration can name the
// setting.
class LimitExceeded : public CodecError {
 public:
  enum class Limit { voice_seconds, fax_pixels, fax_pages };
  LimitExceeded(Limit limit, const std::string& message) : CodecError(message), limit_(limit) {}
  Limit limit() const { return limit_; }

 private:
  Limit limit_;
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
// The same, resampled to `rate` (as resample() would, sample for sample)
// while it decodes: block by block, so it holds the output and a block,
// never the whole recording at its own rate (an hour of 48 kHz would take
// 345 MB as 16-bit mono, twice that as the resampler's floats).
PcmAudio decode_audio_at(unsigned rate, std::span<const std::uint8_t> file, std::string_view name,
                         const AudioLimits& limits = {});

// Headerless audio as gateways write it.
enum class RawAudioFormat {
  mulaw,     // G.711 u-law, one octet per sample
  alaw,      // G.711 A-law, one octet per sample
  adpcm32k,  // audio/32KADPCM (G.726-32, RFC 3802 packing), 8 kHz only
};

// Decodes raw G.711 at `sample_rate` (8000..48000 Hz) or raw 32KADPCM
// (sample_rate must be 8000). Throws CodecError naming `name` for empty
// input, a bad rate or a duration over the limit.
PcmAudio decode_raw_audio(std::span<const std::uint8_t> bytes, RawAudioFormat format, unsigned sample_rate,
                          std::string_view name, const AudioLimits& limits = {});

// What trim_trailing_noise removes from the end of a recording: what gateways
// record after the caller hangs up. The library does nothing unless called;
// callers enable it from configuration (off by default there: a pause at the
// end can be content, and a trimmed recording cannot be restored).
struct TrimOptions {
  double silence_dbfs = -45;        // a 10 ms frame below this RMS level is silence
  double tone_energy_share = 0.85;  // ... or a call-progress tone when that share of its energy
                                    // sits at 350/400/425/440/450/480/620 Hz
  double keep_seconds = 0.2;        // left after the last speech, so the end does not sound cut
};

// Removes trailing silence and reorder/busy/dial tones (with their cadence
// gaps) in whole 10 ms frames, keeping `keep_seconds`. Returns the input
// unchanged when its end is speech.
PcmAudio trim_trailing_noise(const PcmAudio& audio, const TrimOptions& options = {});

// Band-limited resampling (anti-alias low-pass) to `rate`.
PcmAudio resample(const PcmAudio& in, unsigned rate);

// resample() over an input that comes in pieces: feed() appends what it can
// compute so far, finish() the rest; the concatenated output equals
// resample() of the concatenated input. It holds one filter's length of
// input beyond what it was last fed.
class StreamResampler {
 public:
  StreamResampler(unsigned in_rate, unsigned out_rate);  // throws CodecError for a rate out of range
  ~StreamResampler();
  StreamResampler(StreamResampler&&) noexcept;
  StreamResampler& operator=(StreamResampler&&) noexcept;

  void feed(std::span<const std::int16_t> in, std::vector<std::int16_t>& out);
  void finish(std::vector<std::int16_t>& out);
  // How many outputs `input_count` inputs make.
  std::uint64_t output_count(std::uint64_t input_count) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// G.726 32 kbit/s (ITU-T G.726 via spandsp) with RFC 3802 packing: the first
// sample's code in the low nibble. Input must be 8 kHz; an odd sample count
// is padded with one silent sample.
std::vector<std::uint8_t> encode_32kadpcm(std::span<const std::int16_t> pcm_8khz);
// Several independent streams at once, each output identical to
// encode_32kadpcm of its input: the streams run side by side in SIMD lanes,
// which is how a core converts many voicemails faster than one at a time.
std::vector<std::vector<std::uint8_t>> encode_32kadpcm_batch(std::span<const std::span<const std::int16_t>> streams);
std::vector<std::int16_t> decode_32kadpcm(std::span<const std::uint8_t> adpcm);

// RIFF WAVE, 16-bit linear PCM, mono: the one WAV encoding every mail client
// and browser plays.
std::vector<std::uint8_t> encode_wav_pcm16(const PcmAudio& audio);

}  // namespace umstore::codecs
