// decode_audio: libsndfile over an in-memory span (virtual I/O), mixed to mono.
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

// Above this, a "sample rate" in a header is garbage, not audio.
constexpr int max_sample_rate = 768000;
constexpr int max_channels = 64;

struct MemoryFile {
  std::span<const std::uint8_t> bytes;
  sf_count_t position = 0;
};

sf_count_t memory_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size()); }

sf_count_t memory_seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = file->position + offset;
  if (whence == SEEK_END) target = size + offset;
  if (target < 0) return -1;
  file->position = std::min(target, size);
  return file->position;
}

sf_count_t memory_read(void* destination, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  const sf_count_t available = std::max<sf_count_t>(0, size - file->position);
  const sf_count_t n = std::clamp<sf_count_t>(count, 0, available);
  if (n > 0) std::memcpy(destination, file->bytes.data() + file->position, static_cast<std::size_t>(n));
  file->position += n;
  return n;
}

sf_count_t memory_write(const void*, sf_count_t, void*) { return 0; }  // read-only
sf_count_t memory_tell(void* user) { return static_cast<MemoryFile*>(user)->position; }

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

std::string format_name(int format) {
  SF_FORMAT_INFO major{};
  major.format = format & SF_FORMAT_TYPEMASK;
  SF_FORMAT_INFO subtype{};
  subtype.format = format & SF_FORMAT_SUBMASK;
  std::string name = sf_command(nullptr, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 && major.name
                         ? major.name
                         : "unknown container";
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &subtype, sizeof subtype) == 0 && subtype.name)
    name += std::string(" (") + subtype.name + ")";
  return name;
}

[[noreturn]] void fail(std::string_view name, std::string_view format, std::string_view problem) {
  throw CodecError(std::string(name) + ": " + std::string(format) + ": " + std::string(problem));
}

std::int16_t to_pcm16(double sample) {
  // Float WAVs can carry NaN; it has no PCM value, so it becomes silence.
  if (std::isnan(sample)) return 0;
  const double scaled = std::round(sample * 32768.0);
  return static_cast<std::int16_t>(std::clamp(scaled, -32768.0, 32767.0));
}

void check_header(const SF_INFO& info, std::string_view name, std::string_view format, const AudioLimits& limits) {
  if (info.samplerate <= 0 || info.samplerate > max_sample_rate)
    fail(name, format, "implausible sample rate " + std::to_string(info.samplerate) + " Hz");
  if (info.channels <= 0 || info.channels > max_channels)
    fail(name, format, "implausible channel count " + std::to_string(info.channels));
  if (info.frames <= 0) fail(name, format, "contains no audio samples");
  const double seconds = static_cast<double>(info.frames) / info.samplerate;
  if (seconds > limits.max_seconds)
    throw LimitExceeded(LimitExceeded::Limit::voice_seconds,
                        std::string(name) + ": " + std::string(format) + ": too long: " +
                            std::to_string(static_cast<long long>(seconds)) + " s, limit " +
                            std::to_string(static_cast<long long>(limits.max_seconds)) + " s");
}

