#include <ctime>  // spandsp.h needs time_t
#include <spandsp.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "adpcm32_lanes.hpp"  // white box: every lane kernel
#include "codecs/audio.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

// One 4-bit code per byte, straight from spandsp: the reference for nibble order.
std::vector<std::uint8_t> unpacked_codes(std::span<const std::int16_t> pcm) {
  g726_state_t* state = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_NONE);
  std::vector<std::uint8_t> codes(pcm.size());
  const int n = g726_encode(state, codes.data(), pcm.data(), static_cast<int>(pcm.size()));
  g726_free(state);
  codes.resize(static_cast<std::size_t>(n));
  return codes;
}

// spandsp's encoder with RFC 3802 packing and the same odd-count padding:
// the reference our own encoder must match bit for bit.
std::vector<std::uint8_t> spandsp_packed(std::span<const std::int16_t> pcm) {
  g726_state_t* state = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_RIGHT);
  std::vector<std::uint8_t> packed(pcm.size() / 2 + 1);
  int n = g726_encode(state, packed.data(), pcm.data(), static_cast<int>(pcm.size()));
  if (pcm.size() % 2 != 0) {
    const std::int16_t silence = 0;
    n += g726_encode(state, packed.data() + n, &silence, 1);
  }
  g726_free(state);
  packed.resize(static_cast<std::size_t>(n));
  return packed;
}

std::vector<std::int16_t> voicemail_pcm() {
  const auto wav = read_file(sample("voicemail.wav"));
  return decode_audio(wav, "voicemail.wav").samples;
}

// Inputs that drive every branch of the adaptation: speech, white noise and
// full-scale square waves (clipping, large steps, LIMB/LIMC limits), a sweep
// up to 4 kHz and high-frequency tone bursts (tone detector, TRANS reset of
// the predictor), level steps from -90 dBFS to full scale, and silence.
std::vector<std::vector<std::int16_t>> adaptation_inputs() {
  std::vector<std::vector<std::int16_t>> inputs;
  inputs.push_back(voicemail_pcm());
  std::uint32_t noise_state = 12345;  // fixed LCG: reproducible noise
  const auto noise = [&] {
    noise_state = noise_state * 1664525u + 1013904223u;
    return static_cast<double>(noise_state >> 8) / (1u << 24) * 2.0 - 1.0;
  };
  for (int level = 0; level < 30; ++level) {
    const double amplitude = 40000.0 * std::pow(10.0, -level / 10.0);  // 40000: clips at full scale
    std::vector<std::int16_t> pcm(4001 + static_cast<std::size_t>(level));
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      const double t = static_cast<double>(i) / 8000.0;
      double value = 0;
      switch (level % 5) {
        case 0: value = amplitude * noise(); break;
        case 1: value = amplitude * std::sin(2 * std::numbers::pi * (60.0 + 130.0 * level) * t); break;
        case 2: value = (i / (3 + static_cast<std::size_t>(level))) % 2 ? amplitude : -amplitude; break;
        case 3: value = amplitude * std::sin(2 * std::numbers::pi * (50.0 + 3900.0 * t) * t); break;
        default: value = i % 800 < 400 ? amplitude * std::sin(2 * std::numbers::pi * 3700.0 * t) : 0.0; break;
      }
      pcm[i] = static_cast<std::int16_t>(std::clamp(std::round(value), -32768.0, 32767.0));
    }
    inputs.push_back(std::move(pcm));
  }
  inputs.push_back(std::vector<std::int16_t>(3000, 0));
  inputs.push_back(std::vector<std::int16_t>(3000, -32768));
  return inputs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adpcm32)

