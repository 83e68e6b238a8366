// The ingest decoder process (ingest/decode_worker.hpp): the same result as
// decoding in-process, each limit named when exceeded, the worker unable to
// reach the network or files, and a queue that keeps serving other jobs
// while one exceeds its limits.
#include <boost/test/unit_test.hpp>
#include <sndfile.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/child_process.hpp"
#include "common/durable_file.hpp"
#include "ingest/decode_worker.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest_test_support.hpp"
#include "mailstore/mail_store.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;
using ingest_test::queue_config_in;
using ingest_test::sample_voicemail;

namespace {

std::vector<std::uint8_t> sample(const char* name) {
  const std::string bytes = umstore::read_file(std::filesystem::path(UMSTORE_SOURCE_DIR) / "samples" / name);
  return {bytes.begin(), bytes.end()};
}

DecodeSandbox sandbox(std::chrono::seconds cpu = 60s, std::size_t memory_mb = 1024, std::chrono::seconds wall = 120s) {
  DecodeSandbox confined;
  confined.enabled = true;
  confined.worker = UMSTORE_DECODE_WORKER;
  confined.cpu = cpu;
  confined.memory_mb = memory_mb;
  confined.wall = wall;
  return confined;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v));
  put16(out, static_cast<std::uint16_t>(v >> 16));
}

// A TIFF of `pages` all-white G4 pages at the default page-size limits: a
// few KiB per page that cost the converter about a second of CPU each
// (issue #19's item 6). In G4 an all-white row under an all-white one is
// the single bit 1 (vertical mode, offset 0).
std::vector<std::uint8_t> white_g4_tiff(unsigned pages, std::uint32_t width = 4864, std::uint32_t length = 20000) {
  std::vector<std::uint8_t> strip(length / 8, 0xFF);
  for (const std::uint8_t eofb : {0x00, 0x10, 0x01, 0x00, 0x10, 0x01}) strip.push_back(eofb);
  std::vector<std::uint8_t> tiff{'I', 'I', 42, 0};
  put32(tiff, 8);
  constexpr std::uint32_t kEntries = 12;
  for (unsigned page = 0; page < pages; ++page) {
    const auto ifd = static_cast<std::uint32_t>(tiff.size());
    const std::uint32_t resolution = ifd + 2 + kEntries * 12 + 4;  // two RATIONALs after the IFD
    const std::uint32_t data = resolution + 16;
    const std::uint32_t next = page + 1 < pages ? data + static_cast<std::uint32_t>(strip.size()) : 0;
    put16(tiff, kEntries);
    const auto entry = [&](std::uint16_t tag, std::uint16_t type, std::uint32_t value) {
      put16(tiff, tag);
      put16(tiff, type);
      put32(tiff, 1);
      put32(tiff, value);
    };
    entry(256, 4, width);
    entry(257, 4, length);
    entry(258, 3, 1);        // BitsPerSample
    entry(259, 3, 4);        // Compression: CCITT T.6 (G4)
    entry(262, 3, 0);        // WhiteIsZero
    entry(273, 4, data);     // StripOffsets
    entry(277, 3, 1);        // SamplesPerPixel
    entry(278, 4, length);   // RowsPerStrip
    entry(279, 4, static_cast<std::uint32_t>(strip.size()));
    entry(282, 5, resolution);
    entry(283, 5, resolution + 8);
    entry(296, 3, 2);        // inches
    put32(tiff, next);
    for (int i = 0; i < 2; ++i) {
      put32(tiff, 408);
      put32(tiff, 1);
    }
    tiff.insert(tiff.end(), strip.begin(), strip.end());
  }
  return tiff;
}

// A 16-bit mono WAV of `seconds` at 8 kHz, a quiet tone.
std::vector<std::uint8_t> wav_8khz(unsigned seconds) {
  const std::uint32_t samples = seconds * 8000;
  std::vector<std::uint8_t> wav{'R', 'I', 'F', 'F'};
  put32(wav, 36 + samples * 2);
  for (const char c : std::string_view("WAVEfmt ")) wav.push_back(static_cast<std::uint8_t>(c));
  put32(wav, 16);
  put16(wav, 1);
  put16(wav, 1);
  put32(wav, 8000);
  put32(wav, 16000);
  put16(wav, 2);
  put16(wav, 16);
  for (const char c : std::string_view("data")) wav.push_back(static_cast<std::uint8_t>(c));
  put32(wav, samples * 2);
  wav.reserve(wav.size() + samples * 2);
  for (std::uint32_t i = 0; i < samples; ++i) put16(wav, static_cast<std::uint16_t>(i % 16 < 8 ? 1000 : -1000));
  return wav;
}

