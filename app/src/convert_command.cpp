#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "codecs/audio.hpp"
#include "common/ascii.hpp"
#include "codecs/fax.hpp"
#include "codecs/mp3.hpp"
#include "commands.hpp"
#include "common/durable_file.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kConvertUsage = R"(usage: umstore convert [--rate HZ] [--profile s|f] [--bitrate KBPS] INPUT OUTPUT

Transcodes by file name extension.
Voice in:  any WAV (PCM, float, u-law, A-law, IMA/MS ADPCM, GSM 6.10), .au and
           what else libsndfile reads, 8-48 kHz, mono or stereo (mixed down);
           headerless: *.726 | *.adpcm (32KADPCM, 8 kHz), *.ul | *.mulaw (G.711
           u-law), *.al | *.alaw (G.711 A-law) at --rate HZ (default 8000).
Voice out: *.726 | *.adpcm  raw audio/32KADPCM (G.726-32, RFC 3802 packing)
           *.wav            16-bit PCM WAV, 8 kHz mono
           *.mp3            MPEG audio, mono, --bitrate KBPS (default 32)
Fax in:    *.tif | *.tiff (MH, MR, MMR, uncompressed, PackBits, LZW, grey or
           colour), *.pdf, *.png, *.jpg | *.jpeg
Fax out:   *.tif | *.tiff  TIFF-F profile S (MH), or profile F (MMR) with --profile f
           *.pdf           PDF embedding each page's G4 data unchanged
           The pages written are listed on standard output.
Examples: umstore convert message.726 message.wav
          umstore convert --rate 16000 call.ul call.726
          umstore convert scan.pdf fax.tif
)";

bool has_extension(const std::filesystem::path& p, std::initializer_list<std::string_view> exts) {
  std::string e = p.extension().string();
  e = ascii_lower(e);
  for (auto x : exts)
    if (e == x) return true;
  return false;
}

bool is_fax_file(const std::filesystem::path& p) {
  return has_extension(p, {".tif", ".tiff", ".pdf", ".png", ".jpg", ".jpeg"});
}

std::vector<std::uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

unsigned parse_unsigned(const std::optional<std::string>& text, unsigned fallback, const char* option) {
  if (!text) return fallback;
  try {
    std::size_t used = 0;
    const unsigned long value = std::stoul(*text, &used);
    if (used == text->size() && value > 0 && value < 1000000) return static_cast<unsigned>(value);
  } catch (const std::exception&) {
  }
  throw UsageError(std::string(option) + " needs a positive number, not '" + *text + "'");
}

// The user's own file: the mode any program gives (0666 less the umask,
// usually 0644), not the store's private 0600.
void write_output(const std::filesystem::path& out, std::string_view bytes) { replace_file_durably(out, bytes, 0666); }

codecs::PcmAudio read_audio(const std::filesystem::path& in, unsigned raw_rate, const codecs::AudioLimits& limits) {
  const auto bytes = as_bytes(read_file(in));
  const std::string name = in.string();
  codecs::PcmAudio audio;
  if (has_extension(in, {".726", ".adpcm"}))
    audio = codecs::decode_raw_audio(bytes, codecs::RawAudioFormat::adpcm32k, raw_rate, name, limits);
  else if (has_extension(in, {".ul", ".mulaw", ".ulaw"}))
    audio = codecs::decode_raw_audio(bytes, codecs::RawAudioFormat::mulaw, raw_rate, name, limits);
  else if (has_extension(in, {".al", ".alaw"}))
    audio = codecs::decode_raw_audio(bytes, codecs::RawAudioFormat::alaw, raw_rate, name, limits);
  else
    audio = codecs::decode_audio(bytes, name, limits);
  return audio;
}

void convert_voice(const std::filesystem::path& in, const std::filesystem::path& out, const CommandLine& cmd,
                   const Settings& settings) {
  const unsigned raw_rate = parse_unsigned(cmd.value("--rate"), 8000, "--rate");
  const bool mp3 = has_extension(out, {".mp3"});
  if (!mp3 && !has_extension(out, {".726", ".adpcm", ".wav"}))
    throw UsageError("OUTPUT must end in .726, .adpcm, .wav or .mp3 for voice");
  const codecs::PcmAudio audio = read_audio(in, raw_rate, settings.voice_limits);
  if (mp3) {
    const unsigned kbps = parse_unsigned(cmd.value("--bitrate"), 32, "--bitrate");
    write_output(out, as_text(codecs::encode_mp3(audio, kbps)));
    return;
  }
  const codecs::PcmAudio narrow = audio.sample_rate == 8000 ? audio : codecs::resample(audio, 8000);
  if (has_extension(out, {".wav"}))
    write_output(out, as_text(codecs::encode_wav_pcm16(narrow)));
  else
    write_output(out, as_text(codecs::encode_32kadpcm(narrow.samples)));
}

void print_pages(const std::vector<codecs::FaxPage>& pages) {
  for (std::size_t i = 0; i < pages.size(); ++i) {
    const auto& p = pages[i];
    char line[160];
    std::snprintf(line, sizeof line, "page %zu: %u x %u pixels at %.0f x %.0f dpi (%.0f x %.0f mm)\n", i + 1,
                  p.width, p.length, p.x_resolution, p.y_resolution, p.width / p.x_resolution * 25.4,
                  p.length / p.y_resolution * 25.4);
    std::cout << line;
  }
}

void convert_fax(const std::filesystem::path& in, const std::filesystem::path& out, const CommandLine& cmd,
                 const Settings& settings) {
  const std::string profile = cmd.value("--profile").value_or("s");
  if (profile != "s" && profile != "f") throw UsageError("--profile must be s or f");
  codecs::FaxConversionOptions options;
  options.profile = profile == "f" ? codecs::TiffFProfile::f : codecs::TiffFProfile::s;
  if (has_extension(out, {".pdf"})) {
    options.want_tiff = false;
    options.want_pdf = true;
  } else if (!has_extension(out, {".tif", ".tiff"})) {
    throw UsageError("OUTPUT must end in .tif, .tiff or .pdf for fax");
  }
  const codecs::FaxConversion result = codecs::convert_fax(as_bytes(read_file(in)), in.string(), options, settings.fax_limits);
  write_output(out, as_text(options.want_pdf ? result.pdf : result.tiff));
  print_pages(result.pages);
}

}  // namespace

int run_convert(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--rate", "--profile", "--bitrate"}, {}}));
  if (cmd.printed_help(kConvertUsage)) return 0;
  if (cmd.positionals().size() != 2) throw UsageError("convert needs INPUT and OUTPUT");
  const std::filesystem::path in = cmd.positionals()[0], out = cmd.positionals()[1];
  const Settings settings = load_settings(cmd);  // [codecs] limits
  if (is_fax_file(in))
    convert_fax(in, out, cmd, settings);
  else
    convert_voice(in, out, cmd, settings);
  return 0;
}

}  // namespace umstore::app