BOOST_AUTO_TEST_CASE(first_sample_goes_in_the_low_nibble) {
  const auto pcm = sine(1000, 8000, 160, 8000);
  const auto packed = encode_32kadpcm(pcm);
  const auto codes = unpacked_codes(pcm);
  BOOST_TEST_REQUIRE(packed.size() == 80u);
  BOOST_TEST_REQUIRE(codes.size() == 160u);
  for (std::size_t i = 0; i < packed.size(); ++i) {
    BOOST_TEST((packed[i] & 0x0F) == codes[2 * i], "octet " << i << " low nibble");
    BOOST_TEST((packed[i] >> 4) == codes[2 * i + 1], "octet " << i << " high nibble");
  }
}

BOOST_AUTO_TEST_CASE(encoder_is_bit_exact_with_spandsp) {
  const auto inputs = adaptation_inputs();
  for (std::size_t n = 0; n < inputs.size(); ++n) {
    const auto ours = encode_32kadpcm(inputs[n]);
    const auto reference = spandsp_packed(inputs[n]);
    BOOST_TEST_REQUIRE(ours.size() == reference.size(), "input " << n);
    const auto mismatch = std::mismatch(ours.begin(), ours.end(), reference.begin());
    BOOST_TEST((mismatch.first == ours.end()),
               "input " << n << ": first difference at octet " << (mismatch.first - ours.begin()));
  }
}

// More streams than SIMD lanes, of different lengths (odd, empty, one
// sample), so lanes finish at different times and take new streams.
std::vector<std::vector<std::int16_t>> batch_inputs() {
  auto inputs = adaptation_inputs();
  inputs.push_back({});
  inputs.push_back({1234});
  inputs.push_back(sine(440, 8000, 8001, 5000));
  return inputs;
}

BOOST_AUTO_TEST_CASE(batch_equals_one_stream_at_a_time) {
  const auto inputs = batch_inputs();
  const std::vector<std::span<const std::int16_t>> streams(inputs.begin(), inputs.end());
  for (const std::size_t count : {streams.size(), std::size_t{5}, std::size_t{2}}) {
    const auto some = std::span(streams).first(count);
    const auto batch = encode_32kadpcm_batch(some);
    BOOST_TEST_REQUIRE(batch.size() == count);
    for (std::size_t n = 0; n < count; ++n)
      BOOST_TEST((batch[n] == encode_32kadpcm(some[n])), "stream " << n << " of " << count);
  }
  BOOST_TEST(encode_32kadpcm_batch({}).empty());
  BOOST_TEST(encode_32kadpcm_batch(std::span(streams).first(1)).front() == encode_32kadpcm(inputs.front()),
             boost::test_tools::per_element());
}

// Every lane kernel this CPU has, not only the one the batch encoder picks
// here: all streams at once, then five at a time.
BOOST_AUTO_TEST_CASE(every_lane_kernel_equals_one_stream_at_a_time) {
  using umstore::codecs::detail::LaneKernel;
  const auto inputs = batch_inputs();
  const std::vector<std::span<const std::int16_t>> streams(inputs.begin(), inputs.end());
  std::vector<std::vector<std::uint8_t>> expected;
  for (const auto& stream : streams) expected.push_back(encode_32kadpcm(stream));
  int tried = 0;
  for (const auto& [kernel, name] : {std::pair{LaneKernel::avx2, "AVX2"}, std::pair{LaneKernel::avx512vl, "AVX-512VL"},
                                    std::pair{LaneKernel::avx512, "AVX-512"}}) {
    if (!umstore::codecs::detail::cpu_has(kernel)) {
      BOOST_TEST_MESSAGE("this CPU lacks the " << name << " lane kernel; not tested here");
      continue;
    }
    ++tried;
    for (const std::size_t group : {streams.size(), std::size_t{5}}) {
      for (std::size_t first = 0; first < streams.size(); first += group) {
        const auto some = std::span(streams).subspan(first, std::min(group, streams.size() - first));
        std::vector<std::vector<std::uint8_t>> outputs(some.size());
        umstore::codecs::detail::encode_32kadpcm_in_lanes(kernel, some, outputs);
        for (std::size_t n = 0; n < some.size(); ++n)
          BOOST_TEST((outputs[n] == expected[first + n]), name << ": stream " << first + n << " in groups of " << group);
      }
    }
  }
  BOOST_TEST_MESSAGE(tried << " lane kernel(s) tested");
}

