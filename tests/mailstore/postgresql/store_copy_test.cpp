// copy_store from the embedded store (Maildir + SQLite) into PostgreSQL:
// accounts with their hashes, folders, subscriptions and messages with
// their UIDVALIDITY, UIDs, UIDNEXT, flags, keywords and dates; a second run
// resumes and copies only what is new.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "mailstore/sqlite_account_store.hpp"
#include "mailstore/store_copy.hpp"
#include "pg_account_store.hpp"
#include "pg_test_support.hpp"
#include "temp_dir.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;

namespace {

constexpr const char* kNumber = "+15550100";

struct Embedded {
  TempDir dir;
  std::unique_ptr<MailStore> mail = open_maildir_store(dir.path() / "mail");
  SqliteAccountStore accounts{dir.path() / "accounts.db"};
};

struct Database {
  pg::FreshSchema schema{"store_copy", true};
  std::unique_ptr<MailStore> mail = open_postgresql_store(pg::dsn_in_schema(schema.name));
  std::unique_ptr<AccountStore> accounts = open_postgresql_accounts(pg::dsn_in_schema(schema.name));
};

void require_same_folder(Folder& source, Folder& target) {
  BOOST_TEST(target.uid_validity() == source.uid_validity());
  BOOST_TEST(target.status().uid_next == source.status().uid_next);
  BOOST_TEST(target.first_recent_uid() == source.first_recent_uid());
  const auto from = source.snapshot();
  const auto to = target.snapshot();
  BOOST_REQUIRE(to.size() == from.size());
  for (std::size_t i = 0; i < from.size(); ++i) {
    BOOST_TEST(to[i].uid == from[i].uid);
    BOOST_TEST(to[i].flags == from[i].flags);
    BOOST_TEST(to[i].keywords == from[i].keywords);
    BOOST_TEST(to[i].internal_date == from[i].internal_date);
    BOOST_TEST(target.open_message(to[i].uid)->bytes() == source.open_message(from[i].uid)->bytes());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(store_copy)

BOOST_AUTO_TEST_CASE(keeps_uids_flags_accounts_and_resumes) {
  Embedded from;
  Database to;
  from.accounts.add(Account{kNumber, "Alice Example", "alice@example.com", 0}, "copy-password");
  from.accounts.set_delivery(kNumber, MailboxDelivery{PlayableAudio::mp3, true, true});
  auto mailbox = from.mail->user(kNumber);
  auto inbox = mailbox->open("INBOX");
  const std::vector<std::string> keywords{"$Forwarded"};
  inbox->append(message(1), kSeen, keywords, 1'600'000'000);
  inbox->append(message(2), kFlagged);
  const std::uint32_t last = inbox->append(message(3));
  const std::vector<std::uint32_t> gone{last};
  inbox->change_flags(gone, FlagChange::Add, kDeleted);
  inbox->expunge();  // UIDNEXT is now above the last message's UID
  inbox->claim_recent(2);  // a session has seen the first message
  mailbox->create("Archive");
  mailbox->set_subscribed("Archive", true);
  mailbox->open("Archive")->append(message(4), kAnswered);

  const auto first = copy_store({*from.mail, from.accounts}, {*to.mail, *to.accounts});
  BOOST_TEST(first.accounts_added == 1u);
  BOOST_TEST(first.messages_copied == 3u);
  BOOST_TEST(to.accounts->verify_password(kNumber, "copy-password"));
  BOOST_TEST(to.accounts->find(kNumber)->name == "Alice Example");
  BOOST_TEST((to.accounts->delivery(kNumber) == MailboxDelivery{PlayableAudio::mp3, true, true}));
  auto copied = to.mail->user(kNumber);
  require_same_folder(*inbox, *copied->open("INBOX"));
  require_same_folder(*mailbox->open("Archive"), *copied->open("Archive"));
  const auto folders = copied->list();
  const auto archive = std::find_if(folders.begin(), folders.end(), [](const auto& f) { return f.name == "Archive"; });
  BOOST_REQUIRE(archive != folders.end());
  BOOST_TEST(archive->subscribed);

  // Again, after one more message: only that one is copied.
  inbox->append(message(5));
  const auto second = copy_store({*from.mail, from.accounts}, {*to.mail, *to.accounts});
  BOOST_TEST(second.accounts_added == 0u);
  BOOST_TEST(second.messages_copied == 1u);
  BOOST_TEST(second.messages_already_there == 3u);
  require_same_folder(*inbox, *copied->open("INBOX"));
}

BOOST_AUTO_TEST_CASE(refuses_a_folder_with_another_uidvalidity) {
  Embedded from;
  Database to;
  from.accounts.add(Account{kNumber, "Alice", "", 0}, "pw");
  const auto from_inbox = from.mail->user(kNumber)->open("INBOX");
  from_inbox->append(message(1));
  // UIDVALIDITY counts seconds in both backends: a folder made in the same
  // second could get the same one, and the copy would rightly accept it.
  while (std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) <= from_inbox->uid_validity())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  to.mail->user(kNumber)->open("INBOX")->append(message(2));  // made in the database by other means
  BOOST_CHECK_EXCEPTION(copy_store({*from.mail, from.accounts}, {*to.mail, *to.accounts}), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("remove it from the database first") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
