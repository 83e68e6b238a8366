// Folder::refresh() across store instances (as across processes), the
// Maildir store's bound on mailboxes kept in memory, and the AccountStore's
// memory of verified passwords.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "mailstore/sqlite_account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/store_metrics.hpp"
#include "temp_dir.hpp"

using namespace umstore::mailstore;

BOOST_AUTO_TEST_SUITE(refresh_and_cache)

BOOST_AUTO_TEST_CASE(refresh_notices_another_stores_delivery) {
  TempDir dir;
  auto mine = open_maildir_store(dir.path());
  auto other = open_maildir_store(dir.path());  // own caches: like another process
  auto inbox = mine->user("+15550100")->open("INBOX");
  std::atomic<int> heard{0};
  auto handle = inbox->listen([&heard] { ++heard; });
  const auto before = inbox->change_counter();
  other->deliver("+15550100", "Subject: x\r\n\r\nbody\r\n");
  inbox->refresh();
  BOOST_TEST(inbox->change_counter() > before);
  // The store's own watcher may have noticed first and be telling right
  // now; either way the change is told once.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard.load() == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(heard.load() == 1);
  inbox->refresh();  // nothing new: no second notice
  BOOST_TEST(heard.load() == 1);
  BOOST_TEST(inbox->snapshot().size() == 1u);
}

// Many mailboxes delivered to: those no one holds leave memory past the
// limit and come back whole; one a session holds stays the same object, so
// its listener still hears deliveries.
BOOST_AUTO_TEST_CASE(mailboxes_no_one_holds_leave_memory_past_the_limit) {
  TempDir dir;
  const auto before = store_metrics().mailboxes_in_memory.value();
  // No text index: its pending work holds folders for a moment (by design), which would make this timing-dependent.
  auto store = open_maildir_store(dir.path(), {.text_index = false, .mailboxes_in_memory = 8});
  auto held = store->user("+15550100")->open("INBOX");
  std::atomic<int> heard{0};
  auto handle = held->listen([&heard] { ++heard; });
  for (int n = 1; n <= 40; ++n) {
    const std::string number = "+1555020" + std::to_string(1000 + n);
    store->deliver(number, "Subject: first\r\n\r\nbody\r\n");
    store->deliver(number, "Subject: second\r\n\r\nbody\r\n");
    BOOST_TEST(store_metrics().mailboxes_in_memory.value() - before <= 8 + 1);
  }
  // Read again from disk: both messages, in order, with their UIDs.
  const auto first = store->user("+15550201001")->open("INBOX")->snapshot();
  BOOST_REQUIRE(first.size() == 2u);
  BOOST_TEST(first[0].uid == 1u);
  BOOST_TEST(first[1].uid == 2u);
  BOOST_TEST(store->user("+15550201001")->open("INBOX")->append("Subject: third\r\n\r\nbody\r\n") == 3u);
  store->deliver("+15550100", "Subject: to the held one\r\n\r\nbody\r\n");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard.load() == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(heard.load() == 1);
  BOOST_TEST(held->snapshot().size() == 1u);
}

BOOST_AUTO_TEST_CASE(verified_password_is_forgotten_when_it_changes) {
  TempDir dir;
  SqliteAccountStore store(dir.path() / "accounts.db");
  store.add(Account{"+15550100", "Alice", "", 0}, "first secret");
  BOOST_TEST(store.verify_password("+15550100", "first secret"));
  BOOST_TEST(store.verify_password("+15550100", "first secret"));  // from memory
  BOOST_TEST(!store.verify_password("+15550100", "first secreT"));
  // A second store object (the admin CLI in another process) changes it.
  SqliteAccountStore admin(dir.path() / "accounts.db");
  admin.set_password("+15550100", "second secret");
  BOOST_TEST(!store.verify_password("+15550100", "first secret"));
  BOOST_TEST(store.verify_password("+15550100", "second secret"));
  admin.remove("+15550100");
  BOOST_TEST(!store.verify_password("+15550100", "second secret"));
}

BOOST_AUTO_TEST_SUITE_END()
