#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <ostream>

#include "mailstore/mail_store.hpp"
#include "temp_dir.hpp"

using namespace umstore::mailstore;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNumber = "+15550100";

std::vector<std::string> names_of(const std::vector<FolderEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  return names;
}

const FolderEntry& entry(const std::vector<FolderEntry>& entries, const std::string& name) {
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const FolderEntry& e) { return e.name == name; });
  BOOST_REQUIRE(it != entries.end());
  return *it;
}

}  // namespace

namespace umstore::mailstore {
std::ostream& operator<<(std::ostream& out, SpecialUse use) { return out << static_cast<int>(use); }
}  // namespace umstore::mailstore

BOOST_AUTO_TEST_SUITE(mailbox)

BOOST_AUTO_TEST_CASE(new_user_has_inbox_sent_and_trash) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  const auto list = user->list();
  BOOST_TEST(names_of(list) == (std::vector<std::string>{"INBOX", "Sent", "Trash"}));
  BOOST_TEST(entry(list, "Sent").special_use == SpecialUse::Sent);
  BOOST_TEST(entry(list, "Trash").special_use == SpecialUse::Trash);
  BOOST_TEST(entry(list, "INBOX").subscribed);
  BOOST_TEST(fs::is_directory(dir.path() / kNumber / "INBOX" / "cur"));
  BOOST_CHECK_THROW(store->user("15550100"), InvalidMailboxNumber);
}

BOOST_AUTO_TEST_CASE(create_nested_unicode_and_list_children) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  user->create("Archive/2025");
  user->create("Entwürfe", SpecialUse::Drafts);
  BOOST_CHECK_THROW(user->create("Archive"), FolderExists);  // made as the parent
  BOOST_CHECK_THROW(user->create("archive/2025/../x"), InvalidFolderName);
  const auto list = user->list();
  BOOST_TEST(entry(list, "Archive").has_children);
  BOOST_TEST(!entry(list, "Archive/2025").has_children);
  BOOST_TEST(!entry(list, "INBOX").has_children);
  BOOST_TEST(entry(list, "Entwürfe").special_use == SpecialUse::Drafts);
  BOOST_CHECK_THROW(user->open("Nope"), FolderNotFound);
  user->open("Entwürfe")->append("Subject: draft\r\n\r\n");
  // A second store on the same root reads it all back.
  const auto again = open_maildir_store(dir.path())->user(kNumber);
  BOOST_TEST(again->open("Entwürfe")->snapshot().size() == 1u);
  BOOST_TEST(entry(again->list(), "Entwürfe").special_use == SpecialUse::Drafts);
}

BOOST_AUTO_TEST_CASE(subscriptions_persist) {
  TempDir dir;
  {
    const auto store = open_maildir_store(dir.path());
    const auto user = store->user(kNumber);
    user->create("Work");
    user->set_subscribed("Work", true);
    user->set_subscribed("Trash", false);
  }
  const auto list = open_maildir_store(dir.path())->user(kNumber)->list();
  BOOST_TEST(entry(list, "Work").subscribed);
  BOOST_TEST(!entry(list, "Trash").subscribed);
}

BOOST_AUTO_TEST_CASE(rename_moves_children_and_refuses_collisions) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  user->create("Work/Old");
  const auto old_folder = user->open("Work/Old");
  old_folder->append("Subject: keep\r\n\r\n");
  BOOST_CHECK_THROW(user->rename("Work", "Sent"), FolderExists);
  BOOST_CHECK_THROW(user->rename("Missing", "X"), FolderNotFound);
  BOOST_CHECK_THROW(user->rename("Work", "Work/Inner"), InvalidFolderName);
  user->rename("Work", "Projects");
  const auto names = names_of(user->list());
  BOOST_TEST(names == (std::vector<std::string>{"INBOX", "Projects", "Projects/Old", "Sent", "Trash"}));
  const auto moved = user->open("Projects/Old");
  BOOST_REQUIRE(moved->snapshot().size() == 1u);
  BOOST_TEST(moved->open_message(1)->bytes() == "Subject: keep\r\n\r\n");
  // The old object is retired: empty, and refuses changes.
  BOOST_TEST(old_folder->snapshot().empty());
  BOOST_CHECK_THROW(old_folder->append("x"), FolderNotFound);
}

