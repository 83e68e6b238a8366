#pragma once
// Offline speech to text for voicemail. The built-in engine is pocketsphinx
// with Debian's en-us model; any other engine runs as a process
// ([transcription] command): nothing leaves the machine unless that command
// sends it. README "Voicemail transcripts and fax text" has the measured
// word error rates and why the built-in engine hears 8 kHz audio at 16 kHz.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "codecs/audio.hpp"

namespace umstore::recognition {

// An engine that did not answer: a command that failed, timed out or wrote
// too much, a model that cannot be loaded. The message says which and why.
class RecognitionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TranscriberConfig {
  // Empty: the built-in engine. Else run by /bin/sh -c with the recording
  // as a 16-bit PCM WAV on its standard input, its path in
  // $UMSTORE_AUDIO_FILE and in place of every `%f`; the transcript is its
  // standard output (UTF-8). A non-zero exit is a failure.
  std::string command;
  std::chrono::milliseconds command_timeout = std::chrono::seconds(60);
  std::size_t max_output_bytes = 64 * 1024;
  std::filesystem::path model_dir;  // empty: Debian's pocketsphinx-en-us
  // Longer recordings are transcribed up to here: a transcript is for
  // reading at a glance, and the built-in engine's memory grows with length.
  double max_seconds = 600;
  // The built-in engine's hypothesis is taken for noise when its mean word
  // posterior (0..1) is below min_confidence, or it has fewer than
  // min_words_per_second over the recording's sound (10 ms frames of at
  // least min_rms, of 32768; none: silence). Speech has 2 to 3. Measured
  // on speech, silence and noise (tests/recognition, README).
  double min_confidence = 0.1;
  double min_words_per_second = 0.8;
  double min_rms = 100;
};

struct Transcript {
  std::string text;        // empty: no speech found
  double confidence = 0;   // built-in engine: mean word posterior; commands: 1
  double words_per_second = 0;  // built-in engine: words over the recording's seconds of sound
};

class Transcriber {
 public:
  explicit Transcriber(TranscriberConfig config);
  ~Transcriber();
  Transcriber(const Transcriber&) = delete;
  Transcriber& operator=(const Transcriber&) = delete;

  // Safe from several threads at once (each borrows a decoder of its own).
  // Throws RecognitionError.
  Transcript transcribe(const codecs::PcmAudio& audio) const;

  const TranscriberConfig& config() const { return config_; }

 private:
  struct Decoders;
  Transcript transcribe_builtin(const codecs::PcmAudio& audio) const;
  Transcript transcribe_with_command(const codecs::PcmAudio& audio) const;

  TranscriberConfig config_;
  std::unique_ptr<Decoders> decoders_;
};

}  // namespace umstore::recognition
