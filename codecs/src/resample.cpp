// Windowed-sinc (Kaiser) band-limited resampler with a finely sampled kernel
// table and linear interpolation between table entries, so any rate ratio
// works without a per-ratio polyphase bank.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

constexpr unsigned max_rate = 768000;
constexpr int zero_crossings = 16;     // kernel half-width, in zero crossings of the sinc
constexpr int table_steps = 512;       // kernel samples per zero crossing
constexpr double kaiser_beta = 9.0;    // about 90 dB stop-band attenuation
constexpr double cutoff_fraction = 0.9;  // pass band edge, as a fraction of the lower Nyquist rate

double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2.0 * k)) * (x / (2.0 * k));
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

// kernel[i] = sinc(u) * kaiser(u / zero_crossings) for u = i / table_steps.
const std::vector<double>& kernel_table() {
  static const std::vector<double> table = [] {
    std::vector<double> values(zero_crossings * table_steps + 2, 0.0);
    const double window_norm = bessel_i0(kaiser_beta);
    for (std::size_t i = 0; i + 1 < values.size(); ++i) {
      const double u = static_cast<double>(i) / table_steps;
      const double sinc = i == 0 ? 1.0 : std::sin(std::numbers::pi * u) / (std::numbers::pi * u);
      const double r = u / zero_crossings;
      const double window = r >= 1.0 ? 0.0 : bessel_i0(kaiser_beta * std::sqrt(1.0 - r * r)) / window_norm;
      values[i] = sinc * window;
    }
    return values;
  }();
  return table;
}

double kernel_at(const std::vector<double>& table, double u) {
  const double position = std::abs(u) * table_steps;
  const auto index = static_cast<std::size_t>(position);
  if (index + 1 >= table.size()) return 0.0;
  const double fraction = position - static_cast<double>(index);
  return table[index] + fraction * (table[index + 1] - table[index]);
}

void check_rate(unsigned rate, const char* which) {
  if (rate == 0 || rate > max_rate)
    throw CodecError(std::string("resample: ") + which + " sample rate " + std::to_string(rate) +
                     " Hz is outside 1.." + std::to_string(max_rate) + " Hz");
}

}  // namespace

PcmAudio resample(const PcmAudio& in, unsigned rate) {
  check_rate(in.sample_rate, "input");
  check_rate(rate, "output");
  if (rate == in.sample_rate) return in;

  const auto& table = kernel_table();
  const std::uint64_t in_rate = in.sample_rate;
  const std::uint64_t out_rate = rate;
  const std::uint64_t in_count = in.samples.size();
  const std::uint64_t out_count = (in_count * out_rate + in_rate / 2) / in_rate;
  // Downsampling stretches the kernel so its cut-off sits below the new Nyquist rate.
  const double stretch = std::max(1.0, static_cast<double>(in_rate) / static_cast<double>(out_rate));
  const double scale = cutoff_fraction / stretch;  // input samples -> zero-crossing units
  const auto reach = static_cast<std::int64_t>(std::ceil(zero_crossings / scale));

  PcmAudio out;
  out.sample_rate = rate;
  out.samples.reserve(out_count);
  const auto last = static_cast<std::int64_t>(in_count) - 1;
  for (std::uint64_t n = 0; n < out_count; ++n) {
    // Exact source position base + fraction, from integer arithmetic.
    const auto base = static_cast<std::int64_t>(n * in_rate / out_rate);
    const double fraction = static_cast<double>(n * in_rate % out_rate) / static_cast<double>(out_rate);
    double sum = 0.0, weight_sum = 0.0;
    for (std::int64_t k = base - reach + 1; k <= base + reach; ++k) {
      const double weight = kernel_at(table, (static_cast<double>(k - base) - fraction) * scale);
      weight_sum += weight;
      if (k >= 0 && k <= last) sum += weight * in.samples[static_cast<std::size_t>(k)];
    }
    // Normalising by the kernel's own sum gives exact unity gain at DC.
    const double value = weight_sum != 0.0 ? sum / weight_sum : 0.0;
    out.samples.push_back(static_cast<std::int16_t>(std::clamp(std::round(value), -32768.0, 32767.0)));
  }
  return out;
}

}  // namespace umstore::codecs
