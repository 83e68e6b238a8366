// G.726-32 encoding of several independent streams side by side, one per
// SIMD lane. Internal to codecs: encode_32kadpcm_batch is the public face.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace umstore::codecs::detail {

// The lane kernels, by instruction set: 8 lanes in AVX2 or AVX-512VL
// registers, 16 in AVX-512 ones.
enum class LaneKernel { avx2, avx512vl, avx512 };
bool cpu_has(LaneKernel kernel);

// Encodes every stream into its output (RFC 3802 packing, odd counts padded
// with one silent sample), bit for bit as the one-stream encoder does, with
// this kernel, which the CPU must have (tests run each one).
void encode_32kadpcm_in_lanes(LaneKernel kernel, std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs);

// The same with the best kernel for this CPU and this many streams. Returns
// false, touching nothing, when the CPU has none (x86-64 without AVX2, other
// architectures); the caller then encodes the streams one at a time.
bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs);

}  // namespace umstore::codecs::detail
