// trim_trailing_noise: walks back from the end in 10 ms frames while a frame
// is silence or a call-progress tone (Goertzel energy at the tone frequencies
// against the frame's total energy).
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

// Dial (350+440), reorder/busy (480+620) in North America; 400, 425 and 450 Hz
// single tones in the UK, Europe and elsewhere.
constexpr std::array<double, 7> tone_frequencies = {350, 400, 425, 440, 450, 480, 620};

// Energy of `frequency` in `frame`, scaled like the frame's sum of squares.
double goertzel_energy(std::span<const std::int16_t> frame, double frequency, unsigned rate) {
  const double coefficient = 2 * std::cos(2 * std::numbers::pi * frequency / rate);
  double previous = 0, before = 0;
  for (const std::int16_t sample : frame) {
    const double current = sample + coefficient * previous - before;
    before = previous;
    previous = current;
  }
  const double power = previous * previous + before * before - coefficient * previous * before;
  return 2 * power / static_cast<double>(frame.size());
}

bool is_noise(std::span<const std::int16_t> frame, unsigned rate, const TrimOptions& options) {
  double energy = 0;
  for (const std::int16_t sample : frame) energy += static_cast<double>(sample) * sample;
  const double rms = std::sqrt(energy / static_cast<double>(frame.size()));
  if (rms < 32768.0 * std::pow(10.0, options.silence_dbfs / 20)) return true;
  double tone = 0;
  for (const double frequency : tone_frequencies) tone += goertzel_energy(frame, frequency, rate);
  return tone >= options.tone_energy_share * energy;
}

}  // namespace

PcmAudio trim_trailing_noise(const PcmAudio& audio, const TrimOptions& options) {
  if (audio.sample_rate == 0 || audio.samples.empty()) return audio;
  const std::size_t frame = std::max<std::size_t>(1, audio.sample_rate / 100);
  const std::span<const std::int16_t> samples(audio.samples);
  std::size_t keep = samples.size() - samples.size() % frame;
  // A partial frame at the very end decides like any other.
  if (keep < samples.size() && !is_noise(samples.subspan(keep), audio.sample_rate, options)) return audio;
  while (keep >= frame && is_noise(samples.subspan(keep - frame, frame), audio.sample_rate, options)) keep -= frame;
  const auto tail = static_cast<std::size_t>(std::max(0.0, std::round(options.keep_seconds * audio.sample_rate)));
  keep = std::min(samples.size(), keep + tail);
  if (keep == samples.size()) return audio;
  return {audio.sample_rate, {audio.samples.begin(), audio.samples.begin() + static_cast<std::ptrdiff_t>(keep)}};
}

}  // namespace umstore::codecs
