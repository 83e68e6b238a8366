// SortKeyCache: each message's SORT keys worked out once per (folder,
// UIDVALIDITY, UID) and kept, one byte bound, the least recently sorted
// folder out first.
#include <boost/test/unit_test.hpp>

#include "mailstore/mail_store.hpp"
#include "sort_key_cache.hpp"
#include "../mailstore/temp_dir.hpp"

using namespace umstore;

namespace {

std::string message(std::string_view subject, std::string_view from, std::string_view date) {
  return "From: " + std::string(from) + "\r\nTo: Someone <Someone@Example.org>\r\nSubject: " + std::string(subject) +
         "\r\nDate: " + std::string(date) + "\r\n\r\nbody\r\n";
}

std::vector<const mailstore::MessageInfo*> pointers(const std::vector<mailstore::MessageInfo>& infos) {
  std::vector<const mailstore::MessageInfo*> out;
  for (const auto& i : infos) out.push_back(&i);
  return out;
}

void expunge_all(mailstore::Folder& folder) {
  std::vector<std::uint32_t> uids;
  for (const auto& m : folder.snapshot()) uids.push_back(m.uid);
  folder.change_flags(uids, mailstore::FlagChange::Add, mailstore::kDeleted);
  folder.expunge();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sort_key_cache)

BOOST_AUTO_TEST_CASE(keys_follow_rfc5256_and_are_worked_out_once) {
  TempDir dir;
  auto store = mailstore::open_maildir_store(dir.path());
  auto inbox = store->user("+15550100")->open("INBOX");
  inbox->append(message("Re: [list] Fwd: Voicemail (fwd)", "Caller <Caller@Example.COM>",
                        "Mon, 7 Dec 2026 10:00:00 +0100"));
  inbox->append(message("fax", "x@example.org", "not a date"), 0, {}, 1700000000);
  const auto infos = inbox->snapshot();
  imap::SortKeyCache cache(1 << 20);
  const auto first = cache.keys(nullptr, *inbox, inbox->uid_validity(), pointers(infos), infos.size());
  BOOST_REQUIRE_EQUAL(first.keys.size(), 2u);
  BOOST_TEST(first.keys[0]->subject == "voicemail");
  BOOST_TEST(first.keys[0]->from == "caller");
  BOOST_TEST(first.keys[0]->to == "someone");
  BOOST_TEST(first.keys[0]->cc == "");
  BOOST_TEST(first.keys[0]->sent == 1796634000);  // 09:00 UTC
  BOOST_TEST(first.keys[1]->sent == 1700000000);  // no usable Date: the internal date
  BOOST_TEST(cache.size_bytes() > 0u);

  // Worked out once: with the messages gone from the store, the cache
  // still answers, with the same entries.
  expunge_all(*inbox);
  const auto again = cache.keys(nullptr, *inbox, inbox->uid_validity(), pointers(infos), infos.size());
  BOOST_TEST(again.keys[0] == first.keys[0]);
  BOOST_TEST(again.keys[0]->subject == "voicemail");

  // Another UIDVALIDITY (the folder was recreated) starts afresh, and keys
  // of messages whose header is gone are not kept.
  const std::size_t before = cache.size_bytes();
  const auto recreated = cache.keys(nullptr, *inbox, inbox->uid_validity() + 1, pointers(infos), infos.size());
  BOOST_TEST(recreated.keys[0]->subject == "");
  BOOST_TEST(cache.size_bytes() == 0u);
  BOOST_TEST(before > 0u);
}

BOOST_AUTO_TEST_CASE(the_byte_bound_drops_the_least_recently_sorted_folder) {
  TempDir dir;
  auto store = mailstore::open_maildir_store(dir.path());
  auto user = store->user("+15550100");
  auto inbox = user->open("INBOX");
  auto sent = user->open("Sent");
  auto trash = user->open("Trash");
  for (auto* folder : {inbox.get(), sent.get(), trash.get()})
    for (int i = 0; i < 10; ++i)
      folder->append(message("a subject long enough to leave the small string " + std::to_string(i),
                             "someone.with.a.long.name@example.org", "Mon, 7 Dec 2026 10:00:00 +0000"));
  const auto inbox_infos = inbox->snapshot(), sent_infos = sent->snapshot(), trash_infos = trash->snapshot();
  const std::size_t one_folder = [&] {
    imap::SortKeyCache sizing(1 << 20);
    sizing.keys(nullptr, *inbox, inbox->uid_validity(), pointers(inbox_infos), 10);
    return sizing.size_bytes();
  }();
  imap::SortKeyCache cache(one_folder * 2 + one_folder / 2);  // room for two folders
  const auto kept = cache.keys(nullptr, *inbox, inbox->uid_validity(), pointers(inbox_infos), 10);
  cache.keys(nullptr, *sent, sent->uid_validity(), pointers(sent_infos), 10);
  BOOST_TEST(cache.size_bytes() == 2 * one_folder);
  cache.keys(nullptr, *inbox, inbox->uid_validity(), pointers(inbox_infos), 10);  // now the most recent
  cache.keys(nullptr, *trash, trash->uid_validity(), pointers(trash_infos), 10);
  BOOST_TEST(cache.size_bytes() == 2 * one_folder);  // Sent went
  // INBOX stayed: its keys are the same entries as before.
  const auto inbox_again = cache.keys(nullptr, *inbox, inbox->uid_validity(), pointers(inbox_infos), 10);
  BOOST_TEST(inbox_again.keys[3] == kept.keys[3]);
  // The dropped folder's keys are worked out again (from the store) when sorted again.
  const auto sent_again = cache.keys(nullptr, *sent, sent->uid_validity(), pointers(sent_infos), 10);
  BOOST_TEST(sent_again.keys[9]->subject == "a subject long enough to leave the small string 9");
  // Pointers handed out earlier stay valid whatever was dropped since.
  BOOST_TEST(kept.keys[0]->from == "someone.with.a.long.name");
}

BOOST_AUTO_TEST_SUITE_END()