BOOST_AUTO_TEST_CASE(renaming_inbox_moves_its_messages) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  const auto inbox = user->open("INBOX");
  inbox->append("Subject: 1\r\n\r\n", kSeen);
  inbox->append("Subject: 2\r\n\r\n");
  user->rename("inbox", "Old Mail");
  BOOST_TEST(inbox->snapshot().empty());
  BOOST_TEST(user->open("INBOX") == inbox);  // still the same, usable INBOX
  const auto old_mail = user->open("Old Mail")->snapshot();
  BOOST_REQUIRE(old_mail.size() == 2u);
  BOOST_TEST(old_mail[0].flags == kSeen);
  BOOST_TEST(user->open("Old Mail")->open_message(old_mail[1].uid)->bytes() == "Subject: 2\r\n\r\n");
  BOOST_TEST(inbox->append("Subject: 3\r\n\r\n") == 3u);  // UIDs are not reused
  BOOST_TEST(user->quota().messages == 3u);
  user->rename("INBOX", "INBOX/Older");
  BOOST_TEST(user->open("INBOX/Older")->snapshot().size() == 1u);
  BOOST_TEST(inbox->snapshot().empty());
}

BOOST_AUTO_TEST_CASE(remove_folder_but_never_inbox) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  user->create("Scratch");
  user->open("Scratch")->append("Subject: x\r\n\r\n");
  BOOST_TEST(user->quota().messages == 1u);
  user->remove("Scratch");
  BOOST_TEST(names_of(user->list()) == (std::vector<std::string>{"INBOX", "Sent", "Trash"}));
  BOOST_TEST(user->quota().messages == 0u);
  BOOST_CHECK_THROW(user->remove("Scratch"), FolderNotFound);
  BOOST_CHECK_EXCEPTION(user->remove("inbox"), InvalidFolderName, [](const InvalidFolderName& e) {
    return std::string(e.what()).find("INBOX cannot be deleted") != std::string::npos;
  });
  // A folder re-created under the same name gets a new UIDVALIDITY.
  user->create("Scratch");
  const auto first_validity = user->open("Scratch")->uid_validity();
  user->remove("Scratch");
  user->create("Scratch");
  BOOST_TEST(user->open("Scratch")->uid_validity() != first_validity);
}

BOOST_AUTO_TEST_CASE(deliver_creates_missing_folder) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  BOOST_TEST(store->deliver(kNumber, "Subject: a\r\n\r\n") == 1u);
  BOOST_TEST(store->deliver(kNumber, "Subject: b\r\n\r\n") == 2u);
  BOOST_TEST(store->deliver(kNumber, "Subject: fax\r\n\r\n", "Faxes") == 1u);
  BOOST_TEST(store->user(kNumber)->open("Faxes")->snapshot().size() == 1u);
  BOOST_TEST(store->user(kNumber)->open("INBOX")->snapshot().size() == 2u);
}

BOOST_AUTO_TEST_CASE(quota_usage_and_limit) {
  TempDir dir;
  const std::string body(1000, 'x');
  {
    const auto store = open_maildir_store(dir.path());
    const auto user = store->user(kNumber);
    user->set_quota_limit(2500);
    user->open("INBOX")->append(body);
    user->open("Sent")->append(body);
    const auto usage = user->quota();
    BOOST_TEST(usage.bytes == 2000u);
    BOOST_TEST(usage.messages == 2u);
    BOOST_TEST(usage.limit_bytes == 2500u);
    BOOST_CHECK_THROW(user->open("INBOX")->append(body), QuotaExceeded);
    const std::vector<std::uint32_t> uids{1};
    BOOST_CHECK_THROW(user->open("INBOX")->copy_to(*user->open("Trash"), uids), QuotaExceeded);
    BOOST_CHECK_THROW(store->deliver(kNumber, body), QuotaExceeded);
    BOOST_TEST(user->quota().messages == 2u);  // nothing half-stored
  }
  // The limit and the usage survive a restart.
  const auto user = open_maildir_store(dir.path())->user(kNumber);
  BOOST_TEST(user->quota().bytes == 2000u);
  BOOST_TEST(user->quota().limit_bytes == 2500u);
  user->set_quota_limit(0);
  BOOST_TEST(user->open("INBOX")->append(body) == 2u);
}

