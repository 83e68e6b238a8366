// encode_wav_pcm16: canonical 44-byte RIFF/WAVE header plus little-endian samples.
#include <bit>
#include <cstring>
#include <limits>
#include <string>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xFF));
}

void put_tag(std::vector<std::uint8_t>& out, const char (&tag)[5]) { out.insert(out.end(), tag, tag + 4); }

}  // namespace

std::vector<std::uint8_t> encode_wav_pcm16(const PcmAudio& audio) {
  constexpr std::uint32_t header_after_riff = 36;  // "WAVE" + fmt chunk (24) + data chunk header (8)
  constexpr std::uint64_t max_data = std::numeric_limits<std::uint32_t>::max() - header_after_riff;
  const std::uint64_t data_bytes = audio.samples.size() * 2ull;
  if (data_bytes > max_data)
    throw CodecError("WAV: " + std::to_string(audio.samples.size()) + " samples do not fit a RIFF file (4 GiB)");
  if (audio.sample_rate == 0 || audio.sample_rate > std::numeric_limits<std::uint32_t>::max() / 2)
    throw CodecError("WAV: invalid sample rate " + std::to_string(audio.sample_rate) + " Hz");

  std::vector<std::uint8_t> out;
  out.reserve(44 + data_bytes);
  put_tag(out, "RIFF");
  put_u32(out, static_cast<std::uint32_t>(header_after_riff + data_bytes));
  put_tag(out, "WAVE");
  put_tag(out, "fmt ");
  put_u32(out, 16);                     // fmt chunk size
  put_u16(out, 1);                      // WAVE_FORMAT_PCM
  put_u16(out, 1);                      // mono
  put_u32(out, audio.sample_rate);
  put_u32(out, audio.sample_rate * 2);  // byte rate
  put_u16(out, 2);                      // block align
  put_u16(out, 16);                     // bits per sample
  put_tag(out, "data");
  put_u32(out, static_cast<std::uint32_t>(data_bytes));
  // Sized once and filled by index: a push_back per byte cost as much as the header checks a thousand times over.
  const std::size_t header_bytes = out.size();
  out.resize(header_bytes + static_cast<std::size_t>(data_bytes));
  std::uint8_t* data = out.data() + header_bytes;
  if constexpr (std::endian::native == std::endian::little) {
    // Already WAV's byte order. No samples may mean no buffer: memcpy wants a pointer even for 0 bytes.
    if (data_bytes != 0) std::memcpy(data, audio.samples.data(), static_cast<std::size_t>(data_bytes));
  } else {
    for (const std::int16_t sample : audio.samples) {
      const auto value = static_cast<std::uint16_t>(sample);
      *data++ = static_cast<std::uint8_t>(value & 0xFF);
      *data++ = static_cast<std::uint8_t>(value >> 8);
    }
  }
  return out;
}

}  // namespace umstore::codecs
