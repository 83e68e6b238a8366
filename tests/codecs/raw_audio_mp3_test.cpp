// Raw G.711 / 32KADPCM input checked against sox, and MP3 output checked with ffprobe/ffmpeg.
#include <boost/test/unit_test.hpp>

#include "codecs/audio.hpp"
#include "codecs/mp3.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

std::vector<std::int16_t> as_pcm16(const std::vector<std::uint8_t>& bytes) {
  std::vector<std::int16_t> samples(bytes.size() / 2);
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i] = static_cast<std::int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  return samples;
}

std::string raw_error(std::span<const std::uint8_t> bytes, RawAudioFormat format, unsigned rate,
                      const AudioLimits& limits = {}) {
  try {
    decode_raw_audio(bytes, format, rate, "call.raw", limits);
  } catch (const CodecError& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raw_audio)

BOOST_AUTO_TEST_CASE(g711_decodes_exactly_as_sox_does) {
  ScratchDir dir;
  for (const auto& [encoding, format, rate] : {std::tuple{"u-law", RawAudioFormat::mulaw, 8000u},
                                               std::tuple{"a-law", RawAudioFormat::alaw, 8000u},
                                               std::tuple{"u-law", RawAudioFormat::mulaw, 16000u}}) {
    const std::string rate_text = std::to_string(rate);
    const auto raw = dir / "in.raw";
    run("sox -n -r " + rate_text + " -c 1 -e " + encoding + " -b 8 -t raw " + raw.string() +
        " synth 1.5 sine 300-3000 vol 0.8");
    run("sox -t raw -r " + rate_text + " -c 1 -e " + encoding + " -b 8 " + raw.string() +
        " -t raw -e signed -b 16 -L " + (dir / "ref.s16").string());
    const auto bytes = read_file(raw);
    const PcmAudio audio = decode_raw_audio(bytes, format, rate, "in.raw");
    BOOST_TEST(audio.sample_rate == rate);
    BOOST_TEST(audio.samples.size() == bytes.size());
    BOOST_TEST(std::abs(audio.duration_seconds() - 1.5) < 0.01);
    const auto reference = as_pcm16(read_file(dir / "ref.s16"));
    BOOST_TEST_REQUIRE(reference.size() == audio.samples.size());
    BOOST_TEST(snr_db(reference, audio.samples) == 200.0, encoding << " at " << rate);  // bit-exact
  }
}

BOOST_AUTO_TEST_CASE(raw_32kadpcm_is_the_g726_decoder) {
  const auto pcm = sine(440, 8000, 8000, 8000);
  const auto adpcm = encode_32kadpcm(pcm);
  const PcmAudio audio = decode_raw_audio(adpcm, RawAudioFormat::adpcm32k, 8000, "msg.726");
  BOOST_TEST(audio.samples == decode_32kadpcm(adpcm));
  BOOST_TEST(audio.duration_seconds() == 1.0);
}

BOOST_AUTO_TEST_CASE(raw_errors_name_file_format_and_problem) {
  const std::vector<std::uint8_t> one_minute(8000 * 60, 0xFF);
  BOOST_TEST(raw_error({}, RawAudioFormat::mulaw, 8000) == "call.raw: raw G.711 u-law: empty input");
  BOOST_TEST(raw_error(one_minute, RawAudioFormat::alaw, 4000) ==
             "call.raw: raw G.711 A-law: sample rate 4000 Hz is not supported (8000..48000 Hz)");
  BOOST_TEST(raw_error(one_minute, RawAudioFormat::adpcm32k, 16000) ==
             "call.raw: raw 32KADPCM: sample rate 16000 Hz is not supported (G.726 is 8000 Hz only)");
  BOOST_TEST(raw_error(one_minute, RawAudioFormat::mulaw, 8000, {.max_seconds = 30}) ==
             "call.raw: raw G.711 u-law: too long: 60 s, limit 30 s");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mp3)

BOOST_AUTO_TEST_CASE(mp3_is_mpeg_audio_of_the_right_duration) {
  ScratchDir dir;
  PcmAudio audio{8000, sine(440, 8000, 8000 * 7 / 2, 10000)};  // 3.5 s
  const auto mp3 = encode_mp3(audio);
  BOOST_TEST(mp3.size() > 3.5 * 32000 / 8 * 0.9);
  BOOST_TEST(mp3.size() < 3.5 * 32000 / 8 * 1.2);
  write_file(dir / "v.mp3", mp3);
  const std::string probe = run("ffprobe -v error -show_entries stream=codec_name,sample_rate,channels,bit_rate "
                                "-show_entries format=format_name -of default=nw=1 " + (dir / "v.mp3").string());
  BOOST_TEST(probe.find("codec_name=mp3") != std::string::npos, probe);
  BOOST_TEST(probe.find("format_name=mp3") != std::string::npos, probe);
  BOOST_TEST(probe.find("sample_rate=8000") != std::string::npos, probe);
  BOOST_TEST(probe.find("channels=1") != std::string::npos, probe);
  // ffmpeg honours the Info frame's delay and padding: the decoded length is the recording's.
  run("ffmpeg -v error -y -i " + (dir / "v.mp3").string() + " -f s16le -ac 1 " + (dir / "v.s16").string());
  const auto decoded = as_pcm16(read_file(dir / "v.s16"));
  BOOST_TEST(std::abs(static_cast<double>(decoded.size()) - 28000.0) <= 80.0, decoded.size() << " samples");
  BOOST_TEST(tone_amplitude(decoded, 440, 8000) > 8000.0);
}

BOOST_AUTO_TEST_CASE(mp3_rejects_impossible_requests) {
  BOOST_CHECK_THROW(encode_mp3(PcmAudio{8000, {}}), CodecError);
  BOOST_CHECK_THROW(encode_mp3(PcmAudio{8000, {1, 2, 3}}, 1000), CodecError);
  BOOST_CHECK_THROW(encode_mp3(PcmAudio{96000, {1, 2, 3}}), CodecError);
  // A rate MPEG lacks is resampled by LAME, not refused.
  BOOST_TEST(!encode_mp3(PcmAudio{9600, sine(300, 9600, 9600, 8000)}).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trim)

namespace {

// Speech stand-in: a chord away from every call-progress frequency, with a slow swell.
std::vector<std::int16_t> voice(unsigned rate, double seconds) {
  const auto count = static_cast<std::size_t>(seconds * rate);
  std::vector<std::int16_t> samples(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / rate;
    samples[i] = static_cast<std::int16_t>(std::lround(
        (0.6 + 0.4 * std::sin(2 * std::numbers::pi * 3 * t)) *
        (4000 * std::sin(2 * std::numbers::pi * 190 * t) + 3000 * std::sin(2 * std::numbers::pi * 1130 * t) +
         2000 * std::sin(2 * std::numbers::pi * 2300 * t))));
  }
  return samples;
}

// North American reorder: 480 + 620 Hz, 250 ms on, 250 ms off.
std::vector<std::int16_t> reorder_tone(unsigned rate, double seconds) {
  const auto count = static_cast<std::size_t>(seconds * rate);
  std::vector<std::int16_t> samples(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / rate;
    const bool on = std::fmod(t, 0.5) < 0.25;
    samples[i] = on ? static_cast<std::int16_t>(std::lround(5000 * std::sin(2 * std::numbers::pi * 480 * t) +
                                                            5000 * std::sin(2 * std::numbers::pi * 620 * t)))
                    : 0;
  }
  return samples;
}

}  // namespace

BOOST_AUTO_TEST_CASE(hang_up_tone_and_silence_are_trimmed_to_the_last_speech) {
  for (const unsigned rate : {8000u, 16000u}) {
    PcmAudio audio{rate, voice(rate, 2.0)};
    const auto silence = std::vector<std::int16_t>(rate, 3);  // 1 s, a little hiss
    const auto tone = reorder_tone(rate, 2.0);
    audio.samples.insert(audio.samples.end(), silence.begin(), silence.end());
    audio.samples.insert(audio.samples.end(), tone.begin(), tone.end());
    audio.samples.insert(audio.samples.end(), silence.begin(), silence.begin() + rate / 3);
    const PcmAudio trimmed = trim_trailing_noise(audio);
    BOOST_TEST(std::abs(trimmed.duration_seconds() - 2.2) <= 0.011, rate << " Hz: " << trimmed.duration_seconds() << " s");
    BOOST_TEST(std::equal(trimmed.samples.begin(), trimmed.samples.begin() + 2 * rate, audio.samples.begin()));
  }
}

BOOST_AUTO_TEST_CASE(speech_to_the_end_is_left_alone) {
  const PcmAudio audio{8000, voice(8000, 1.5)};
  BOOST_TEST(trim_trailing_noise(audio).samples == audio.samples);
  const PcmAudio odd{8000, voice(8000, 1.2345)};
  BOOST_TEST(trim_trailing_noise(odd).samples.size() == odd.samples.size());
  BOOST_TEST(trim_trailing_noise(PcmAudio{8000, {}}).samples.empty());
}

BOOST_AUTO_TEST_SUITE_END()