BOOST_AUTO_TEST_CASE(a_limit_set_by_another_process_takes_effect_without_a_restart) {
  TempDir dir;
  const auto server = open_maildir_store(dir.path())->user(kNumber);  // the running server's view
  BOOST_TEST(server->quota().limit_bytes == 0u);
  open_maildir_store(dir.path())->user(kNumber)->set_quota_limit(100);  // `umstore mailbox` meanwhile
  BOOST_TEST(server->quota().limit_bytes == 100u);
  BOOST_CHECK_THROW(server->open("INBOX")->append(std::string(200, 'x')), QuotaExceeded);
  open_maildir_store(dir.path())->user(kNumber)->set_quota_limit(0);
  BOOST_TEST(server->quota().limit_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_appends_never_pass_the_quota) {
  TempDir dir;
  const auto store = open_maildir_store(dir.path());
  const auto user = store->user(kNumber);
  const std::string body(100, 'x');
  user->set_quota_limit(1000);  // room for 10 of the 20 attempts
  std::atomic<int> stored{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (const char* folder : {"INBOX", "Sent", "Trash", "INBOX"})
    threads.emplace_back([&, folder] {
      for (int i = 0; i < 5; ++i) {
        try {
          user->open(folder)->append(body);
          ++stored;
        } catch (const QuotaExceeded&) {
          ++refused;
        }
      }
    });
  for (auto& t : threads) t.join();
  const auto usage = user->quota();
  BOOST_TEST(stored.load() + refused.load() == 20);
  BOOST_TEST(stored.load() >= 1);
  BOOST_TEST(usage.messages == static_cast<std::uint64_t>(stored.load()));
  BOOST_TEST(usage.bytes <= 1000u);
}

BOOST_AUTO_TEST_CASE(folders_made_or_removed_by_another_process_are_noticed) {
  TempDir dir;
  const auto server = open_maildir_store(dir.path());
  const auto cli = open_maildir_store(dir.path());
  const auto server_user = server->user(kNumber);
  const auto cli_user = cli->user(kNumber);
  cli_user->create("Faxes");
  cli->deliver(kNumber, "Subject: fax\r\n\r\n", "Faxes");
  BOOST_TEST(names_of(server_user->list()) == (std::vector<std::string>{"INBOX", "Faxes", "Sent", "Trash"}));
  const auto faxes = server_user->open("Faxes");
  BOOST_TEST(faxes->snapshot().size() == 1u);
  BOOST_TEST(server_user->quota().messages == 1u);
  cli_user->remove("Faxes");
  BOOST_TEST(faxes->snapshot().empty());  // noticed by the folder itself
  BOOST_CHECK_THROW(faxes->append("x"), FolderNotFound);
  BOOST_TEST(server_user->quota().messages == 0u);
  cli_user->create("Faxes");  // and back again
  cli->deliver(kNumber, "Subject: fax 2\r\n\r\n", "Faxes");
  BOOST_TEST(server_user->list().size() == 4u);
  BOOST_TEST(server_user->open("Faxes")->snapshot().size() == 1u);
  cli_user->remove("Faxes");
  BOOST_CHECK_THROW(server_user->open("Faxes"), FolderNotFound);
  BOOST_CHECK_THROW(server->deliver("5550100", "x"), InvalidMailboxNumber);
}

BOOST_AUTO_TEST_SUITE_END()
