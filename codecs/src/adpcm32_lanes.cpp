// G.726-32 encoders side by side, one per 32-bit SIMD lane: 8 in 256-bit
// registers (AVX2, or AVX-512VL with its 32 registers), 16 in AVX-512 ones.
//
// One stream cannot be split: every code depends on the whole state left by
// the sample before (predictor, step size, adaptation speed), so a single
// encoder waits on a chain of dependent steps for every sample. Independent
// streams have no such tie, so each lane runs its own stream through the
// same steps as the one-stream encoder in adpcm32.cpp, with branches turned
// into selects and table lookups into in-register permutes. The arithmetic,
// and so every output bit, is the same (tests/codecs/adpcm32_test.cpp
// compares the two on every kind of input, and fuzz_decode_audio on any).
//
// The lanes are written once (adpcm32_lanes_kernel.inc) and compiled here
// once per instruction set, each under its own target pragma, so the rest
// of the program runs on any x86-64; the CPU is checked before either runs.
#include "adpcm32_lanes.hpp"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

// Functions between these are compiled for one instruction set only.
#define UMSTORE_PRAGMA(...) _Pragma(#__VA_ARGS__)
#if defined(__clang__)
#define UMSTORE_TARGET_BEGIN(isa) UMSTORE_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define UMSTORE_TARGET_END() UMSTORE_PRAGMA(clang attribute pop)
#else
#define UMSTORE_TARGET_BEGIN(isa) UMSTORE_PRAGMA(GCC push_options) UMSTORE_PRAGMA(GCC target(isa))
#define UMSTORE_TARGET_END() UMSTORE_PRAGMA(GCC pop_options)
#endif

UMSTORE_TARGET_BEGIN("avx2")

namespace umstore::codecs::detail::avx2 {
namespace {

#include "adpcm32_lanes_256.inc"

}  // namespace
}  // namespace umstore::codecs::detail::avx2

UMSTORE_TARGET_END()
UMSTORE_TARGET_BEGIN("avx2,avx512f,avx512vl,avx512dq,avx512bw")

namespace umstore::codecs::detail::avx512vl {
namespace {

#include "adpcm32_lanes_256.inc"

}  // namespace
}  // namespace umstore::codecs::detail::avx512vl

UMSTORE_TARGET_END()
UMSTORE_TARGET_BEGIN("avx512f,avx512dq")

namespace umstore::codecs::detail::avx512 {
namespace {

using V = std::int32_t __attribute__((vector_size(64)));
using F = float __attribute__((vector_size(64)));
constexpr std::size_t lane_count = 16;

[[gnu::always_inline]] inline V splat(std::int32_t value) { return V{} + value; }
// Bitwise mask ? if_set : if_clear in one instruction (truth table 0xCA).
[[gnu::always_inline]] inline V select(V mask, V if_set, V if_clear) {
  return (V)_mm512_ternarylogic_epi32((__m512i)mask, (__m512i)if_set, (__m512i)if_clear, 0xCA);
}
// The masked forms with every lane set, the same instructions: GCC 12 warns
// that the unmasked forms' undefined pass-through source may be used.
constexpr __mmask16 all_lanes = 0xFFFF;
[[gnu::always_inline]] inline V min(V a, V b) {
  return (V)_mm512_mask_min_epi32((__m512i)a, all_lanes, (__m512i)a, (__m512i)b);
}
[[gnu::always_inline]] inline V max(V a, V b) {
  return (V)_mm512_mask_max_epi32((__m512i)a, all_lanes, (__m512i)a, (__m512i)b);
}
[[gnu::always_inline]] inline F max(F a, F b) {
  return (F)_mm512_mask_max_ps((__m512)a, all_lanes, (__m512)a, (__m512)b);
}
[[gnu::always_inline]] inline V abs(V a) { return (V)_mm512_mask_abs_epi32((__m512i)a, all_lanes, (__m512i)a); }
[[gnu::always_inline]] inline V lookup(V table, V index) {
  return (V)_mm512_mask_permutexvar_epi32((__m512i)table, all_lanes, (__m512i)index, (__m512i)table);
}
// Levels index only the first eight entries.
constexpr V table(const std::array<std::int32_t, 8>& t) {
  return V{t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], 0, 0, 0, 0, 0, 0, 0, 0};
}
// AVX-512 has no vpsignd: a subtraction from zero in the lanes whose sign bit is set.
[[gnu::always_inline]] inline V negate_where_negative(V value, V sign_source) {
  return (V)_mm512_mask_sub_epi32((__m512i)value, _mm512_movepi32_mask((__m512i)sign_source), _mm512_setzero_si512(),
                                  (__m512i)value);
}
[[gnu::always_inline]] inline bool any(V mask) { return _mm512_test_epi32_mask((__m512i)mask, (__m512i)mask) != 0; }

#include "adpcm32_lanes_kernel.inc"

}  // namespace
}  // namespace umstore::codecs::detail::avx512

UMSTORE_TARGET_END()

namespace umstore::codecs::detail {

// Outside the target regions: nothing here may use AVX before the checks.
bool cpu_has(LaneKernel kernel) {
  switch (kernel) {
    case LaneKernel::avx2:
      return __builtin_cpu_supports("avx2");
    case LaneKernel::avx512vl:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw");
    case LaneKernel::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

void encode_32kadpcm_in_lanes(LaneKernel kernel, std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs) {
  for (std::size_t i = 0; i < streams.size(); ++i) outputs[i].assign((streams[i].size() + 1) / 2, 0);
  switch (kernel) {
    case LaneKernel::avx2: return avx2::encode_in_lanes(streams, outputs);
    case LaneKernel::avx512vl: return avx512vl::encode_in_lanes(streams, outputs);
    case LaneKernel::avx512: return avx512::encode_in_lanes(streams, outputs);
  }
}

bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs) {
  // Eight streams or fewer would leave most of sixteen lanes idle; eight
  // lanes run about a tenth faster in AVX-512VL's forms than in AVX2's.
  const LaneKernel preferred[] = {streams.size() > avx2::lane_count ? LaneKernel::avx512 : LaneKernel::avx512vl,
                                  LaneKernel::avx512vl, LaneKernel::avx2};
  for (const LaneKernel kernel : preferred) {
    if (!cpu_has(kernel)) continue;
    encode_32kadpcm_in_lanes(kernel, streams, outputs);
    return true;
  }
  return false;
}

}  // namespace umstore::codecs::detail

#else  // not x86-64: the caller encodes one stream at a time

namespace umstore::codecs::detail {
bool cpu_has(LaneKernel) { return false; }
void encode_32kadpcm_in_lanes(LaneKernel, std::span<const std::span<const std::int16_t>>,
                              std::span<std::vector<std::uint8_t>>) {}
bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>>, std::span<std::vector<std::uint8_t>>) {
  return false;
}
}  // namespace umstore::codecs::detail

#endif
