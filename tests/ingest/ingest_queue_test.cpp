#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/durable_file.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/mail_store.hpp"
#include "../mailstore/temp_dir.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;

namespace {

Recording sample_voicemail(std::string to = "+15550100") {
  Recording r;
  r.kind = Kind::Voice;
  r.to_number = std::move(to);
  r.caller.number = "+15550123";
  r.file_name = "voicemail.wav";
  const std::string bytes = umstore::read_file(std::filesystem::path(UMSTORE_SOURCE_DIR) / "samples/voicemail.wav");
  r.file.assign(bytes.begin(), bytes.end());
  return r;
}

IngestQueueConfig config_in(const TempDir& dir) {
  IngestQueueConfig c;
  c.dir = dir.path() / "ingest";
  c.settings.domain = "vm.example.net";
  c.workers = 1;
  return c;
}

std::uint32_t inbox_messages(umstore::mailstore::MailStore& store, std::string_view number) {
  return store.user(number)->open("INBOX")->status().messages;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ingest_queue)

BOOST_AUTO_TEST_CASE(a_submitted_voicemail_is_delivered_once_per_idempotency_key) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueue queue(config_in(dir), *store);
  std::vector<IngestStatus> finals;
  std::mutex m;
  queue.on_final([&](const IngestStatus& s) {
    std::lock_guard lock(m);
    finals.push_back(s);
  });
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
  std::lock_guard lock(m);
  BOOST_REQUIRE_EQUAL(finals.size(), 1u);
  BOOST_TEST(finals[0].id == first.id);
  BOOST_TEST(queue.counters().delivered == 1u);
  BOOST_TEST(queue.counters().duplicates == 1u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_recording_fails_with_a_reason_and_is_kept) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueue queue(config_in(dir), *store);
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

BOOST_AUTO_TEST_CASE(queued_jobs_resume_after_a_restart) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  std::string id;
  {
    IngestQueue queue(config_in(dir), *store);  // never started: as if killed before any worker ran
    id = queue.submit(sample_voicemail(), {}).id;
    BOOST_TEST(state_name(queue.status(id)->state) == "queued");
  }
  IngestQueue queue(config_in(dir), *store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  BOOST_TEST(state_name(queue.status(id)->state) == "delivered");
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
}

BOOST_AUTO_TEST_CASE(quota_exceeded_is_retried_not_failed) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  store->user("+15550100")->set_quota_limit(1000);
  auto config = config_in(dir);
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
    IngestQueue queue(config_in(dir), *store);  // not started: the job stays queued
    id = queue.submit_file(metadata, dropped, {}).id;
    const auto media = dir.path() / "ingest" / "jobs" / id;
    BOOST_REQUIRE(std::filesystem::exists(media));
    BOOST_TEST(std::filesystem::equivalent(media, dropped));  // one inode: the bytes were not written again
    BOOST_TEST(std::filesystem::hard_link_count(dropped) == 2u);
    BOOST_CHECK_THROW(queue.submit_file(metadata, dir.path() / "missing.wav", {}), IngestQueueError);
  }
  IngestQueue queue(config_in(dir), *store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  BOOST_TEST(state_name(queue.status(id)->state) == "delivered");
  BOOST_TEST(inbox_messages(*store, "+15550100") == 1u);
  BOOST_TEST(std::filesystem::exists(dropped));  // the gateway's file is left to its owner (the spool moves it)
  BOOST_TEST(std::filesystem::hard_link_count(dropped) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
