// Speech to text: the built-in pocketsphinx engine and the choice between it
// and a command (engine_command.cpp). See transcriber.hpp.
#include "recognition/transcriber.hpp"

#include <pocketsphinx.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <span>
#include <vector>

#include "engine_command.hpp"

namespace umstore::recognition {
namespace {

// Debian's en-us model is for 16 kHz speech: telephone audio resampled to
// 16 kHz gave a word error rate of 0.44 (festival) where the model run at
// 8 kHz (a 256-point FFT, its filter bank cut at 3.5 kHz) gave 0.95.
constexpr unsigned kModelRate = 16000;
constexpr int kFramesPerSecond = 100;  // pocketsphinx's frame rate
constexpr std::size_t kChunkSamples = 4096;
struct DecoderDeleter {
  void operator()(ps_decoder_t* ps) const { ps_free(ps); }
};
using Decoder = std::unique_ptr<ps_decoder_t, DecoderDeleter>;

Decoder new_decoder(const std::filesystem::path& model_dir) {
  const std::string hmm = (model_dir / "en-us").string();
  const std::string lm = (model_dir / "en-us.lm.bin").string();
  const std::string dict = (model_dir / "cmudict-en-us.dict").string();
  cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(), "-dict",
                                 dict.c_str(), "-logfn", "/dev/null", "-samprate", "16000", nullptr);
  if (!config) throw RecognitionError("pocketsphinx rejected its settings (model in " + model_dir.string() + ")");
  Decoder decoder(ps_init(config));
  cmd_ln_free_r(config);  // the decoder holds its own reference
  if (!decoder)
    throw RecognitionError("pocketsphinx cannot load its en-us model from " + model_dir.string() +
                           " (install pocketsphinx-en-us)");
  return decoder;
}

double rms_of(std::span<const std::int16_t> samples) {
  if (samples.empty()) return 0;
  double sum = 0;
  for (const std::int16_t s : samples) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / static_cast<double>(samples.size()));
}

// 10 ms frames louder than `min_rms`: where there is anything to hear.
std::size_t active_frames(const codecs::PcmAudio& audio, double min_rms) {
  const std::size_t frame = std::max<std::size_t>(1, audio.sample_rate / kFramesPerSecond);
  std::size_t active = 0;
  for (std::size_t at = 0; at + frame <= audio.samples.size(); at += frame)
    if (rms_of(std::span(audio.samples).subspan(at, frame)) >= min_rms) ++active;
  return active;
}

bool is_filler(std::string_view word) {
  return word.empty() || word.front() == '<' || word.front() == '[' || word == "<sil>";
}

}  // namespace

// Decoders are expensive to load (the language model is 27 MB) and not
// thread-safe: each transcription borrows one and gives it back.
struct Transcriber::Decoders {
  std::mutex mutex;
  std::vector<Decoder> idle;
};

Transcriber::Transcriber(TranscriberConfig config) : config_(std::move(config)), decoders_(std::make_unique<Decoders>()) {
  if (config_.model_dir.empty()) config_.model_dir = UMSTORE_POCKETSPHINX_MODEL_DIR;
}

Transcriber::~Transcriber() = default;

Transcript Transcriber::transcribe(const codecs::PcmAudio& audio) const {
  const auto limit = static_cast<std::size_t>(config_.max_seconds * audio.sample_rate);
  if (audio.samples.size() > limit) {
    const codecs::PcmAudio start{audio.sample_rate, {audio.samples.begin(), audio.samples.begin() + limit}};
    Transcript heard = transcribe(start);
    if (!heard.text.empty()) heard.text += " ...";
    return heard;
  }
  return config_.command.empty() ? transcribe_builtin(audio) : transcribe_with_command(audio);
}

Transcript Transcriber::transcribe_builtin(const codecs::PcmAudio& audio) const {
  const std::size_t active = active_frames(audio, config_.min_rms);
  if (active == 0) return {};  // silence: nothing to hear
  const codecs::PcmAudio at_model_rate =
      audio.sample_rate == kModelRate ? audio : codecs::resample(audio, kModelRate);
  Decoder decoder;
  {
    std::lock_guard lock(decoders_->mutex);
    if (!decoders_->idle.empty()) {
      decoder = std::move(decoders_->idle.back());
      decoders_->idle.pop_back();
    }
  }
  if (!decoder) decoder = new_decoder(config_.model_dir);
  ps_decoder_t* ps = decoder.get();
  if (ps_start_utt(ps) < 0) throw RecognitionError("pocketsphinx cannot start an utterance");
  const auto& samples = at_model_rate.samples;
  for (std::size_t at = 0; at < samples.size(); at += kChunkSamples)
    ps_process_raw(ps, samples.data() + at, std::min(kChunkSamples, samples.size() - at), FALSE, FALSE);
  ps_end_utt(ps);

  Transcript out;
  double posterior_sum = 0;
  std::size_t words = 0;
  for (ps_seg_t* seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
    const std::string_view word = ps_seg_word(seg);
    if (is_filler(word)) continue;
    int32 ascr = 0, lscr = 0, lback = 0;
    posterior_sum += logmath_exp(ps_get_logmath(ps), ps_seg_prob(seg, &ascr, &lscr, &lback));
    ++words;
    if (!out.text.empty()) out.text += ' ';
    // Alternative pronunciations are written "word(2)".
    out.text += word.substr(0, word.find('('));
  }
  {
    std::lock_guard lock(decoders_->mutex);
    decoders_->idle.push_back(std::move(decoder));
  }
  out.confidence = words ? posterior_sum / static_cast<double>(words) : 0;
  out.words_per_second = static_cast<double>(words) * kFramesPerSecond / static_cast<double>(active);
  // Noise read as words: a word or two over seconds of sound, or words the
  // decoder itself doubts.
  if (out.confidence < config_.min_confidence || out.words_per_second < config_.min_words_per_second) return {};
  return out;
}

// The recording as a WAV file the command reads, removed afterwards.
Transcript Transcriber::transcribe_with_command(const codecs::PcmAudio& audio) const {
  std::string path = (std::filesystem::temp_directory_path() / "umstore-transcribe-XXXXXX.wav").string();
  const int fd = ::mkstemps(path.data(), 4);
  if (fd < 0) throw RecognitionError("cannot create a file for the transcription command in " +
                                     std::filesystem::temp_directory_path().string() + ": " + std::strerror(errno));
  struct Removed {
    const std::string& path;
    ~Removed() { ::unlink(path.c_str()); }
  } removed{path};
  const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);
  std::size_t written = 0;
  while (written < wav.size()) {
    const ssize_t n = ::write(fd, wav.data() + written, wav.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw RecognitionError("cannot write the recording for the transcription command to " + path + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::string text = run_engine_command(config_.command, path, config_.command_timeout, config_.max_output_bytes);
  // One line of words: the engine's line ends and runs of blanks become single spaces.
  std::string words;
  for (const char c : text) {
    const bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (blank) {
      if (!words.empty() && words.back() != ' ') words += ' ';
    } else {
      words += c;
    }
  }
  while (!words.empty() && words.back() == ' ') words.pop_back();
  return {words, words.empty() ? 0.0 : 1.0};
}

}  // namespace umstore::recognition
