#include <ctime>  // spandsp.h needs time_t
#include <spandsp.h>

#include <boost/test/unit_test.hpp>

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

std::vector<std::int16_t> voicemail_pcm() {
  const auto wav = read_file(sample("voicemail.wav"));
  return decode_audio(wav, "voicemail.wav").samples;
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
