// Windowed-sinc (Kaiser) band-limited resampler.
//
// The kernel is sampled finely once (table with linear interpolation), and
// for each rate pair a polyphase filter bank is built from it and cached: a
// rational ratio in_rate:out_rate = M:L (reduced) has only L distinct output
// phases, so every output sample is a plain dot product of float
// coefficients with float input, a loop the compiler vectorises. Evaluating
// the kernel per tap per output sample made 16 kHz -> 8 kHz cost ~450 ms per
// minute of audio; the bank brings it to a few ms.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

constexpr unsigned max_rate = 768000;
constexpr int zero_crossings = 16;     // kernel half-width, in zero crossings of the sinc
constexpr int table_steps = 512;       // kernel samples per zero crossing
constexpr double kaiser_beta = 9.0;    // about 90 dB stop-band attenuation
constexpr double cutoff_fraction = 0.9;  // pass band edge, as a fraction of the lower Nyquist rate

// Dot products run in blocks of this many lanes (independent accumulators,
// so the float sum can be vectorised without -ffast-math reassociation).
constexpr std::size_t lanes = 8;
// Above this many phases (odd ratios such as 44101 -> 8000) a bank would be
// megabytes; those ratios compute each output's coefficients on the fly.
constexpr std::uint64_t max_cached_phases = 4096;
constexpr std::size_t max_cached_banks = 32;  // gateways use a handful of rates

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

// The filter for one rate pair. Output n reads input samples
// base - reach + 1 .. base + reach, base = floor(n * step / phases), with the
// coefficients of phase n * step mod phases.
struct PolyphaseBank {
  std::uint64_t phases = 1;  // L: out_rate / gcd
  std::uint64_t step = 1;    // M: in_rate / gcd
  std::int64_t reach = 0;
  std::size_t taps = 0;      // 2 * reach rounded up to a whole number of lanes (extra taps are 0)
  double scale = 1.0;        // input samples -> zero-crossing units
  std::vector<float> coefficients;  // phases * taps when cached, else empty

  // Coefficients for fractional position phase / phases, normalised by their
  // own sum so DC passes with exactly unity gain.
  void fill_phase(std::uint64_t phase, float* out) const {
    const auto& table = kernel_table();
    const double fraction = static_cast<double>(phase) / static_cast<double>(phases);
    double weight_sum = 0.0;
    std::vector<double> weights(static_cast<std::size_t>(2 * reach));
    for (std::int64_t offset = -reach + 1; offset <= reach; ++offset) {
      const double weight = kernel_at(table, (static_cast<double>(offset) - fraction) * scale);
      weights[static_cast<std::size_t>(offset + reach - 1)] = weight;
      weight_sum += weight;
    }
    std::fill(out, out + taps, 0.0f);
    if (weight_sum == 0.0) return;
    for (std::size_t i = 0; i < weights.size(); ++i) out[i] = static_cast<float>(weights[i] / weight_sum);
  }
};

std::shared_ptr<const PolyphaseBank> make_bank(unsigned in_rate, unsigned out_rate) {
  auto bank = std::make_shared<PolyphaseBank>();
  const std::uint64_t divisor = std::gcd(in_rate, out_rate);
  bank->phases = out_rate / divisor;
  bank->step = in_rate / divisor;
  // Downsampling stretches the kernel so its cut-off sits below the new Nyquist rate.
  const double stretch = std::max(1.0, static_cast<double>(in_rate) / static_cast<double>(out_rate));
  bank->scale = cutoff_fraction / stretch;
  bank->reach = static_cast<std::int64_t>(std::ceil(zero_crossings / bank->scale));
  bank->taps = (static_cast<std::size_t>(2 * bank->reach) + lanes - 1) / lanes * lanes;
  if (bank->phases <= max_cached_phases) {
    bank->coefficients.resize(bank->phases * bank->taps);
    for (std::uint64_t phase = 0; phase < bank->phases; ++phase)
      bank->fill_phase(phase, bank->coefficients.data() + phase * bank->taps);
  }
  return bank;
}

// Banks are immutable once built; the lock only guards the map.
std::shared_ptr<const PolyphaseBank> bank_for(unsigned in_rate, unsigned out_rate) {
  static std::mutex mutex;
  static std::map<std::pair<unsigned, unsigned>, std::shared_ptr<const PolyphaseBank>> banks;
  const std::pair key{in_rate, out_rate};
  {
    const std::lock_guard lock(mutex);
    if (const auto found = banks.find(key); found != banks.end()) return found->second;
  }
  auto bank = make_bank(in_rate, out_rate);  // built unlocked: other rates need not wait
  const std::lock_guard lock(mutex);
  if (banks.size() >= max_cached_banks) banks.clear();
  return banks.try_emplace(key, std::move(bank)).first->second;
}

[[gnu::always_inline]] inline float dot(const float* coefficients, const float* samples, std::size_t count) {
  float partial[lanes] = {};
  for (std::size_t i = 0; i < count; i += lanes)
    for (std::size_t lane = 0; lane < lanes; ++lane) partial[lane] += coefficients[i + lane] * samples[i + lane];
  float sum = 0.0f;
  for (const float value : partial) sum += value;
  return sum;
}

// Rounds half away from zero, as std::round, without a library call or a
// branch on the sign (which speech makes unpredictable); exact in double.
[[gnu::always_inline]] inline std::int16_t to_sample(float value) {
  const double clamped = std::clamp(static_cast<double>(value), -32768.0, 32767.0);
  return static_cast<std::int16_t>(clamped + std::copysign(0.5, clamped));
}