// A FLAC of `seconds` of silence at `rate` Hz in `channels` channels: a few
// KiB that took 6 bytes per frame in memory when decoded whole (16-bit
// mono at its own rate, then the resampler's floats): issue #19's item 7.
std::vector<std::uint8_t> silent_flac(unsigned seconds, int rate, int channels) {
  TempDir dir;
  const auto path = dir.path() / "silence.flac";
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  BOOST_REQUIRE_MESSAGE(file, sf_strerror(nullptr));
  const std::vector<short> second(static_cast<std::size_t>(rate * channels), 0);
  for (unsigned i = 0; i < seconds; ++i) sf_writef_short(file, second.data(), rate);
  sf_close(file);
  const std::string bytes = umstore::read_file(path);
  return {bytes.begin(), bytes.end()};
}

std::string failure_of(auto&& decode) {
  try {
    decode();
  } catch (const umstore::codecs::CodecError& e) {
    return e.what();
  }
  return "(no failure)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decode_sandbox)

BOOST_AUTO_TEST_CASE(the_worker_decodes_exactly_what_the_process_itself_would) {
  const auto voice = sample("voicemail.wav");
  const umstore::codecs::AudioLimits audio_limits;
  const auto here = decode_voice_input(voice, "voicemail.wav", audio_limits);
  const auto there = decode_voice_confined(voice, "voicemail.wav", audio_limits, sandbox());
  BOOST_TEST(there.sample_rate == 8000u);
  BOOST_TEST(there.samples == here.samples);

  const auto fax = sample("fax.tif");
  const umstore::codecs::FaxLimits fax_limits;
  const auto fax_here = decode_fax_input(fax, "fax.tif", fax_limits);
  const auto fax_there = decode_fax_confined(fax, "fax.tif", fax_limits, sandbox());
  BOOST_TEST(fax_there.pages == 2u);
  BOOST_TEST(fax_there.tiff == fax_here.tiff);
}

BOOST_AUTO_TEST_CASE(a_codec_error_reads_as_it_does_in_process) {
  auto truncated = sample("voicemail.wav");
  truncated.resize(20);
  const umstore::codecs::AudioLimits limits;
  const std::string here = failure_of([&] { decode_voice_input(truncated, "short.wav", limits); });
  BOOST_TEST(here.starts_with("short.wav: "));
  BOOST_TEST(failure_of([&] { decode_voice_confined(truncated, "short.wav", limits, sandbox()); }) == here);
}

BOOST_AUTO_TEST_CASE(a_fax_over_the_cpu_limit_is_killed_and_named) {
  const auto tiff = white_g4_tiff(8);
  const std::string failure =
      failure_of([&] { decode_fax_confined(tiff, "white.tif", umstore::codecs::FaxLimits{}, sandbox(1s)); });
  BOOST_TEST(failure == "white.tif: decoding exceeded the CPU limit of 1 s ([ingest] decode_cpu_seconds)");
}

BOOST_AUTO_TEST_CASE(a_decoder_past_the_wall_clock_deadline_is_killed_and_named) {
  const auto tiff = white_g4_tiff(8);
  const std::string failure =
      failure_of([&] { decode_fax_confined(tiff, "white.tif", umstore::codecs::FaxLimits{}, sandbox(60s, 1024, 1s)); });
  BOOST_TEST(failure == "white.tif: decoding did not finish within 1 s ([ingest] decode_wall_seconds)");
}

BOOST_AUTO_TEST_CASE(a_recording_over_the_memory_limit_fails_naming_it) {
  const umstore::codecs::AudioLimits limits;
  const auto long_wav = wav_8khz(1200);  // 19 MB of samples
  BOOST_TEST(failure_of([&] { decode_voice_confined(long_wav, "long.wav", limits, sandbox(60s, 48)); }) ==
             "long.wav: decoding exceeded the memory limit of 48 MiB ([ingest] decode_memory_mb)");
  const auto short_wav = wav_8khz(1);
  BOOST_TEST(decode_voice_confined(short_wav, "short.wav", limits, sandbox(60s, 48)).samples.size() == 8000u);
}

// The decoder resamples as it decodes: its memory is the 8 kHz output and
// a constant, not the recording at its own rate.
BOOST_AUTO_TEST_CASE(a_long_high_rate_recording_costs_the_decoder_little_more_than_its_output) {
  constexpr std::size_t seconds = 600;
  const auto flac = silent_flac(seconds, 48000, 4);
  umstore::ForkServer server({UMSTORE_DECODE_WORKER, "fork-server"});
  const auto run = server.run({"voice", "name=silence.flac", "cpu_seconds=60", "memory_bytes=4294967296",
                               "max_seconds=3600", "max_input_bytes=536870912"},
                              flac, 120s, 1u << 30);
  BOOST_TEST_INFO(run.errors);
  BOOST_REQUIRE(run.exit_code == 0);
  const std::size_t output = seconds * 8000 * 2;
  const std::size_t whole = seconds * 48000 * 6;
  BOOST_TEST(run.output.size() == output);
  BOOST_TEST_MESSAGE("decoding " << flac.size() << " bytes of FLAC (" << seconds << " s at 48 kHz, 4 channels): peak RSS "
                                 << (run.peak_memory_bytes >> 20) << " MiB, output " << (output >> 20)
                                 << " MiB, decoded whole " << (whole >> 20) << " MiB");
  BOOST_TEST(run.peak_memory_bytes < output + (32u << 20));
}

BOOST_AUTO_TEST_CASE(a_recording_over_the_duration_limit_fails_naming_its_key) {
  const auto voice = sample("voicemail.wav");  // 17.6 s
  const umstore::codecs::AudioLimits limits{.max_seconds = 5};
  const std::string expected =
      "voicemail.wav: WAV (Microsoft) (Signed 16 bit PCM): too long: 17 s, limit 5 s ([codecs] max_voice_seconds)";
  BOOST_TEST(failure_of([&] { decode_voice_input(voice, "voicemail.wav", limits); }) == expected);
  BOOST_TEST(failure_of([&] { decode_voice_confined(voice, "voicemail.wav", limits, sandbox()); }) == expected);
}

// Issue #19's 35 KB TIFF of 200 white pages at the page-size limits, which
// cost 150 s of CPU: refused from its directory tags, before a page is decoded.
BOOST_AUTO_TEST_CASE(a_fax_over_the_pixel_budget_fails_before_decoding_naming_its_key) {
  const auto tiff = white_g4_tiff(200);
  const umstore::codecs::FaxLimits limits;
  const std::string expected =
      "white.tif: TIFF: 11 pages of 1070080000 pixels exceed the limit of 1000000000 pixels ([codecs] max_fax_pixels)";
  BOOST_TEST(failure_of([&] { decode_fax_input(tiff, "white.tif", limits); }) == expected);
  BOOST_TEST(failure_of([&] { decode_fax_confined(tiff, "white.tif", limits, sandbox(5s)); }) == expected);
}

// A PDF's pages are counted at the resolution they would be rendered at,
// from their boxes, before poppler draws one.
BOOST_AUTO_TEST_CASE(a_pdf_over_the_pixel_budget_fails_before_rendering) {
  const auto pdf = umstore::codecs::to_fax_pdf(sample("fax.tif"), "fax.tif");  // 2 pages, 1728 x 2287 at fine resolution
  umstore::codecs::FaxLimits limits;
  limits.max_pixels = 1728 * 2287 * 3 / 2;
  const std::string failure = failure_of([&] { decode_fax_input(pdf, "fax.pdf", limits); });
  BOOST_TEST(failure.starts_with("fax.pdf: PDF: 2 pages of "), failure);
  BOOST_TEST(failure.ends_with(" pixels exceed the limit of 5927904 pixels ([codecs] max_fax_pixels)"), failure);
  limits.max_pixels = 1728 * 2287 * 2 + 10000;
  BOOST_TEST(decode_fax_input(pdf, "fax.pdf", limits).pages == 2u);
}

BOOST_AUTO_TEST_CASE(the_worker_can_open_no_socket_file_process_or_thread) {
  TempDir dir;
  const auto secret = dir.path() / "secret";
  umstore::replace_file_durably(secret, "not for the decoder");
  umstore::ForkServer server({UMSTORE_DECODE_WORKER, "fork-server"});
  const auto run = server.run({"selftest", secret.string()}, {}, 30s, 1 << 16);
  BOOST_TEST_INFO(run.output + run.errors);
  BOOST_TEST(run.exit_code == 0);
  for (const char* act : {"socket", "open for reading", "create a file", "fork", "exec", "signal the parent", "thread"})
    BOOST_TEST(run.output.find(std::string(act) + ": refused (") != std::string::npos, act);
  BOOST_TEST(run.output.find("ALLOWED") == std::string::npos);
  BOOST_TEST(!std::filesystem::exists(secret.string() + ".new"));
}

BOOST_AUTO_TEST_CASE(a_job_over_a_limit_fails_keeping_its_file_while_the_queue_delivers_the_next) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  auto config = queue_config_in(dir);  // one worker: the voicemail waits behind the fax
  config.settings.decode = sandbox(1s);
  IngestQueue queue(config, *store);
  queue.start();
  Recording fax = sample_voicemail();
  fax.kind = Kind::Fax;
  fax.file_name = "white.tif";
  fax.file = white_g4_tiff(8);
  const auto fax_id = queue.submit(fax, {}).id;
  const auto voice_id = queue.submit(sample_voicemail(), {}).id;
  BOOST_REQUIRE(queue.wait_idle(60s));
  const auto fax_status = queue.status(fax_id);
  BOOST_TEST(state_name(fax_status->state) == "failed");
  BOOST_TEST(fax_status->reason == "white.tif: decoding exceeded the CPU limit of 1 s ([ingest] decode_cpu_seconds)");
  BOOST_TEST(umstore::read_file(dir.path() / "ingest" / "failed" / fax_id).size() == fax.file.size());
  BOOST_TEST(state_name(queue.status(voice_id)->state) == "delivered");
  BOOST_TEST(store->user("+15550100")->open("INBOX")->status().messages == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
