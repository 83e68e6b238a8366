// Jobs a crash caught while being stored: the queue database says
// 'delivering', and whether the message reached the mailbox is found by its
// X-Umstore-Ingest-Id. The crash is made by writing that state into the
// queue's real database between two runs of the queue.
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include "ingest/ingest_queue.hpp"
#include "ingest_test_support.hpp"
#include "mailstore/mail_store.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;
using ingest_test::queue_config_in;
using ingest_test::sample_voicemail;

namespace {

// What the store step leaves on disk just before it stores: the job marked
// delivering, with the UIDNEXT its folder had.
void mark_delivering(const TempDir& dir, const std::string& id, std::uint32_t uid_next) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open((dir.path() / "ingest" / "queue.db").c_str(), &db) == SQLITE_OK);
  const std::string sql = "UPDATE jobs SET state = 'delivering', uid = 0, finished_ms = 0, attempt_uid_next = " +
                          std::to_string(uid_next) + " WHERE id = '" + id + "'";
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  const int changed = sqlite3_changes(db);
  sqlite3_close(db);
  BOOST_REQUIRE(rc == SQLITE_OK);
  BOOST_REQUIRE(changed == 1);
}

// The queue run again after the crash: the job ends delivered as UID 1, the only message.
void restart_and_expect_one_message(const TempDir& dir, umstore::mailstore::MailStore& store, const std::string& id) {
  IngestQueue queue(queue_config_in(dir), store);
  queue.start();
  BOOST_REQUIRE(queue.wait_idle(30s));
  const auto status = queue.status(id);
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(state_name(status->state) == "delivered");
  BOOST_TEST(status->uid == 1u);
  BOOST_TEST(store.user("+15550100")->open("INBOX")->status().messages == 1u);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_recovery)

BOOST_AUTO_TEST_CASE(a_job_caught_after_its_store_is_finished_and_not_stored_again) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  std::string id;
  {
    IngestQueue queue(queue_config_in(dir), *store);
    queue.start();
    id = queue.submit(sample_voicemail(), {}).id;
    BOOST_REQUIRE(queue.wait_idle(30s));
    BOOST_REQUIRE(queue.status(id)->uid == 1u);
  }
  mark_delivering(dir, id, 1);
  restart_and_expect_one_message(dir, *store, id);
}

BOOST_AUTO_TEST_CASE(a_job_caught_before_its_store_is_stored_once) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  std::string id;
  {
    IngestQueue queue(queue_config_in(dir), *store);  // never started
    id = queue.submit(sample_voicemail(), {}).id;
  }
  mark_delivering(dir, id, 1);
  restart_and_expect_one_message(dir, *store, id);
}

BOOST_AUTO_TEST_SUITE_END()
