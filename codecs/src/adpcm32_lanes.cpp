// Eight G.726-32 encoders in the eight 32-bit lanes of AVX2 registers.
//
// One stream cannot be split: every code depends on the whole state left by
// the sample before (predictor, step size, adaptation speed), so a single
// encoder waits on a chain of dependent steps for every sample. Independent
// streams have no such tie, so each lane runs its own stream through the
// same steps as the one-stream encoder in adpcm32.cpp, with branches turned
// into selects and table lookups into in-register permutes. The arithmetic,
// and so every output bit, is the same (tests/codecs/adpcm32_test.cpp
// compares the two on every kind of input).
#include "adpcm32_lanes.hpp"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <cstddef>

// Everything below is compiled for AVX2 and called only after a CPU check.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

namespace umstore::codecs::detail {
namespace {

constexpr std::size_t lane_count = 8;
using V = std::int32_t __attribute__((vector_size(32)));
using F = float __attribute__((vector_size(32)));

[[gnu::always_inline]] inline V splat(std::int32_t value) { return V{} + value; }
[[gnu::always_inline]] inline V select(V mask, V if_set, V if_clear) {
  return (V)(_mm256_blendv_epi8((__m256i)(if_clear), (__m256i)(if_set),
                                             (__m256i)(mask)));
}
[[gnu::always_inline]] inline V min(V a, V b) {
  return (V)(_mm256_min_epi32((__m256i)(a), (__m256i)(b)));
}
[[gnu::always_inline]] inline V max(V a, V b) {
  return (V)(_mm256_max_epi32((__m256i)(a), (__m256i)(b)));
}
[[gnu::always_inline]] inline V abs(V a) { return (V)(_mm256_abs_epi32((__m256i)(a))); }
[[gnu::always_inline]] inline V clamp(V value, std::int32_t low, std::int32_t high) {
  return min(max(value, splat(low)), splat(high));
}
[[gnu::always_inline]] inline V int16(V value) { return (value << 16) >> 16; }  // wraps as int16_t does
[[gnu::always_inline]] inline V float_bits(V value) { return (V)(__builtin_convertvector(value, F)); }
// table[index] per lane, for eight-entry tables indexed by quantizer level.
[[gnu::always_inline]] inline V lookup(V table, V index) {
  return (V)(_mm256_permutevar8x32_epi32((__m256i)(table), (__m256i)(index)));
}

// The same tables, float forms and tricks as G726Encoder in adpcm32.cpp;
// its comments explain them.
constexpr V dqln_by_level = {-2048, 4, 135, 213, 273, 323, 373, 425};
constexpr V wi_by_level = {-384, 576, 1312, 2048, 3584, 6336, 11360, 35904};
constexpr V fi_by_level = {0x000, 0x000, 0x000, 0x200, 0x200, 0x200, 0x600, 0xE00};
constexpr std::array<std::int32_t, 7> quantizer_steps = {-124, 80, 178, 246, 300, 349, 400};
constexpr std::int32_t history_zero = (127 - 17) << 23;

// Masks are all ones (true) or zero per lane.
struct LaneStates {
  V yl, yu, dms, dml, ap;
  V a1, a2;
  V b[6];   // zero predictor coefficients b1..b6
  V dq[6];  // dq(n-1)..dq(n-6), FMULT form
  V sr[2];  // sr(n-1), sr(n-2), FMULT form
  V pk0, pk1, td;
};

// The encoder's initial state (G.726 reset) in every lane.
LaneStates initial_states() {
  LaneStates s{};
  s.yl = splat(34816);
  s.yu = splat(544);
  for (V& h : s.dq) h = splat(history_zero);
  for (V& h : s.sr) h = splat(history_zero);
  return s;
}

void reset_field(V& field, const V& initial, std::size_t lane) { field[lane] = initial[lane]; }

void reset_lane(LaneStates& s, std::size_t lane) {
  const LaneStates initial = initial_states();
  for (auto [field, from] : {std::pair{&s.yl, &initial.yl}, {&s.yu, &initial.yu}, {&s.dms, &initial.dms},
                             {&s.dml, &initial.dml}, {&s.ap, &initial.ap}, {&s.a1, &initial.a1}, {&s.a2, &initial.a2},
                             {&s.pk0, &initial.pk0}, {&s.pk1, &initial.pk1}, {&s.td, &initial.td}})
    reset_field(*field, *from, lane);
  for (std::size_t i = 0; i < 6; ++i) reset_field(s.b[i], initial.b[i], lane), reset_field(s.dq[i], initial.dq[i], lane);
  for (std::size_t i = 0; i < 2; ++i) reset_field(s.sr[i], initial.sr[i], lane);
}

[[gnu::always_inline]] inline V fmult(V coefficient, V history) {
  const V an = coefficient >> 2;
  const V an_sign = an >> 31;
  const V anmag = ((an ^ an_sign) - an_sign) & 0x1FFF;
  const V bits = float_bits(anmag);
  const F anmant = (F)((bits & 0x007C0000) | 0x42000000);
  const F anpower = (F)((bits & static_cast<std::int32_t>(0xFF800000)) - 0x00800000);
  const F anpower_or_quarter = (F)(_mm256_max_ps((__m256)(anpower), _mm256_set1_ps(0.25f)));
  const F mantissa = (F)((history & 0x007C0000) | 0x40000000);
  const F power = (F)(history & 0x7F800000);
  const F wanmant = __builtin_convertvector(__builtin_convertvector(anmant * mantissa + 3.0f, V), F);
  const V product = __builtin_convertvector(wanmant * (anpower_or_quarter * power), V) & 0x7FFF;
  const V flip = an_sign ^ (history >> 31);
  return (product ^ flip) - flip;
}

[[gnu::always_inline]] inline V history_form(V magnitude, V negative) {
  const V converted = (float_bits(magnitude) & static_cast<std::int32_t>(0xFFFC0000)) - (16 << 23);
  return select(magnitude == 0, splat(history_zero), converted) | (negative & static_cast<std::int32_t>(0x80000000));
}

// One sample per lane through every block of the encoder; returns the codes.
[[gnu::always_inline]] inline V encode_step(LaneStates& s, V sample) {
  const V sl = sample >> 2;
  V zero_sum = fmult(s.b[0], s.dq[0]);
  for (std::size_t i = 1; i < 6; ++i) zero_sum += fmult(s.b[i], s.dq[i]);
  const V sezi = int16(zero_sum);
  const V sei = int16(sezi + int16(fmult(s.a1, s.sr[0]) + fmult(s.a2, s.sr[1])));
  const V se = sei >> 1;
  const V d = int16(sl - se);

  // MIX
  const V yl6 = s.yl >> 6;
  const V dif = s.yu - yl6;
  const V mixed = yl6 + ((dif * (s.ap >> 2) + ((dif < 0) & 0x3F)) >> 6);
  const V y = select(s.ap >= 256, s.yu, mixed);
  const V yq = y >> 2;

  // QUAN
  const V dqm = abs(d);
  const V half = dqm >> 1;
  const V exponent = select(half == 0, V{}, (float_bits(half) >> 23) - 126);  // bit_width(half)
  const V dl = (exponent << 7) + (((dqm << 7) >> exponent) & 0x7F);
  const V dln = dl - yq;
  V level{};
  for (const std::int32_t step : quantizer_steps) level -= dln >= step;
  const V code = select(level == 0, splat(15), select(d < 0, 15 - level, level));
  const V negative = code >= 8;

  // Reconstruction
  const V dql = lookup(dqln_by_level, level) + yq;
  const V dex = (dql >> 7) & 15;
  const V dqt = 128 + (dql & 127);
  const V mag = select(level == 0, V{}, (dqt << 7) >> ((14 - dex) & 31));  // level 0 may shift by -1: masked
  const V sr = int16(select(negative, se - mag, se + mag));
  const V dqsez = int16(sr + (sezi >> 1) - se);

  // Adaptation
  const V pk0 = dqsez < 0;
  const V ylint = s.yl >> 15;
  const V thr = select(ylint > 9, splat(31 << 10), (32 + ((s.yl >> 10) & 0x1F)) << min(ylint, splat(9)));
  const V tr = s.td & (mag > ((thr + (thr >> 1)) >> 1));  // TRANS

  s.yu = clamp(y + ((lookup(wi_by_level, level) - y) >> 5), 544, 5120);
  s.yl += s.yu + ((-s.yl) >> 6);

  const V active = dqsez != 0;
  const V pks1 = pk0 ^ s.pk0;
  const V a2_leaked = int16(s.a2 - (s.a2 >> 7));
  const V fa1 = int16(select(pks1, s.a1, -s.a1));
  const V a2_moved = int16(a2_leaked + (clamp(fa1, -8192, 8191) >> 5));
  const V a2_limited = clamp(a2_moved + select(pk0 ^ s.pk1, splat(-0x80), splat(0x80)), -12288, 12288);
  const V a2p = select(active, a2_limited, a2_leaked);
  const V a1_leaked = int16(s.a1 - (s.a1 >> 8));
  const V a1_moved = select(active, int16(a1_leaked + select(pks1, splat(-192), splat(192))), a1_leaked);
  const V a1ul = 15360 - a2p;
  const V keep = ~tr;
  s.a1 = min(max(a1_moved, -a1ul), a1ul) & keep;
  s.a2 = a2p & keep;
  const V sign_step = (mag != 0) & 128;  // UPB: +-128 by sign agreement, nothing for a zero dq
  for (std::size_t i = 0; i < 6; ++i) {
    const V agree_step = select(negative ^ (s.dq[i] >> 31), -sign_step, sign_step);
    s.b[i] = int16(s.b[i] - (s.b[i] >> 8) + agree_step) & keep;
  }

  for (std::size_t i = 5; i > 0; --i) s.dq[i] = s.dq[i - 1];
  s.dq[0] = history_form(mag, negative);
  s.sr[1] = s.sr[0];
  s.sr[0] = history_form(abs(sr) & 0x7FFF, sr < 0);
  s.pk1 = s.pk0;
  s.pk0 = pk0;
  s.td = s.a2 < -11776;  // TONE

  const V fi = lookup(fi_by_level, level);
  s.dms = int16(s.dms + ((fi - s.dms) >> 5));
  s.dml = int16(s.dml + (((fi << 2) - s.dml) >> 7));
  const V fast = (y < 1536) | s.td | (abs((s.dms << 2) - s.dml) >= (s.dml >> 3));  // SUBTC
  s.ap = select(tr, splat(256), int16(s.ap + select(fast, (0x200 - s.ap) >> 4, (-s.ap) >> 4)));
  return code;
}

// Steps per block: the interleaved inputs and codes stay in the L1 cache.
constexpr std::size_t block_steps = 512;

[[gnu::noinline]] void encode_block(LaneStates& states, const V* samples, V* codes, std::size_t steps) {
  LaneStates s = states;
  for (std::size_t t = 0; t < steps; ++t) codes[t] = encode_step(s, samples[t]);
  states = s;
}

struct Lane {
  std::size_t stream = 0;
  std::size_t position = 0;  // samples done
  std::size_t end = 0;       // sample count, padded to even
  bool busy = false;
};

void encode_in_lanes(std::span<const std::span<const std::int16_t>> streams,
                     std::span<std::vector<std::uint8_t>> outputs) {
  LaneStates states = initial_states();
  std::array<Lane, lane_count> lanes{};
  alignas(32) std::array<V, block_steps> samples;
  alignas(32) std::array<V, block_steps> codes;
  std::size_t next = 0;
  for (;;) {
    // A free lane takes the next stream, from the encoder's initial state.
    for (std::size_t j = 0; j < lane_count; ++j) {
      while (!lanes[j].busy && next < streams.size()) {
        const std::size_t n = streams[next].size();
        if (n != 0) {
          lanes[j] = {next, 0, n + n % 2, true};
          reset_lane(states, j);
        }
        ++next;
      }
    }
    std::size_t steps = block_steps;
    for (const Lane& lane : lanes)
      if (lane.busy) steps = std::min(steps, lane.end - lane.position);
    if (steps == block_steps && std::none_of(lanes.begin(), lanes.end(), [](const Lane& l) { return l.busy; })) break;

    for (std::size_t j = 0; j < lane_count; ++j) {
      const Lane& lane = lanes[j];
      const std::span<const std::int16_t> in = lane.busy ? streams[lane.stream] : std::span<const std::int16_t>{};
      for (std::size_t t = 0; t < steps; ++t) {
        const std::size_t at = lane.position + t;
        samples[t][j] = at < in.size() ? in[at] : 0;  // the odd count's silent pad, or an idle lane
      }
    }
    encode_block(states, samples.data(), codes.data(), steps);
    for (std::size_t j = 0; j < lane_count; ++j) {
      Lane& lane = lanes[j];
      if (!lane.busy) continue;
      std::uint8_t* out = outputs[lane.stream].data() + lane.position / 2;
      for (std::size_t t = 0; t < steps; t += 2) *out++ = static_cast<std::uint8_t>(codes[t][j] | (codes[t + 1][j] << 4));
      lane.position += steps;
      lane.busy = lane.position < lane.end;
    }
  }
}

}  // namespace
}  // namespace umstore::codecs::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace umstore::codecs::detail {
// Outside the AVX2 region: nothing here may use AVX2 before the check.
bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs) {
  if (!__builtin_cpu_supports("avx2")) return false;
  for (std::size_t i = 0; i < streams.size(); ++i) outputs[i].assign((streams[i].size() + 1) / 2, 0);
  encode_in_lanes(streams, outputs);
  return true;
}
}  // namespace umstore::codecs::detail

#else  // not x86-64: the caller encodes one stream at a time

namespace umstore::codecs::detail {
bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>>, std::span<std::vector<std::uint8_t>>) {
  return false;
}
}  // namespace umstore::codecs::detail

#endif
