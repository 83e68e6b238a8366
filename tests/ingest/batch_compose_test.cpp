#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>

#include "codecs/audio.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/pipeline.hpp"
#include "mailstore/mail_store.hpp"
#include "ingest_test_support.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;

namespace {

// A WAV of a tone, so every recording of a batch differs in rate, length and content.
Recording tone_voicemail(unsigned rate, double seconds, double hz, std::string caller) {
  umstore::codecs::PcmAudio audio;
  audio.sample_rate = rate;
  const auto count = static_cast<std::size_t>(seconds * rate);
  for (std::size_t i = 0; i < count; ++i)
    audio.samples.push_back(static_cast<std::int16_t>(8000 * std::sin(6.283185307 * hz * static_cast<double>(i) / rate)));
  Recording r;
  r.kind = Kind::Voice;
  r.to_number = "+15550100";
  r.caller.number = std::move(caller);
  r.file_name = "tone.wav";
  r.file = umstore::codecs::encode_wav_pcm16(audio);
  r.received = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  return r;
}

Recording corrupt_voicemail() {
  Recording r = tone_voicemail(8000, 1, 440, "+15550999");
  r.file.resize(20);
  r.file_name = "broken.wav";
  return r;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The message without what differs on every composition: the Message-ID and
// the multipart boundaries.
std::string without_random_tokens(std::string message) {
  const auto id = message.find("\r\nMessage-ID: ");
  if (id != std::string::npos) {
    const auto end = message.find("\r\n", id + 2);
    message.replace(id, end - id, "\r\nMessage-ID: <id>");
  }
  std::vector<std::string> boundaries;
  for (auto at = message.find("boundary=\""); at != std::string::npos; at = message.find("boundary=\"", at + 1)) {
    const auto begin = at + 10;
    boundaries.push_back(message.substr(begin, message.find('"', begin) - begin));
  }
  for (std::size_t i = 0; i < boundaries.size(); ++i) replace_all(message, boundaries[i], "boundary" + std::to_string(i));
  return message;
}

IngestSettings settings() {
  IngestSettings s;
  s.domain = "vm.example.net";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(batch_compose)

BOOST_AUTO_TEST_CASE(batched_messages_equal_those_composed_alone) {
  const std::vector<Recording> recordings = {tone_voicemail(8000, 3.5, 440, "+15550101"),
                                             tone_voicemail(16000, 2.25, 1000, "+15550102"),
                                             tone_voicemail(8000, 0.7, 300, "+15550103")};
  std::vector<const Recording*> pointers;
  for (const auto& r : recordings) pointers.push_back(&r);
  const auto outcomes = compose_batch(pointers, settings());
  BOOST_REQUIRE_EQUAL(outcomes.size(), recordings.size());
  for (std::size_t i = 0; i < recordings.size(); ++i) {
    BOOST_TEST_CONTEXT("recording " << i) {
      BOOST_REQUIRE(outcomes[i].message.has_value());
      BOOST_TEST(outcomes[i].error.empty());
      const ComposedMessage alone = compose(recordings[i], settings());
      const ComposedMessage& batched = *outcomes[i].message;
      BOOST_TEST(batched.summary == alone.summary);
      BOOST_TEST(batched.recipient_address == alone.recipient_address);
      BOOST_TEST(batched.rfc822.size() == alone.rfc822.size());
      BOOST_TEST((without_random_tokens(batched.rfc822) == without_random_tokens(alone.rfc822)));
      BOOST_TEST(batched.rfc822.find(recordings[i].caller.number) != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_bad_recording_fails_alone_with_the_reason_given_alone) {
  const Recording good_one = tone_voicemail(8000, 1.5, 440, "+15550101");
  const Recording bad = corrupt_voicemail();
  Recording bad_number = tone_voicemail(8000, 1, 440, "+15550104");
  bad_number.to_number = "5550100";
  const Recording good_two = tone_voicemail(8000, 2, 600, "+15550102");
  const std::vector<const Recording*> batch = {&good_one, &bad, &bad_number, &good_two};
  const auto outcomes = compose_batch(batch, settings());
  BOOST_REQUIRE_EQUAL(outcomes.size(), 4u);
  BOOST_TEST(outcomes[0].message.has_value());
  BOOST_TEST(outcomes[3].message.has_value());
  BOOST_TEST(!outcomes[1].message.has_value());
  BOOST_TEST(!outcomes[2].message.has_value());
  std::string alone_error;
  try {
    compose(bad, settings());
  } catch (const std::exception& e) {
    alone_error = e.what();
  }
  BOOST_TEST(!alone_error.empty());
  BOOST_TEST(outcomes[1].error == alone_error);
  BOOST_TEST(outcomes[2].error.find("E.164") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_queued_batch_delivers_the_good_recordings_and_fails_the_bad_one) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueueConfig config = ingest_test::queue_config_in(dir);
  config.batch_size = 8;
  std::vector<std::string> good, bad;
  {
    // Queued while no worker runs, so the one worker finds them all due at once.
    IngestQueue queue(config, *store);
    for (int i = 0; i < 3; ++i) {
      good.push_back(queue.submit(tone_voicemail(8000, 1 + i, 440 + 100 * i, "+1555010" + std::to_string(i)), {}).id);
      if (i == 1) bad.push_back(queue.submit(corrupt_voicemail(), {}).id);
    }
  }
  IngestQueue queue(config, *store);
  const ingest_test::FinalStatuses finals(queue);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  for (const auto& id : good) {
    const auto status = queue.status(id);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(state_name(status->state) == "delivered");
    BOOST_TEST(status->uid != 0u);
  }
  const auto failed = queue.status(bad.front());
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(state_name(failed->state) == "failed");
  BOOST_TEST(failed->reason.find("broken.wav") != std::string::npos, "reason: " << failed->reason);
  BOOST_TEST(std::filesystem::exists(dir.path() / "ingest" / "failed" / bad.front()));
  BOOST_TEST(store->user("+15550100")->open("INBOX")->status().messages == 3u);
  BOOST_TEST(queue.counters().delivered == 3u);
  BOOST_TEST(queue.counters().failed == 1u);
  BOOST_TEST(finals.all().size() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
