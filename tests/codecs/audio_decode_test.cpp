#include <boost/test/unit_test.hpp>
#include <limits>
#include <random>

#include "codecs/audio.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

std::vector<std::uint8_t> voicemail_bytes() { return read_file(sample("voicemail.wav")); }

// A WAV file made by sox from the sample voicemail with the given output options.
std::vector<std::uint8_t> sox_convert(const std::string& options, const std::string& extension = "wav") {
  ScratchDir dir;
  const auto out = dir / ("out." + extension);
  run("sox " + sample("voicemail.wav").string() + " " + options + " " + out.string());
  return read_file(out);
}

// Interleaved 16-bit stereo RIFF WAVE written by hand, so the test controls each channel exactly.
std::vector<std::uint8_t> stereo_wav(std::span<const std::int16_t> left, std::span<const std::int16_t> right) {
  PcmAudio interleaved;
  interleaved.sample_rate = 8000;
  for (std::size_t i = 0; i < left.size(); ++i) {
    interleaved.samples.push_back(left[i]);
    interleaved.samples.push_back(right[i]);
  }
  auto wav = encode_wav_pcm16(interleaved);
  // Patch the mono header to stereo at the same byte rate: 2 channels, 4000 frames/s.
  wav[22] = 2;
  wav[24] = 0x40; wav[25] = 0x1F;  // 8000 Hz
  wav[28] = 0x00; wav[29] = 0x7D;  // byte rate 32000
  wav[32] = 4;                     // block align
  return wav;
}

