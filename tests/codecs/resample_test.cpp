#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <span>

#include "codecs/audio.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

PcmAudio tone(double frequency, unsigned rate, std::size_t count, double amplitude = 10000) {
  return {rate, sine(frequency, rate, count, amplitude)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resampler)

BOOST_AUTO_TEST_CASE(keeps_the_tone_and_rejects_the_alias) {
  for (const unsigned rate : {48000u, 16000u, 11025u, 44100u}) {
    BOOST_TEST_CONTEXT(rate << " Hz -> 8000 Hz") {
      const auto kept = resample(tone(1000, rate, rate), 8000);
      BOOST_TEST(kept.sample_rate == 8000u);
      BOOST_TEST(std::abs(tone_amplitude(kept.samples, 1000, 8000) - 10000) < 100);  // within 0.1 dB

      // 5 kHz is above the new Nyquist rate; without filtering it would alias to 3 kHz.
      const auto rejected = resample(tone(5000, rate, rate), 8000);
      const double leak = tone_amplitude(rejected.samples, 3000, 8000);
      BOOST_TEST_MESSAGE(rate << " Hz: 5 kHz alias at " << 20 * std::log10(std::max(leak, 1e-3) / 10000) << " dB");
      BOOST_TEST(leak < 10.0);  // at least 60 dB down
      const std::size_t skip = rejected.samples.size() / 8;
      BOOST_TEST(rms(std::span(rejected.samples).subspan(skip, rejected.samples.size() - 2 * skip)) < 10.0);
    }
  }
}

// Frequency response with sine sweeps, the figures a resampler is judged by.
// Pass band: worst deviation from unity gain over 100..3000 Hz (ripple), and
// the gain at 3400 Hz (the telephone band edge). Stop band: worst level of
// any output for input tones from 4600 Hz (their alias lands at <= 3400 Hz)
// up to the input's Nyquist rate, relative to the input level. Measured
// (Kaiser beta 9, 16 zero crossings, cut-off 0.9 x 4 kHz, float taps):
//   16000, 48000, 44100, 11025 Hz -> 8000 Hz: ripple 0.004 dB, 3400 Hz -1.69 dB
//   (the transition band starts near 3 kHz), stop band -87.1 dB (16000 Hz),
//   -88.6 dB (11025 Hz), -100 dB (44100 Hz), -141 dB (48000 Hz).
BOOST_AUTO_TEST_CASE(pass_band_ripple_and_stop_band_attenuation) {
  constexpr double amplitude = 16000;
  for (const unsigned rate : {16000u, 48000u, 44100u, 11025u}) {
    BOOST_TEST_CONTEXT(rate << " Hz -> 8000 Hz") {
      double ripple_db = 0;
      for (double frequency = 100; frequency <= 3000; frequency += 100) {
        const auto out = resample(tone(frequency, rate, rate, amplitude), 8000);
        const double gain_db = 20 * std::log10(tone_amplitude(out.samples, frequency, 8000) / amplitude);
        ripple_db = std::max(ripple_db, std::abs(gain_db));
      }
      const auto edge = resample(tone(3400, rate, rate, amplitude), 8000);
      const double edge_db = 20 * std::log10(tone_amplitude(edge.samples, 3400, 8000) / amplitude);
      double stop_db = -200;
      for (double frequency = 4600; frequency < rate / 2.0 - 50; frequency += 150) {
        const auto out = resample(tone(frequency, rate, rate, amplitude), 8000);
        const std::size_t skip = out.samples.size() / 8;
        const double level = rms(std::span(out.samples).subspan(skip, out.samples.size() - 2 * skip));
        stop_db = std::max(stop_db, 20 * std::log10(std::max(level, 1e-3) / (amplitude / std::sqrt(2.0))));
      }
      BOOST_TEST_MESSAGE(rate << " Hz -> 8000 Hz: pass-band ripple " << ripple_db << " dB, 3400 Hz " << edge_db
                              << " dB, stop band " << stop_db << " dB");
      BOOST_TEST(ripple_db < 0.05);
      BOOST_TEST(edge_db > -2.0);
      BOOST_TEST(stop_db < -80.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(output_length_is_exact) {
  struct Case {
    unsigned from, to;
    std::size_t in, out;
  };
  for (const Case& c : {Case{48000, 8000, 48007, 8001}, Case{11025, 8000, 11025, 8000}, Case{11025, 8000, 1001, 726},
                        Case{44100, 8000, 5, 1}, Case{8000, 48000, 333, 1998}, Case{16000, 8000, 3, 2},
                        Case{22050, 8000, 0, 0}}) {
    const auto out = resample(tone(500, c.from, c.in), c.to);
    BOOST_TEST(out.samples.size() == c.out, c.from << " -> " << c.to << " with " << c.in << " samples");
  }
}

BOOST_AUTO_TEST_CASE(upsampling_keeps_the_tone) {
  const auto up = resample(tone(1000, 8000, 8000), 48000);
  BOOST_TEST(up.samples.size() == 48000u);
  BOOST_TEST(std::abs(tone_amplitude(up.samples, 1000, 48000) - 10000) < 100);
}

BOOST_AUTO_TEST_CASE(same_rate_is_identity_and_bad_rates_throw) {
  const auto in = tone(700, 8000, 100);
  BOOST_TEST(resample(in, 8000).samples == in.samples, boost::test_tools::per_element());
  BOOST_CHECK_THROW(resample(in, 0), CodecError);
  BOOST_CHECK_THROW(resample(PcmAudio{0, {1, 2, 3}}, 8000), CodecError);
}

// Fed in pieces of any size, the stream gives resample()'s output sample
// for sample (both the cached polyphase bank and the on-the-fly kernel of
// an odd ratio).
BOOST_AUTO_TEST_CASE(a_stream_fed_in_pieces_equals_resampling_whole) {
  for (const unsigned rate : {48000u, 44100u, 16000u, 11025u, 44101u, 6000u}) {
    BOOST_TEST_CONTEXT(rate << " Hz -> 8000 Hz") {
      const auto in = tone(440, rate, rate / 2 + 123);
      const auto whole = resample(in, 8000);
      StreamResampler stream(rate, 8000);
      std::vector<std::int16_t> out;
      std::size_t at = 0;
      for (std::size_t piece = 1; at < in.samples.size(); piece = piece * 3 + 7) {
        const std::size_t n = std::min(piece, in.samples.size() - at);
        stream.feed(std::span(in.samples).subspan(at, n), out);
        at += n;
      }
      stream.finish(out);
      BOOST_TEST(out.size() == stream.output_count(in.samples.size()));
      BOOST_TEST(out == whole.samples);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
