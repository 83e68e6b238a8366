// G.726-32 encoding of several independent streams side by side, one per
// SIMD lane. Internal to codecs: encode_32kadpcm_batch is the public face.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace umstore::codecs::detail {

// Encodes every stream into its output (RFC 3802 packing, odd counts padded
// with one silent sample), bit for bit as the one-stream encoder does.
// Returns false, touching nothing, when this CPU lacks the instructions
// (x86-64 AVX2); the caller then encodes the streams one at a time.
bool encode_32kadpcm_in_lanes(std::span<const std::span<const std::int16_t>> streams,
                              std::span<std::vector<std::uint8_t>> outputs);

}  // namespace umstore::codecs::detail