BOOST_AUTO_TEST_CASE(pinned_byte_vector) {
  // 1 kHz sine, amplitude 8000, at 8 kHz: the first octets of our stream, pinned.
  const auto pcm = sine(1000, 8000, 16, 8000);
  const std::vector<std::uint8_t> expected = {0x7F, 0x77, 0x8F, 0x88, 0x7F, 0x47, 0xAE, 0xBA};
  const auto packed = encode_32kadpcm(pcm);
  BOOST_TEST(packed == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(decoder_reads_low_nibble_first) {
  // Codes 1,2,3,4,A,F pack to 21 43 FA (vpim.md §8 worked example).
  const std::vector<std::uint8_t> packed = {0x21, 0x43, 0xFA};
  const std::vector<std::uint8_t> codes = {1, 2, 3, 4, 0xA, 0xF};
  g726_state_t* state = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_NONE);
  std::vector<std::int16_t> reference(codes.size());
  g726_decode(state, reference.data(), codes.data(), static_cast<int>(codes.size()));
  g726_free(state);
  const auto decoded = decode_32kadpcm(packed);
  BOOST_TEST(decoded == reference, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(odd_sample_count_is_padded) {
  const auto pcm = sine(440, 8000, 801, 5000);
  const auto packed = encode_32kadpcm(pcm);
  BOOST_TEST(packed.size() == 401u);
  BOOST_TEST(decode_32kadpcm(packed).size() == 802u);
  BOOST_TEST(encode_32kadpcm({}).empty());
  BOOST_TEST(decode_32kadpcm({}).empty());
}

BOOST_AUTO_TEST_CASE(speech_round_trip_keeps_20_db_snr) {
  const auto pcm = voicemail_pcm();
  const auto packed = encode_32kadpcm(pcm);
  BOOST_TEST(packed.size() == (pcm.size() + 1) / 2);
  const auto decoded = decode_32kadpcm(packed);
  const double snr = snr_db(pcm, decoded);
  BOOST_TEST_MESSAGE("32KADPCM speech round trip SNR " << snr << " dB");
  BOOST_TEST(snr >= 20.0);
}

BOOST_AUTO_TEST_CASE(ffmpeg_g726le_decodes_our_stream) {
  const auto pcm = voicemail_pcm();
  const auto packed = encode_32kadpcm(pcm);
  const auto ours = decode_32kadpcm(packed);
  ScratchDir dir;
  write_file(dir / "in.726", packed);
  const auto decode_with_ffmpeg = [&](const std::string& demuxer) {
    run("ffmpeg -nostdin -loglevel error -y -f " + demuxer + " -code_size 4 -sample_rate 8000 -i " +
        (dir / "in.726").string() + " -f s16le " + (dir / "out.raw").string());
    const auto raw = read_file(dir / "out.raw");
    std::vector<std::int16_t> samples(raw.size() / 2);
    for (std::size_t i = 0; i < samples.size(); ++i)
      samples[i] = static_cast<std::int16_t>(raw[2 * i] | (raw[2 * i + 1] << 8));
    return samples;
  };
  const auto little = decode_with_ffmpeg("g726le");
  BOOST_TEST(little.size() == ours.size());
  const double agreement = snr_db(ours, little);
  const double versus_original = snr_db(pcm, little);
  BOOST_TEST_MESSAGE("ffmpeg g726le vs our decoder " << agreement << " dB, vs original " << versus_original << " dB");
  BOOST_TEST(agreement >= 30.0);
  BOOST_TEST(versus_original >= 20.0);
  // The big-endian (AAL2) packing must not fit: proves the nibble order is the little-endian one.
  const auto big = decode_with_ffmpeg("g726");
  BOOST_TEST(snr_db(pcm, big) < 5.0);
}

BOOST_AUTO_TEST_SUITE_END()
