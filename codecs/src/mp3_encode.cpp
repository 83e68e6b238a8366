// encode_mp3 through libmp3lame.
#include <lame/lame.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "codecs/mp3.hpp"

namespace umstore::codecs {
namespace {

struct LameCloser {
  void operator()(lame_global_flags* flags) const { lame_close(flags); }
};
using Lame = std::unique_ptr<lame_global_flags, LameCloser>;

constexpr std::array<unsigned, 9> mpeg_rates = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
constexpr std::size_t block_samples = 8192;

[[noreturn]] void fail(const std::string& problem) { throw CodecError("MP3 encoder: " + problem); }

Lame configure(const PcmAudio& audio, unsigned kbps) {
  Lame lame(lame_init());
  if (!lame) fail("cannot initialise LAME (out of memory)");
  const bool native = std::find(mpeg_rates.begin(), mpeg_rates.end(), audio.sample_rate) != mpeg_rates.end();
  lame_set_in_samplerate(lame.get(), static_cast<int>(audio.sample_rate));
  // Rates MPEG lacks go to 16 kHz: plenty for telephone speech.
  lame_set_out_samplerate(lame.get(), native ? static_cast<int>(audio.sample_rate) : 16000);
  lame_set_num_channels(lame.get(), 1);
  lame_set_mode(lame.get(), MONO);
  lame_set_VBR(lame.get(), vbr_off);
  lame_set_brate(lame.get(), static_cast<int>(kbps));
  lame_set_quality(lame.get(), 5);  // LAME's default speed/quality balance
  // The Info frame carries encoder delay and padding, so decoders trim them
  // and the MP3 plays exactly as long as the recording.
  lame_set_bWriteVbrTag(lame.get(), 1);
  lame_set_write_id3tag_automatic(lame.get(), 0);
  if (lame_init_params(lame.get()) < 0)
    fail("LAME rejects " + std::to_string(kbps) + " kbit/s at " + std::to_string(audio.sample_rate) + " Hz");
  return lame;
}

}  // namespace

std::vector<std::uint8_t> encode_mp3(const PcmAudio& audio, unsigned kbps) {
  if (audio.samples.empty()) fail("no audio samples");
  if (kbps < 8 || kbps > 160) fail("bit rate " + std::to_string(kbps) + " kbit/s is outside 8..160");
  if (audio.sample_rate < 8000 || audio.sample_rate > 48000)
    fail("sample rate " + std::to_string(audio.sample_rate) + " Hz is outside 8000..48000");
  const Lame lame = configure(audio, kbps);
  std::vector<std::uint8_t> out;
  // LAME's documented worst case: 1.25 * samples + 7200 bytes per call.
  std::vector<unsigned char> buffer(block_samples * 5 / 4 + 7200);
  for (std::size_t start = 0; start < audio.samples.size(); start += block_samples) {
    const std::size_t count = std::min(block_samples, audio.samples.size() - start);
    // LAME's API takes non-const pointers but does not write through them.
    auto* pcm = const_cast<short*>(audio.samples.data() + start);
    const int bytes = lame_encode_buffer(lame.get(), pcm, nullptr, static_cast<int>(count), buffer.data(),
                                         static_cast<int>(buffer.size()));
    if (bytes < 0) fail("encoding failed (LAME error " + std::to_string(bytes) + ")");
    out.insert(out.end(), buffer.begin(), buffer.begin() + bytes);
  }
  const int bytes = lame_encode_flush(lame.get(), buffer.data(), static_cast<int>(buffer.size()));
  if (bytes < 0) fail("flushing failed (LAME error " + std::to_string(bytes) + ")");
  out.insert(out.end(), buffer.begin(), buffer.begin() + bytes);
  // LAME emitted a placeholder for the Info frame first; fill it in now the totals are known.
  const std::size_t tag_size = lame_get_lametag_frame(lame.get(), buffer.data(), buffer.size());
  if (tag_size > 0 && tag_size <= out.size()) std::copy_n(buffer.begin(), tag_size, out.begin());
  return out;
}

}  // namespace umstore::codecs
