#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/durable_file.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest_test_support.hpp"
#include "mailstore/mail_store.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;
using ingest_test::FinalStatuses;
using ingest_test::queue_config_in;
using ingest_test::sample_voicemail;

namespace {

std::uint32_t inbox_messages(umstore::mailstore::MailStore& store, std::string_view number) {
  return store.user(number)->open("INBOX")->status().messages;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ingest_queue)

BOOST_AUTO_TEST_CASE(a_submitted_voicemail_is_delivered_once_per_idempotency_key) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueue queue(queue_config_in(dir), *store);
  const FinalStatuses finals(queue);
  queue.start();
  SubmitOptions options;
  options.idempotency_key = "call-1";
  const auto first = queue.submit(sample_voicemail(), options);
  const auto again = queue.submit(sample_voicemail(), options);
  BOOST_TEST(!first.duplicate);
  BOOST_TEST(again.duplicate);
  BOOST_TEST(again.id == first.id);
  BOOST_REQUIRE(queue.wait_idle(30s));
  const auto status = queue.status(first.id);
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(state_name(status->state) == "delivered");
  BOOST_TEST(status->uid == 1u);
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
  const auto reported = finals.all();
  BOOST_REQUIRE_EQUAL(reported.size(), 1u);
  BOOST_TEST(reported[0].id == first.id);
  BOOST_TEST(queue.counters().delivered == 1u);
  BOOST_TEST(queue.counters().duplicates == 1u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_recording_fails_with_a_reason_and_is_kept) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueue queue(queue_config_in(dir), *store);
  queue.start();
  Recording bad = sample_voicemail();
  bad.file.resize(20);
  const auto id = queue.submit(bad, {}).id;
  BOOST_REQUIRE(queue.wait_idle(30s));
  const auto status = queue.status(id);
  BOOST_TEST(state_name(status->state) == "failed");
  BOOST_TEST(!status->reason.empty());
  BOOST_TEST(std::filesystem::exists(dir.path() / "ingest" / "failed" / id));
}

BOOST_AUTO_TEST_CASE(a_removed_queued_job_is_never_delivered_and_a_delivered_one_cannot_be_removed) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueue queue(queue_config_in(dir), *store);  // not started yet: the job waits
  const auto removed = queue.submit(sample_voicemail(), {}).id;
  const auto kept = queue.submit(sample_voicemail(), {}).id;
  BOOST_TEST(queue.counters().depth == 2u);
  BOOST_TEST(queue.remove(removed));
  BOOST_TEST(!queue.status(removed).has_value());
  BOOST_TEST(queue.counters().depth == 1u);
  BOOST_TEST(!queue.remove(removed));
  BOOST_TEST(!queue.remove("no-such-job"));
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
  BOOST_TEST(state_name(queue.status(kept)->state) == "delivered");
  BOOST_TEST(!queue.remove(kept));
  BOOST_TEST(state_name(queue.status(kept)->state) == "delivered");
  std::size_t recordings = 0;
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.path() / "ingest" / "jobs")) ++recordings;
  BOOST_TEST(recordings == 0u);
}

BOOST_AUTO_TEST_CASE(queued_jobs_resume_after_a_restart) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  std::string id;
  {
    IngestQueue queue(queue_config_in(dir), *store);  // never started: as if killed before any worker ran
    id = queue.submit(sample_voicemail(), {}).id;
    BOOST_TEST(state_name(queue.status(id)->state) == "queued");
  }
  IngestQueue queue(queue_config_in(dir), *store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  BOOST_TEST(state_name(queue.status(id)->state) == "delivered");
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
}

BOOST_AUTO_TEST_CASE(stopping_with_messages_being_composed_and_stored_loses_and_doubles_none) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  std::vector<std::string> ids;
  {
    IngestQueue queue(queue_config_in(dir), *store);
    const FinalStatuses finals(queue);
    queue.start();
    for (int i = 0; i < 24; ++i) ids.push_back(queue.submit(sample_voicemail(), {}).id);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (finals.all().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    BOOST_REQUIRE(!finals.all().empty());
  }  // stopped with the rest queued, composing or waiting for a storer
  IngestQueue queue(queue_config_in(dir), *store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(60s));
  for (const auto& id : ids) BOOST_TEST(state_name(queue.status(id)->state) == "delivered", id);
  BOOST_TEST(inbox_messages(*store, "+15550100") == ids.size());
}

BOOST_AUTO_TEST_CASE(quota_exceeded_is_retried_not_failed) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  store->user("+15550100")->set_quota_limit(1000);
  auto config = queue_config_in(dir);
  config.retry_intervals = {1h};
  IngestQueue queue(config, *store);
  queue.start();
  const auto id = queue.submit(sample_voicemail(), {}).id;
  BOOST_REQUIRE(queue.wait_idle(30s));
  const auto status = queue.status(id);
  BOOST_TEST(state_name(status->state) == "queued");
  BOOST_TEST(status->reason.find("quota") != std::string::npos);
  BOOST_TEST(inbox_messages(*store, "+15550100") == 0u);
}

BOOST_AUTO_TEST_CASE(a_file_submitted_by_path_is_linked_not_copied_and_delivered) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  const Recording recording = sample_voicemail();
  const auto dropped = dir.path() / "drop.wav";
  {
    std::ofstream out(dropped, std::ios::binary);
    out.write(reinterpret_cast<const char*>(recording.file.data()), static_cast<std::streamsize>(recording.file.size()));
  }
  Recording metadata = recording;
  metadata.file.clear();
  std::string id;
  {
    IngestQueue queue(queue_config_in(dir), *store);  // not started: the job stays queued
    id = queue.submit_file(metadata, dropped, {}).id;
    const auto media = dir.path() / "ingest" / "jobs" / id;
    BOOST_REQUIRE(std::filesystem::exists(media));
    BOOST_TEST(std::filesystem::equivalent(media, dropped));  // one inode: the bytes were not written again
    BOOST_TEST(std::filesystem::hard_link_count(dropped) == 2u);
    BOOST_CHECK_THROW(queue.submit_file(metadata, dir.path() / "missing.wav", {}), IngestQueueError);
  }
  IngestQueue queue(queue_config_in(dir), *store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  BOOST_TEST(state_name(queue.status(id)->state) == "delivered");
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
  BOOST_TEST(std::filesystem::exists(dropped));  // the gateway's file is left to its owner (the spool moves it)
  BOOST_TEST(std::filesystem::hard_link_count(dropped) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
