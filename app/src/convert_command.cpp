#include <iostream>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "commands.hpp"
#include "common/durable_file.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kConvertUsage = R"(usage: umstore convert INPUT OUTPUT

Transcodes by file name extension:
  *.726 | *.adpcm  raw audio/32KADPCM (G.726-32, RFC 3802 packing, 8 kHz)
  *.wav            16-bit PCM WAV, 8 kHz mono (as output); any WAV/AU/... as input
  *.tif | *.tiff   fax: the output is TIFF-F (RFC 3949 profile S)
Examples: umstore convert message.726 message.wav
          umstore convert greeting.wav greeting.726
)";

bool has_extension(const std::filesystem::path& p, std::initializer_list<std::string_view> exts) {
  const std::string e = p.extension().string();
  for (auto x : exts)
    if (e == x) return true;
  return false;
}

std::vector<std::uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

codecs::PcmAudio read_audio(const std::filesystem::path& in) {
  const auto bytes = as_bytes(read_file(in));
  if (has_extension(in, {".726", ".adpcm"})) return {8000, codecs::decode_32kadpcm(bytes)};
  auto audio = codecs::decode_audio(bytes, in.string());
  return audio.sample_rate == 8000 ? audio : codecs::resample(audio, 8000);
}

}  // namespace

int run_convert(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({}));
  if (cmd.wants_help()) {
    std::cout << kConvertUsage;
    return 0;
  }
  if (cmd.positionals().size() != 2) throw UsageError("convert needs INPUT and OUTPUT");
  const std::filesystem::path in = cmd.positionals()[0], out = cmd.positionals()[1];
  if (has_extension(in, {".tif", ".tiff"})) {
    replace_file_durably(out, as_text(codecs::to_profile_s(as_bytes(read_file(in)), in.string())));
    return 0;
  }
  const codecs::PcmAudio audio = read_audio(in);
  if (has_extension(out, {".726", ".adpcm"}))
    replace_file_durably(out, as_text(codecs::encode_32kadpcm(audio.samples)));
  else if (has_extension(out, {".wav"}))
    replace_file_durably(out, as_text(codecs::encode_wav_pcm16(audio)));
  else
    throw UsageError("OUTPUT must end in .726, .adpcm or .wav");
  return 0;
}

}  // namespace umstore::app
