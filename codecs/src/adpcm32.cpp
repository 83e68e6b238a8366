// audio/32KADPCM (RFC 3802): ITU-T G.726 at 32 kbit/s through spandsp.
#include <ctime>  // spandsp.h uses time_t without including it
#include <spandsp.h>

#include <algorithm>
#include <memory>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

struct G726Releaser {
  void operator()(g726_state_t* state) const { g726_free(state); }
};
using G726State = std::unique_ptr<g726_state_t, G726Releaser>;

// G726_PACKING_RIGHT puts the first code in the low nibble: RFC 3802 order.
G726State make_state() {
  G726State state(g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_RIGHT));
  if (!state) throw CodecError("32KADPCM: cannot initialise the G.726 codec (out of memory)");
  return state;
}

constexpr std::size_t block_samples = 8000;  // keeps every spandsp call's int length small

}  // namespace

std::vector<std::uint8_t> encode_32kadpcm(std::span<const std::int16_t> pcm_8khz) {
  const G726State state = make_state();
  std::vector<std::uint8_t> out;
  out.reserve((pcm_8khz.size() + 1) / 2);
  std::vector<std::uint8_t> block(block_samples / 2 + 1);
  for (std::size_t start = 0; start < pcm_8khz.size(); start += block_samples) {
    const std::size_t count = std::min(block_samples, pcm_8khz.size() - start);
    const int bytes = g726_encode(state.get(), block.data(), pcm_8khz.data() + start, static_cast<int>(count));
    out.insert(out.end(), block.begin(), block.begin() + bytes);
  }
  if (pcm_8khz.size() % 2 != 0) {
    // Pad with one silent sample so the last code fills its octet's high nibble.
    const std::int16_t silence = 0;
    std::uint8_t tail[2] = {};
    const int bytes = g726_encode(state.get(), tail, &silence, 1);
    out.insert(out.end(), tail, tail + bytes);
  }
  return out;
}

std::vector<std::int16_t> decode_32kadpcm(std::span<const std::uint8_t> adpcm) {
  const G726State state = make_state();
  std::vector<std::int16_t> out;
  out.reserve(adpcm.size() * 2);
  constexpr std::size_t block_bytes = block_samples / 2;
  std::vector<std::int16_t> block(block_samples);
  for (std::size_t start = 0; start < adpcm.size(); start += block_bytes) {
    const std::size_t count = std::min(block_bytes, adpcm.size() - start);
    const int samples = g726_decode(state.get(), block.data(), adpcm.data() + start, static_cast<int>(count));
    out.insert(out.end(), block.begin(), block.begin() + samples);
  }
  return out;
}

}  // namespace umstore::codecs
