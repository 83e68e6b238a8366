// FolderWatcher: another store instance (as another process) changes a
// folder; the watcher's descriptor becomes readable and process_events()
// makes the folder's listeners hear of it, without anyone polling.
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "mailstore/folder_name.hpp"
#include "folder_watcher.hpp"
#include "mailstore/mail_store.hpp"
#include "temp_dir.hpp"

using namespace umstore::mailstore;

namespace {

// Waits (up to 5 s) for the watcher's descriptor and processes what arrived.
bool events_arrive(FolderWatcher& watcher) {
  pollfd p{watcher.fd(), POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return false;
  return watcher.process_events();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_watcher)

BOOST_AUTO_TEST_CASE(another_stores_delivery_reaches_the_listener) {
  TempDir dir;
  auto mine = open_maildir_store(dir.path());
  auto other = open_maildir_store(dir.path());
  auto inbox = mine->user("+15550100")->open("INBOX");
  std::atomic<int> heard{0};
  auto listener = inbox->listen([&heard] { ++heard; });
  FolderWatcher watcher;
  auto handle = watcher.watch(inbox);
  BOOST_REQUIRE(handle);
  BOOST_TEST(!watcher.process_events());  // nothing yet
  other->deliver("+15550100", "Subject: x\r\n\r\nbody\r\n");
  BOOST_REQUIRE(events_arrive(watcher));
  // The store's own watcher thread may notice first and notify a moment
  // later: either way the listener hears of it.
  for (int i = 0; i < 500 && heard.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(heard.load() >= 1);
  BOOST_TEST(inbox->snapshot().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_file_dropped_into_new_is_noticed) {
  TempDir dir;
  auto store = open_maildir_store(dir.path());
  auto inbox = store->user("+15550100")->open("INBOX");
  std::atomic<int> heard{0};
  auto listener = inbox->listen([&heard] { ++heard; });
  FolderWatcher watcher;
  auto handle = watcher.watch(inbox);
  BOOST_REQUIRE(handle);
  const auto new_dir = dir.path() / "+15550100" / folder_directory_name("INBOX") / "new";
  BOOST_REQUIRE(std::filesystem::is_directory(new_dir));
  std::ofstream(new_dir / "1700000000.tool.host") << "Subject: dropped\r\n\r\nhi\r\n";
  BOOST_REQUIRE(events_arrive(watcher));
  watcher.settle();
  BOOST_TEST(heard.load() >= 1);
  BOOST_TEST(inbox->snapshot().size() == 1u);
}

BOOST_AUTO_TEST_CASE(one_watch_per_folder_shared_and_removed_with_the_last_handle) {
  TempDir dir;
  auto store = open_maildir_store(dir.path());
  auto user = store->user("+15550100");
  auto inbox = user->open("INBOX");
  auto trash = user->open("Trash");
  FolderWatcher watcher;
  auto a = watcher.watch(inbox);
  auto b = watcher.watch(inbox);
  BOOST_TEST(a == b);
  auto c = watcher.watch(trash);
  BOOST_TEST(watcher.watched_folders() == 2u);
  a.reset();
  BOOST_TEST(watcher.watched_folders() == 2u);
  b.reset();
  BOOST_TEST(watcher.watched_folders() == 1u);
  // No longer watched: a delivery makes no event.
  store->deliver("+15550100", "Subject: y\r\n\r\nbody\r\n");
  BOOST_TEST(!watcher.process_events());
  c.reset();
  BOOST_TEST(watcher.watched_folders() == 0u);
  // And it can be watched again.
  auto d = watcher.watch(inbox);
  BOOST_REQUIRE(d);
  store->deliver("+15550100", "Subject: z\r\n\r\nbody\r\n");
  BOOST_TEST(events_arrive(watcher));
}

BOOST_AUTO_TEST_CASE(handles_may_outlive_the_watcher) {
  TempDir dir;
  auto store = open_maildir_store(dir.path());
  auto inbox = store->user("+15550100")->open("INBOX");
  FolderWatcher::Handle handle;
  {
    FolderWatcher watcher;
    handle = watcher.watch(inbox);
  }
  handle.reset();  // must not touch freed state
  BOOST_TEST(inbox->snapshot().empty());
}

BOOST_AUTO_TEST_SUITE_END()