std::string error_message(std::span<const std::uint8_t> bytes, const AudioLimits& limits = {}) {
  try {
    decode_audio(bytes, "vm.wav", limits);
  } catch (const CodecError& error) {
    return error.what();
  }
  return "no error";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(audio_decode)

BOOST_AUTO_TEST_CASE(reads_the_sample_voicemail) {
  const auto audio = decode_audio(voicemail_bytes(), "voicemail.wav");
  BOOST_TEST(audio.sample_rate == 8000u);
  BOOST_TEST(audio.duration_seconds() > 8.0);
  BOOST_TEST(audio.duration_seconds() < 30.0);
  BOOST_TEST(rms(audio.samples) > 500.0);
}

BOOST_AUTO_TEST_CASE(reads_every_common_wav_encoding) {
  const auto reference = decode_audio(voicemail_bytes(), "voicemail.wav").samples;
  struct Case {
    std::string options;
    std::string extension;
    double min_snr_db;
  };
  const std::vector<Case> cases = {
      {"-e u-law", "wav", 30},           {"-e a-law", "wav", 30},          {"-e ima-adpcm", "wav", 15},
      {"-e ms-adpcm", "wav", 15},        {"-e floating-point -b 32", "wav", 90}, {"-b 24", "wav", 90},
      {"-b 8 -e unsigned", "wav", 25},   {"-e u-law", "au", 30},           {"-e gsm-full-rate", "wav", 0},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("sox " << c.options << " ." << c.extension) {
      const auto audio = decode_audio(sox_convert(c.options, c.extension), "converted");
      BOOST_TEST(audio.sample_rate == 8000u);
      // Block codecs pad the last block: allow one block of extra samples.
      BOOST_TEST(audio.samples.size() >= reference.size());
      BOOST_TEST(audio.samples.size() <= reference.size() + 2048);
      BOOST_TEST(rms(audio.samples) > 0.5 * rms(reference));
      if (c.min_snr_db > 0) BOOST_TEST(snr_db(reference, audio.samples) >= c.min_snr_db);
    }
  }
}

BOOST_AUTO_TEST_CASE(stereo_is_mixed_to_mono) {
  const auto tone = sine(440, 8000, 4000, 10000);
  std::vector<std::int16_t> inverted(tone.size());
  for (std::size_t i = 0; i < tone.size(); ++i) inverted[i] = static_cast<std::int16_t>(-tone[i]);
  const std::vector<std::int16_t> silence(tone.size(), 0);

  const auto cancelled = decode_audio(stereo_wav(tone, inverted), "stereo.wav");
  BOOST_TEST(cancelled.samples.size() == tone.size());
  BOOST_TEST(rms(cancelled.samples) < 1.0);

  const auto halved = decode_audio(stereo_wav(tone, silence), "stereo.wav");
  BOOST_TEST(std::abs(tone_amplitude(halved.samples, 440, 8000) - 5000) < 50);
}

BOOST_AUTO_TEST_CASE(keeps_the_file_sample_rate) {
  const auto audio = decode_audio(sox_convert("-r 16000"), "wideband.wav");
  BOOST_TEST(audio.sample_rate == 16000u);
}

BOOST_AUTO_TEST_CASE(malformed_inputs_give_codec_errors) {
  const auto wav = voicemail_bytes();
  BOOST_TEST(contains(error_message({}), "vm.wav: no data: empty input"));

  std::mt19937 random(42);
  std::vector<std::uint8_t> noise(4096);
  for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
  BOOST_TEST(contains(error_message(noise), "not a readable audio file"));

  const std::vector<std::uint8_t> truncated(wav.begin(), wav.begin() + static_cast<std::ptrdiff_t>(wav.size() / 2));
  const auto truncated_message = error_message(truncated);
  BOOST_TEST(contains(truncated_message, "vm.wav: WAV"));
  BOOST_TEST(contains(truncated_message, "truncated data chunk"));

  const std::vector<std::uint8_t> header_only(wav.begin(), wav.begin() + 44);
  BOOST_TEST(contains(error_message(header_only), "vm.wav: WAV"));

  const auto tiff = read_file(sample("fax.tif"));
  BOOST_TEST(contains(error_message(tiff), "not a readable audio file"));

  BOOST_TEST(contains(error_message(wav, {.max_seconds = 5}), "vm.wav: WAV"));
  BOOST_TEST(contains(error_message(wav, {.max_seconds = 5}), "too long: 17 s, limit 5 s"));
  BOOST_TEST(contains(error_message(wav, {.max_seconds = 3600, .max_input_bytes = 1000}),
                      "vm.wav: WAV: input is " + std::to_string(wav.size()) + " bytes, limit 1000"));

  // Every prefix of a real file fails cleanly or decodes: never a crash.
  for (std::size_t cut = 1; cut < 200; cut += 7) {
    const std::vector<std::uint8_t> prefix(wav.begin(), wav.begin() + static_cast<std::ptrdiff_t>(cut));
    BOOST_CHECK_THROW(decode_audio(prefix, "prefix"), CodecError);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(wav_encode)

BOOST_AUTO_TEST_CASE(round_trips_through_libsndfile) {
  PcmAudio audio;
  audio.sample_rate = 8000;
  audio.samples = sine(300, 8000, 8001, 20000);
  audio.samples[5] = -32768;
  audio.samples[6] = 32767;
  const auto wav = encode_wav_pcm16(audio);
  BOOST_TEST(wav.size() == 44u + 2 * 8001);
  const std::vector<std::uint8_t> riff_size = {wav[4], wav[5], wav[6], wav[7]};
  const std::uint32_t expected = 36 + 2 * 8001;
  BOOST_TEST(riff_size == (std::vector<std::uint8_t>{expected & 0xFF, (expected >> 8) & 0xFF, 0, 0}),
             boost::test_tools::per_element());
  const auto back = decode_audio(wav, "out.wav");
  BOOST_TEST(back.sample_rate == 8000u);
  BOOST_TEST(back.samples == audio.samples, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sox_reads_our_header) {
  PcmAudio audio;
  audio.sample_rate = 16000;
  audio.samples = sine(300, 16000, 12345, 10000);
  ScratchDir dir;
  write_file(dir / "out.wav", encode_wav_pcm16(audio));
  const std::string path = (dir / "out.wav").string();
  BOOST_TEST(run("soxi -r " + path) == "16000\n");
  BOOST_TEST(run("soxi -c " + path) == "1\n");
  BOOST_TEST(run("soxi -b " + path) == "16\n");
  BOOST_TEST(run("soxi -s " + path) == "12345\n");
  BOOST_TEST(run("soxi -e " + path) == "Signed Integer PCM\n");
}

// decode_audio_at resamples while it decodes, block by block; what it
// gives must not differ by a sample from decoding whole, then resampling.
BOOST_AUTO_TEST_CASE(decoding_at_a_rate_equals_decoding_then_resampling) {
  for (const std::string options : {"-r 44100 -c 2", "-r 48000 -c 6 -b 24", "-r 16000", "-r 11025 -c 2 -e u-law"}) {
    BOOST_TEST_CONTEXT(options) {
      const auto file = sox_convert(options);
      const auto whole = resample(decode_audio(file, "vm.wav"), 8000);
      const auto streamed = decode_audio_at(8000, file, "vm.wav");
      BOOST_TEST(streamed.sample_rate == 8000u);
      BOOST_TEST(streamed.samples == whole.samples);
    }
  }
  const auto same_rate = decode_audio_at(8000, voicemail_bytes(), "voicemail.wav");
  BOOST_TEST(same_rate.samples == decode_audio(voicemail_bytes(), "voicemail.wav").samples);
}

BOOST_AUTO_TEST_CASE(a_recording_over_the_duration_limit_names_the_limit) {
  try {
    decode_audio_at(8000, voicemail_bytes(), "vm.wav", {.max_seconds = 5});
    BOOST_FAIL("no error");
  } catch (const LimitExceeded& e) {
    BOOST_TEST((e.limit() == LimitExceeded::Limit::voice_seconds));
    BOOST_TEST(contains(e.what(), "vm.wav: WAV (Microsoft) (Signed 16 bit PCM): too long: 17 s, limit 5 s"));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Found by the decode_audio fuzzer (its input is kept as a fuzz seed): float
// WAV samples that are NaN. NaN has no PCM value and casting it is
// undefined, so it decodes to silence.
BOOST_AUTO_TEST_CASE(float_wav_nan_samples_decode_to_silence) {
  const float samples[] = {0.5f, std::numeric_limits<float>::quiet_NaN(), -0.5f};
  std::vector<std::uint8_t> wav;
  auto put32 = [&wav](std::uint32_t v) { for (int i = 0; i < 4; ++i) wav.push_back(static_cast<std::uint8_t>(v >> (8 * i))); };
  auto put16 = [&wav](std::uint16_t v) { wav.push_back(static_cast<std::uint8_t>(v)); wav.push_back(static_cast<std::uint8_t>(v >> 8)); };
  auto tag = [&wav](const char* t) { wav.insert(wav.end(), t, t + 4); };
  tag("RIFF"); put32(36 + sizeof samples); tag("WAVE");
  tag("fmt "); put32(16); put16(3 /* IEEE float */); put16(1); put32(8000); put32(8000 * 4); put16(4); put16(32);
  tag("data"); put32(sizeof samples);
  const auto* raw = reinterpret_cast<const std::uint8_t*>(samples);
  wav.insert(wav.end(), raw, raw + sizeof samples);

  const auto audio = decode_audio(wav, "nan.wav");
  BOOST_TEST((audio.samples == std::vector<std::int16_t>{16384, 0, -16384}));
  // The fuzzer's own file decodes too (under the sanitizers in scripts/fuzz.sh it must stay clean).
  BOOST_CHECK_NO_THROW(decode_audio(read_file(std::string(UMSTORE_TEST_DATA) + "/codecs/float-nan.wav"), "float-nan.wav"));
}