// Output samples from a cached bank. base + phase / phases is output n's
// source position; it advances by step / phases per output, split into
// whole and fractional parts so the loop needs no division. Returns where
// the next output's taps begin; `phase` becomes its phase.
struct BankFilter {
  const float* coefficients;
  std::size_t taps;
  std::uint64_t phases, whole_step, fraction_step;
};

[[gnu::always_inline]] inline std::uint64_t filter(const BankFilter& f, const float* padded, std::int16_t* out,
                                                   std::uint64_t count, std::uint64_t& phase) {
  std::uint64_t base = 0;
  for (std::uint64_t n = 0; n < count; ++n) {
    out[n] = to_sample(dot(f.coefficients + phase * f.taps, padded + base, f.taps));
    base += f.whole_step;
    phase += f.fraction_step;
    if (phase >= f.phases) {
      phase -= f.phases;
      ++base;
    }
  }
  return base;
}

// The same loop with 256-bit vectors where the CPU has them: each lane
// adds in the same order, so the output is identical, in about half the
// time. (No FMA: fused rounding would change the last bit.)
#if defined(__x86_64__)
[[gnu::target("avx2")]] std::uint64_t filter_avx2(const BankFilter& f, const float* padded, std::int16_t* out,
                                                  std::uint64_t count, std::uint64_t& phase) {
  return filter(f, padded, out, count, phase);
}
#endif

std::uint64_t filter_any(const BankFilter& f, const float* padded, std::int16_t* out, std::uint64_t count,
                         std::uint64_t& phase) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return filter_avx2(f, padded, out, count, phase);
#endif
  return filter(f, padded, out, count, phase);
}

}  // namespace

// The input not yet used up, as float, starting where the next output's
// taps begin; at the start that is reach - 1 zeros in front of the input,
// and finish() adds enough zeros behind that every output's taps lie
// inside: zeros contribute nothing, so the loop needs no edge cases (the
// same result as skipping samples outside the input).
struct StreamResampler::State {
  std::shared_ptr<const PolyphaseBank> bank;
  unsigned in_rate = 0, out_rate = 0;
  std::vector<float> pending;
  std::uint64_t phase = 0;
  std::uint64_t fed = 0, emitted = 0;

  // Appends the outputs whose taps lie inside `pending`, at most `limit`.
  void emit(std::vector<std::int16_t>& out, std::uint64_t limit) {
    const std::size_t taps = bank->taps;
    if (pending.size() < taps) return;
    // Output n's taps begin at floor((phase + n * step) / phases), which
    // must not pass pending.size() - taps.
    const std::uint64_t last_base = pending.size() - taps;
    const std::uint64_t count = std::min(limit, ((last_base + 1) * bank->phases - phase - 1) / bank->step + 1);
    const std::size_t first = out.size();
    out.resize(first + count);
    const std::uint64_t whole_step = bank->step / bank->phases;
    const std::uint64_t fraction_step = bank->step % bank->phases;
    std::uint64_t base = 0;
    if (!bank->coefficients.empty()) {
      base = filter_any({bank->coefficients.data(), taps, bank->phases, whole_step, fraction_step}, pending.data(),
                        out.data() + first, count, phase);
    } else {
      std::vector<float> scratch(taps);
      for (std::uint64_t n = 0; n < count; ++n) {
        bank->fill_phase(phase, scratch.data());
        out[first + n] = to_sample(dot(scratch.data(), pending.data() + base, taps));
        base += whole_step;
        phase += fraction_step;
        if (phase >= bank->phases) {
          phase -= bank->phases;
          ++base;
        }
      }
    }
    emitted += count;
    // base never passes the end: a step is shorter than the taps.
    const auto used = static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(base, pending.size()));
    pending.erase(pending.begin(), pending.begin() + used);
  }
};

StreamResampler::StreamResampler(unsigned in_rate, unsigned out_rate) : state_(std::make_unique<State>()) {
  check_rate(in_rate, "input");
  check_rate(out_rate, "output");
  state_->in_rate = in_rate;
  state_->out_rate = out_rate;
  if (in_rate == out_rate) return;
  state_->bank = bank_for(in_rate, out_rate);
  state_->pending.assign(static_cast<std::size_t>(state_->bank->reach - 1), 0.0f);
}

StreamResampler::~StreamResampler() = default;
StreamResampler::StreamResampler(StreamResampler&&) noexcept = default;
StreamResampler& StreamResampler::operator=(StreamResampler&&) noexcept = default;

void StreamResampler::feed(std::span<const std::int16_t> in, std::vector<std::int16_t>& out) {
  State& s = *state_;
  s.fed += in.size();
  if (!s.bank) {
    out.insert(out.end(), in.begin(), in.end());
    return;
  }
  s.pending.insert(s.pending.end(), in.begin(), in.end());
  s.emit(out, std::numeric_limits<std::uint64_t>::max());
}

void StreamResampler::finish(std::vector<std::int16_t>& out) {
  State& s = *state_;
  if (!s.bank) return;
  const std::uint64_t total = output_count(s.fed);
  s.pending.resize(s.pending.size() + s.bank->taps + 1, 0.0f);
  s.emit(out, total - std::min(total, s.emitted));
  s.pending.clear();
}

std::uint64_t StreamResampler::output_count(std::uint64_t input_count) const {
  return (input_count * state_->out_rate + state_->in_rate / 2) / state_->in_rate;
}

PcmAudio resample(const PcmAudio& in, unsigned rate) {
  check_rate(in.sample_rate, "input");
  check_rate(rate, "output");
  if (rate == in.sample_rate) return in;
  StreamResampler resampler(in.sample_rate, rate);
  PcmAudio out;
  out.sample_rate = rate;
  out.samples.reserve(resampler.output_count(in.samples.size()));
  resampler.feed(in.samples, out.samples);
  resampler.finish(out.samples);
  return out;
}

}  // namespace umstore::codecs
