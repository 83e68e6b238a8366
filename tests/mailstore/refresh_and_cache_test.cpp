// Folder::refresh() across store instances (as across processes) and the
// AccountStore's memory of verified passwords.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "mailstore/sqlite_account_store.hpp"
#include "mailstore/mail_store.hpp"
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