// Reads all frames a block at a time, averaging the channels, and hands
// each block of mono samples to `sink`; float reads give every format the
// same scale.
template <typename Sink>
void read_mono(SNDFILE* file, const SF_INFO& info, std::string_view name, std::string_view format, Sink&& sink) {
  constexpr sf_count_t frames_per_block = 4096;
  const auto channels = static_cast<std::size_t>(info.channels);
  std::vector<std::int16_t> mono(static_cast<std::size_t>(frames_per_block));
  sf_count_t remaining = info.frames;
  if (channels == 1 && (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
    // What most gateways write: 16-bit mono needs no conversion, and reading
    // it as short gives exactly what the double path below rounds back to,
    // without two conversions and a round() per sample.
    while (remaining > 0) {
      const sf_count_t got = sf_readf_short(file, mono.data(), std::min(remaining, frames_per_block));
      if (got <= 0) break;
      sink(std::span<const std::int16_t>(mono.data(), static_cast<std::size_t>(got)));
      remaining -= got;
    }
  }
  std::vector<double> block(static_cast<std::size_t>(frames_per_block) * channels);
  while (remaining > 0) {
    const sf_count_t wanted = std::min(remaining, frames_per_block);
    const sf_count_t got = sf_readf_double(file, block.data(), wanted);
    if (got <= 0) break;
    for (sf_count_t frame = 0; frame < got; ++frame) {
      double sum = 0;
      for (std::size_t channel = 0; channel < channels; ++channel)
        sum += block[static_cast<std::size_t>(frame) * channels + channel];
      mono[static_cast<std::size_t>(frame)] = to_pcm16(sum / static_cast<double>(channels));
    }
    sink(std::span<const std::int16_t>(mono.data(), static_cast<std::size_t>(got)));
    remaining -= got;
  }
  if (sf_error(file) != SF_ERR_NO_ERROR) fail(name, format, std::string("decoding failed: ") + sf_strerror(file));
  if (remaining > 0)
    fail(name, format,
         "truncated: header announces " + std::to_string(info.frames) + " frames, only " +
             std::to_string(info.frames - remaining) + " present");
}

// libsndfile silently shortens a RIFF data chunk that runs past the end of the
// file; a voicemail cut off in transit must be reported, not played short.
void check_riff_data_chunk(std::span<const std::uint8_t> file, std::string_view name, std::string_view format) {
  if (file.size() < 12 || std::memcmp(file.data(), "RIFF", 4) != 0 || std::memcmp(file.data() + 8, "WAVE", 4) != 0)
    return;
  std::size_t offset = 12;
  while (offset + 8 <= file.size()) {
    const std::uint32_t size = file[offset + 4] | (file[offset + 5] << 8) | (file[offset + 6] << 16) |
                               (static_cast<std::uint32_t>(file[offset + 7]) << 24);
    const bool is_data = std::memcmp(file.data() + offset, "data", 4) == 0;
    const std::size_t available = file.size() - offset - 8;
    if (is_data) {
      if (size > available && size != 0xFFFFFFFFu && size != 0)
        fail(name, format,
             "truncated data chunk: " + std::to_string(size) + " bytes announced, " + std::to_string(available) +
                 " present");
      return;
    }
    if (size > available) return;
    offset += 8 + size + (size & 1u);
  }
}

// The container a file claims by its first bytes, for errors raised before
// libsndfile has looked at it (an input too large to read).
std::string_view container_by_magic(std::span<const std::uint8_t> file) {
  const std::string_view head(reinterpret_cast<const char*>(file.data()), std::min<std::size_t>(file.size(), 12));
  const auto at = [&](std::size_t offset, std::string_view tag) {
    return head.size() >= offset + tag.size() && head.substr(offset, tag.size()) == tag;
  };
  if ((at(0, "RIFF") || at(0, "RIFX") || at(0, "RF64")) && at(8, "WAVE")) return "WAV";
  if (at(0, ".snd")) return "AU";
  if (at(0, "FORM")) return "AIFF";
  if (at(0, "fLaC")) return "FLAC";
  if (at(0, "OggS")) return "Ogg";
  return "unrecognised audio";
}

// An open libsndfile reader over the file, its header checked.
struct OpenAudio {
  MemoryFile memory;
  SF_VIRTUAL_IO io{memory_length, memory_seek, memory_read, memory_write, memory_tell};
  SF_INFO info{};
  SndfilePtr sndfile;
  std::string format;

  OpenAudio(std::span<const std::uint8_t> file, std::string_view name, const AudioLimits& limits) : memory{file, 0} {
    if (file.empty()) fail(name, "no data", "empty input");
    if (file.size() > limits.max_input_bytes)
      fail(name, container_by_magic(file), "input is " + std::to_string(file.size()) + " bytes, limit " +
                                                std::to_string(limits.max_input_bytes));
    sndfile.reset(sf_open_virtual(&io, SFM_READ, &info, &memory));
    if (!sndfile)
      fail(name, "unrecognised format", std::string("not a readable audio file (libsndfile: ") +
                                            sf_error_number(sf_error(nullptr)) + ")");
    format = format_name(info.format);
    check_header(info, name, format, limits);
    check_riff_data_chunk(file, name, format);
  }
  OpenAudio(const OpenAudio&) = delete;
  OpenAudio& operator=(const OpenAudio&) = delete;
};

}  // namespace

PcmAudio decode_audio(std::span<const std::uint8_t> file, std::string_view name, const AudioLimits& limits) {
  OpenAudio audio_file(file, name, limits);
  PcmAudio audio;
  audio.sample_rate = static_cast<unsigned>(audio_file.info.samplerate);
  // A header may promise far more frames than the bytes can hold; grow on demand past this.
  audio.samples.reserve(static_cast<std::size_t>(std::min<sf_count_t>(audio_file.info.frames, 1 << 22)));
  read_mono(audio_file.sndfile.get(), audio_file.info, name, audio_file.format, [&](std::span<const std::int16_t> block) {
    audio.samples.insert(audio.samples.end(), block.begin(), block.end());
  });
  return audio;
}

PcmAudio decode_audio_at(unsigned rate, std::span<const std::uint8_t> file, std::string_view name,
                         const AudioLimits& limits) {
  OpenAudio audio_file(file, name, limits);
  StreamResampler resampler(static_cast<unsigned>(audio_file.info.samplerate), rate);
  PcmAudio audio;
  audio.sample_rate = rate;
  // The header's length is within the limit (check_header), so reserving
  // it all is bounded; a header promising more than the bytes hold only
  // reserves address space, which stays untouched.
  const auto frames = static_cast<std::uint64_t>(audio_file.info.frames);
  audio.samples.reserve(static_cast<std::size_t>(resampler.output_count(frames)));
  read_mono(audio_file.sndfile.get(), audio_file.info, name, audio_file.format,
            [&](std::span<const std::int16_t> block) { resampler.feed(block, audio.samples); });
  resampler.finish(audio.samples);
  return audio;
}

}  // namespace umstore::codecs
