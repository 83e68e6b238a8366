// The recognition library on real engines: pocketsphinx and tesseract from
// Debian, commands run by /bin/sh, the pool's threads. Word and character
// error rates over the telephone path are measured by
// tests/e2e/test_recognition.py.
#include <sched.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <thread>
#include <iterator>
#include <random>

#include "codecs/audio.hpp"
#include "engine_command.hpp"
#include "recognition/fax_text_reader.hpp"
#include "recognition/recognition_pool.hpp"
#include "recognition/transcriber.hpp"

using namespace umstore;
using namespace umstore::recognition;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> sample(const std::string& name) {
  std::ifstream in(std::string(UMSTORE_SAMPLES) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

codecs::PcmAudio white_noise(double seconds, double amplitude) {
  std::mt19937 random(42);
  std::normal_distribution<double> normal(0, amplitude);
  codecs::PcmAudio audio{8000, std::vector<std::int16_t>(static_cast<std::size_t>(seconds * 8000))};
  for (auto& s : audio.samples) s = static_cast<std::int16_t>(std::clamp(normal(random), -32767.0, 32767.0));
  return audio;
}

std::string thrown_by(const std::function<void()>& run) {
  try {
    run();
  } catch (const RecognitionError& e) {
    return e.what();
  }
  return "nothing thrown";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transcriber)

BOOST_AUTO_TEST_CASE(speech_gives_words_silence_and_noise_give_none) {
  const Transcriber transcriber({});
  const auto speech = codecs::decode_audio(sample("voicemail.wav"), "voicemail.wav");
  const Transcript heard = transcriber.transcribe(speech);
  BOOST_TEST(heard.text.size() > 20u);
  BOOST_TEST(heard.words_per_second > 1.0);
  BOOST_TEST(transcriber.transcribe(codecs::PcmAudio{8000, std::vector<std::int16_t>(40000)}).text.empty());
  // Loud white noise: pocketsphinx hears a word or two in it, under the
  // words-per-second floor.
  BOOST_TEST(transcriber.transcribe(white_noise(5, 9000)).text.empty());
  BOOST_TEST(transcriber.transcribe(white_noise(5, 300)).text.empty());
}

BOOST_AUTO_TEST_CASE(a_command_gets_the_recording_as_wav_and_its_words_are_the_transcript) {
  TranscriberConfig config;
  config.command = "test \"$(head -c 4)\" = RIFF && printf '%s  said\\n\\n hello\\n' \"$(head -c 4 %f)\"";
  const Transcript heard = Transcriber(config).transcribe(white_noise(1, 100));
  BOOST_TEST(heard.text == "RIFF said hello");
}

BOOST_AUTO_TEST_CASE(only_the_first_max_seconds_are_transcribed) {
  TranscriberConfig config;
  config.command = "wc -c";
  config.max_seconds = 1;
  // A 44-byte WAV header and one second of 16-bit samples at 8 kHz.
  BOOST_TEST(Transcriber(config).transcribe(white_noise(3, 100)).text == "16044 ...");
}

BOOST_AUTO_TEST_CASE(a_failing_hung_or_verbose_command_throws_saying_why) {
  const auto run = [](std::string command, std::chrono::milliseconds timeout, std::size_t cap = 65536) {
    TranscriberConfig config;
    config.command = std::move(command);
    config.command_timeout = timeout;
    config.max_output_bytes = cap;
    return thrown_by([&] { Transcriber(config).transcribe(white_noise(1, 100)); });
  };
  BOOST_TEST(run("echo no model >&2; exit 3", 10s) == "the transcription command exited with status 3 (no model)");
  const auto started = std::chrono::steady_clock::now();
  BOOST_TEST(run("sleep 1000", 300ms) == "the transcription command did not finish within 0.3 s and was killed");
  BOOST_TEST((std::chrono::steady_clock::now() - started < 5s));
  BOOST_TEST(run("kill -9 $$", 10s) == "the transcription command was killed by signal 9");
  BOOST_TEST(run("yes", 10s, 1000) == "the transcription command wrote more than 1000 bytes");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fax_text)

BOOST_AUTO_TEST_CASE(reads_every_page_and_the_first_lines_of_page_one) {
  const FaxText text = FaxTextReader({"eng", 2, 50}).read(sample("fax.tif"));
  BOOST_TEST(text.first_lines == "Example Plumbing Ltd - INVOICE 2024-0117\nFax page 1 of 2\n");
  BOOST_TEST(text.full_text.find("To: Bob Jones, 12 Sample Street") != std::string::npos);
  BOOST_TEST(text.full_text.find("Thank you for your business.") != std::string::npos);  // page 2
  BOOST_TEST(text.full_text.find('\f') != std::string::npos);
}

BOOST_AUTO_TEST_CASE(what_is_not_a_tiff_or_a_language_not_installed_throws) {
  const std::vector<std::uint8_t> junk(100, 0x42);
  BOOST_TEST(thrown_by([&] { FaxTextReader().read(junk); }) == "the fax TIFF has no page leptonica can read");
  BOOST_TEST(thrown_by([&] { FaxTextReader({"xx-none", 5, 50}).read(sample("fax.tif")); }) ==
             "tesseract cannot load language 'xx-none' (install tesseract-ocr-xx-none)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool)

BOOST_AUTO_TEST_CASE(runs_jobs_on_idle_priority_threads_and_counts_them) {
  RecognitionPool pool({1, 4});
  auto pending = pool.submit("voice", [] { return RecognisedText{std::to_string(sched_getscheduler(0)), {}}; });
  BOOST_REQUIRE(pending);
  const auto text = pending->wait_until(std::chrono::steady_clock::now() + 10s);
  BOOST_REQUIRE(text);
  BOOST_TEST(text->text == std::to_string(SCHED_IDLE));
  auto failing = pool.submit("fax", []() -> RecognisedText { throw RecognitionError("engine broke"); });
  BOOST_TEST(!failing->wait_until(std::chrono::steady_clock::now() + 10s));
  BOOST_TEST(failing->why() == "engine broke");
  while (pool.depth() != 0) std::this_thread::yield();  // the thread is done with it
  std::string metrics;
  pool.append_metrics(metrics);
  BOOST_TEST(metrics.find("umstore_recognition_queue_depth 0") != std::string::npos);
  BOOST_TEST(metrics.find("umstore_recognition_job_seconds_count{kind=\"voice\"} 1") != std::string::npos);
  BOOST_TEST(metrics.find("umstore_recognition_failures_total{kind=\"fax\"} 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_full_queue_refuses_and_a_job_given_up_on_is_not_run) {
  RecognitionPool pool({1, 1});
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> runs = 0;
  const auto blocking = [&] {
    ++runs;
    released.wait();
    return RecognisedText{"done", {}};
  };
  auto running = pool.submit("voice", blocking);
  while (pool.depth() != 1 || runs == 0) std::this_thread::yield();  // taken by the thread
  auto queued = pool.submit("voice", blocking);
  BOOST_REQUIRE(queued);
  BOOST_TEST(!pool.submit("voice", blocking));  // the queue holds one
  BOOST_TEST(!queued->wait_until(std::chrono::steady_clock::now() + 10ms));
  BOOST_TEST(queued->why() == "no recognition thread was free in time");
  BOOST_TEST(!running->wait_until(std::chrono::steady_clock::now() + 10ms));
  BOOST_TEST(running->why() == "recognition took longer than the wait");
  release.set_value();
  while (pool.depth() != 0) std::this_thread::yield();
  BOOST_TEST(runs == 1);  // the queued job was given up on before it started
  std::string metrics;
  pool.append_metrics(metrics);
  BOOST_TEST(metrics.find("umstore_recognition_refused_total{kind=\"voice\"} 1") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
