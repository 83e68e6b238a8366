#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "mailstore/mail_store.hpp"
#include "temp_dir.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNumber = "+15550100";

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Store {
  TempDir dir;
  std::unique_ptr<MailStore> store = open_maildir_store(dir.path());
  FolderPtr inbox() { return store->user(kNumber)->open("INBOX"); }
  fs::path folder_dir(const std::string& dir_name) const { return dir.path() / kNumber / dir_name; }
  void reopen() { store = open_maildir_store(dir.path()); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(folder)

BOOST_AUTO_TEST_CASE(append_snapshot_and_open_message) {
  Store s;
  const auto inbox = s.inbox();
  const std::uint32_t first = inbox->append(message(1), kSeen, {}, 1'700'000'000);
  const std::uint32_t second = inbox->append(message(2));
  BOOST_TEST(first == 1u);
  BOOST_TEST(second == 2u);

  const auto snapshot = inbox->snapshot();
  BOOST_REQUIRE(snapshot.size() == 2u);
  BOOST_TEST(snapshot[0].flags == kSeen);
  BOOST_TEST(snapshot[0].internal_date == 1'700'000'000);
  BOOST_TEST(snapshot[0].size == message(1).size());
  BOOST_TEST(snapshot[1].flags == 0);

  const auto data = inbox->open_message(first);
  BOOST_REQUIRE(data);
  BOOST_TEST(data->bytes() == message(1));
  BOOST_TEST(inbox->open_message(99) == nullptr);

  const auto status = inbox->status();
  BOOST_TEST(status.messages == 2u);
  BOOST_TEST(status.unseen == 1u);
  BOOST_TEST(status.uid_next == 3u);
  BOOST_TEST(status.size == message(1).size() + message(2).size());
  BOOST_TEST(status.uid_validity == inbox->uid_validity());
  BOOST_TEST(status.uid_validity != 0u);
}

BOOST_AUTO_TEST_CASE(empty_message_and_data_outliving_expunge) {
  Store s;
  const auto inbox = s.inbox();
  const auto empty = inbox->append("");
  const auto kept = inbox->append(message(7), kDeleted);
  BOOST_TEST(inbox->open_message(empty)->bytes().empty());
  const auto data = inbox->open_message(kept);
  BOOST_TEST(inbox->expunge() == std::vector<std::uint32_t>{kept});
  BOOST_TEST(inbox->open_message(kept) == nullptr);
  BOOST_TEST(data->bytes() == message(7));
}

BOOST_AUTO_TEST_CASE(large_messages_are_mapped_and_outlive_an_expunge_too) {
  Store s;
  const auto inbox = s.inbox();
  std::string big = message(8);
  big.append(5u << 20, 'x');  // above the size up to which messages are read, not mapped
  const auto uid = inbox->append(big, kDeleted);
  const auto data = inbox->open_message(uid);
  BOOST_REQUIRE(data);
  BOOST_TEST(inbox->expunge() == std::vector<std::uint32_t>{uid});
  BOOST_TEST(data->bytes().size() == big.size());
  BOOST_TEST((data->bytes() == big));
}

BOOST_AUTO_TEST_CASE(metadata_files_are_kept_checked_and_removed_with_their_message) {
  Store s;
  const std::uint32_t uid = s.inbox()->append(message(1));
  const fs::path kept = s.folder_dir("INBOX") / "umstore-metadata";
  BOOST_REQUIRE_EQUAL(files_in(kept).size(), 1u);
  const fs::path file = kept / files_in(kept)[0];
  BOOST_TEST(decode_metadata(read_file(file)).has_value());
  BOOST_TEST(files_in(s.folder_dir("INBOX") / "tmp").empty());

  { std::ofstream(file, std::ios::binary | std::ios::trunc) << "torn by a crash"; }
  s.reopen();
  const auto read = s.inbox()->metadata(std::vector<std::uint32_t>{uid});
  BOOST_REQUIRE_EQUAL(read.size(), 1u);
  BOOST_TEST(read[0].second.header == "From: caller@example.com\r\nSubject: voicemail 1\r\n\r\n");
  BOOST_TEST(decode_metadata(read_file(file)).has_value());  // computed again and written anew

  fs::remove(file);  // as a backup without it leaves the folder
  BOOST_TEST(s.inbox()->metadata(std::vector<std::uint32_t>{uid}).size() == 1u);
  BOOST_TEST(fs::exists(file));

  s.inbox()->change_flags(std::vector<std::uint32_t>{uid}, FlagChange::Add, kDeleted);
  s.inbox()->expunge();
  BOOST_TEST(files_in(kept).empty());  // nothing of the message's header stays behind
}

BOOST_AUTO_TEST_CASE(same_folder_object_is_shared) {
  Store s;
  const auto user = s.store->user(kNumber);
  BOOST_TEST(user == s.store->user(kNumber));
  BOOST_TEST(user->open("INBOX") == user->open("inbox"));
}

BOOST_AUTO_TEST_CASE(uids_and_uidvalidity_survive_reopen) {
  Store s;
  std::uint32_t validity = s.inbox()->uid_validity();
  s.inbox()->append(message(1));
  const auto doomed = s.inbox()->append(message(2), kDeleted);
  s.inbox()->expunge();
  s.reopen();
  const auto inbox = s.inbox();
  BOOST_TEST(inbox->uid_validity() == validity);
  BOOST_TEST(uids_of(inbox->snapshot()) == std::vector<std::uint32_t>{1});
  // The expunged highest UID is never handed out again.
  const auto next = inbox->append(message(3));
  BOOST_TEST(next > doomed);
  s.reopen();
  BOOST_TEST(uids_of(s.inbox()->snapshot()) == (std::vector<std::uint32_t>{1, next}));
  BOOST_TEST(s.inbox()->open_message(next)->bytes() == message(3));
}

BOOST_AUTO_TEST_CASE(flags_live_in_maildir_file_names_and_persist) {
  Store s;
  const auto inbox = s.inbox();
  const auto uid = inbox->append(message(1));
  const std::vector<std::uint32_t> uids{uid};
  auto changed = inbox->change_flags(uids, FlagChange::Add, kSeen | kFlagged);
  BOOST_REQUIRE(changed.size() == 1u);
  BOOST_TEST(changed[0].flags == (kSeen | kFlagged));
  BOOST_TEST(inbox->change_flags(uids, FlagChange::Add, kSeen).empty());  // nothing changed

  auto names = files_in(s.folder_dir("INBOX") / "cur");
  BOOST_REQUIRE(names.size() == 1u);
  BOOST_TEST(names[0].ends_with(":2,FS"));

  inbox->change_flags(uids, FlagChange::Replace, kAnswered | kDeleted | kDraft);
  names = files_in(s.folder_dir("INBOX") / "cur");
  BOOST_TEST(names[0].ends_with(":2,DRT"));
  inbox->change_flags(uids, FlagChange::Remove, kDraft);

  s.reopen();
  BOOST_TEST(s.inbox()->snapshot()[0].flags == (kAnswered | kDeleted));
}

BOOST_AUTO_TEST_CASE(keywords_persist) {
  Store s;
  const auto inbox = s.inbox();
  const std::vector<std::string> initial{"$Forwarded"};
  const auto uid = inbox->append(message(1), 0, initial);
  const std::vector<std::uint32_t> uids{uid};
  const std::vector<std::string> more{"$MDNSent", "$forwarded"};
  inbox->change_flags(uids, FlagChange::Add, 0, more);
  BOOST_TEST(inbox->snapshot()[0].keywords == (std::vector<std::string>{"$Forwarded", "$MDNSent"}));
  const std::vector<std::string> remove{"$FORWARDED"};
  inbox->change_flags(uids, FlagChange::Remove, 0, remove);
  s.reopen();
  BOOST_TEST(s.inbox()->snapshot()[0].keywords == std::vector<std::string>{"$MDNSent"});
  const std::vector<std::string> bad{"bad keyword"};
  BOOST_CHECK_THROW(s.inbox()->change_flags(uids, FlagChange::Add, 0, bad), InvalidKeyword);
}

BOOST_AUTO_TEST_CASE(expunge_and_uid_expunge) {
  Store s;
  const auto inbox = s.inbox();
  for (int i = 1; i <= 5; ++i) inbox->append(message(i), i % 2 == 1 ? kDeleted : 0);  // 1, 3, 5 deleted
  const std::vector<std::uint32_t> only{3, 4};
  BOOST_TEST(inbox->expunge(std::span<const std::uint32_t>(only)) == std::vector<std::uint32_t>{3});
  BOOST_TEST(uids_of(inbox->snapshot()) == (std::vector<std::uint32_t>{1, 2, 4, 5}));
  BOOST_TEST(inbox->expunge() == (std::vector<std::uint32_t>{1, 5}));
  BOOST_TEST(uids_of(inbox->snapshot()) == (std::vector<std::uint32_t>{2, 4}));
  BOOST_TEST(files_in(s.folder_dir("INBOX") / "cur").size() == 2u);
  s.reopen();
  BOOST_TEST(uids_of(s.inbox()->snapshot()) == (std::vector<std::uint32_t>{2, 4}));
}

BOOST_AUTO_TEST_CASE(copy_to_keeps_flags_and_gives_new_uids) {
  Store s;
  const auto user = s.store->user(kNumber);
  const auto inbox = user->open("INBOX");
  const auto trash = user->open("Trash");
  trash->append(message(100));
  const std::vector<std::string> keywords{"$Forwarded"};
  const auto a = inbox->append(message(1), kSeen, keywords);
  const auto b = inbox->append(message(2), kFlagged);
  const std::vector<std::uint32_t> uids{a, b, 42};
  const auto pairs = inbox->copy_to(*trash, uids);
  BOOST_REQUIRE(pairs.size() == 2u);
  BOOST_TEST(pairs[0].first == a);
  BOOST_TEST(pairs[0].second == 2u);
  BOOST_TEST(pairs[1].first == b);
  BOOST_TEST(pairs[1].second == 3u);
  const auto copied = trash->snapshot();
  BOOST_REQUIRE(copied.size() == 3u);
  BOOST_TEST(copied[1].flags == kSeen);
  BOOST_TEST(copied[1].keywords == keywords);
  BOOST_TEST(copied[2].flags == kFlagged);
  BOOST_TEST(trash->open_message(3)->bytes() == message(2));
  // Changing the copy's flags leaves the original alone (hard links share bytes, not names).
  const std::vector<std::uint32_t> copy_uid{2};
  trash->change_flags(copy_uid, FlagChange::Replace, kDeleted);
  trash->expunge();
  BOOST_TEST(inbox->snapshot()[0].flags == kSeen);
  BOOST_TEST(inbox->open_message(a)->bytes() == message(1));
  // Copy within the same folder works too.
  const std::vector<std::uint32_t> self{b};
  BOOST_TEST(inbox->copy_to(*inbox, self).size() == 1u);
  BOOST_TEST(inbox->snapshot().size() == 3u);
}

BOOST_AUTO_TEST_CASE(listeners_fire_until_handle_is_dropped) {
  Store s;
  const auto inbox = s.inbox();
  std::atomic<int> calls{0};
  auto handle = inbox->listen([&] { ++calls; });
  const auto before = inbox->change_counter();
  const auto uid = inbox->append(message(1));
  BOOST_TEST(calls.load() == 1);
  const std::vector<std::uint32_t> uids{uid};
  inbox->change_flags(uids, FlagChange::Add, kDeleted);
  inbox->expunge();
  BOOST_TEST(calls.load() == 3);
  BOOST_TEST(inbox->change_counter() > before);
  handle.reset();
  inbox->append(message(2));
  BOOST_TEST(calls.load() == 3);
}

BOOST_AUTO_TEST_CASE(listener_handle_may_outlive_the_folder) {
  Folder::ListenerHandle handle;
  {
    Store s;
    handle = s.inbox()->listen([] {});
  }
  handle.reset();  // must not touch the destroyed folder
  BOOST_TEST(!handle);
}

BOOST_AUTO_TEST_CASE(concurrent_appends_get_distinct_uids) {
  Store s;
  const auto inbox = s.inbox();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::vector<std::uint32_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) got[t].push_back(inbox->append(message(t * 1000 + i)));
    });
  for (auto& th : threads) th.join();
  std::set<std::uint32_t> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  BOOST_TEST(all.size() == static_cast<std::size_t>(kThreads * kPerThread));
  BOOST_TEST(inbox->snapshot().size() == static_cast<std::size_t>(kThreads * kPerThread));
  // Every UID opens the message its append stored.
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i)
      BOOST_TEST(inbox->open_message(got[t][i])->bytes() == message(t * 1000 + i));
  s.reopen();
  BOOST_TEST(s.inbox()->snapshot().size() == static_cast<std::size_t>(kThreads * kPerThread));
}

BOOST_AUTO_TEST_CASE(two_stores_on_one_root_behave_like_two_processes) {
  Store s;
  const auto first = s.inbox();
  auto second_store = open_maildir_store(s.dir.path());
  const auto second = second_store->user(kNumber)->open("INBOX");
  BOOST_TEST(first != second);
  std::vector<std::uint32_t> uids;
  std::thread a([&] {
    for (int i = 0; i < 20; ++i) uids.push_back(first->append(message(i)));
  });
  std::vector<std::uint32_t> other;
  std::thread b([&] {
    for (int i = 0; i < 20; ++i) other.push_back(second->append(message(100 + i)));
  });
  a.join();
  b.join();
  std::set<std::uint32_t> all(uids.begin(), uids.end());
  all.insert(other.begin(), other.end());
  BOOST_TEST(all.size() == 40u);
  BOOST_TEST(first->snapshot().size() == 40u);
  BOOST_TEST(second->snapshot().size() == 40u);
  // Flags set by one are seen by the other.
  const std::vector<std::uint32_t> one{uids[0]};
  second->change_flags(one, FlagChange::Add, kSeen);
  const auto seen = first->snapshot();
  const auto it = std::find_if(seen.begin(), seen.end(), [&](const MessageInfo& m) { return m.uid == uids[0]; });
  BOOST_REQUIRE(it != seen.end());
  BOOST_TEST(it->flags == kSeen);
  BOOST_TEST(first->status().unseen == 39u);
}

// status() keeps its unseen and deleted counts as flags change rather than
// counting every message each time: the counts must follow every way a
// flag changes.
BOOST_AUTO_TEST_CASE(status_counts_follow_every_flag_change) {
  Store s;
  const auto inbox = s.inbox();
  const auto agrees = [](const Folder& f) {
    const auto all = f.snapshot();
    const auto unseen = std::count_if(all.begin(), all.end(), [](const MessageInfo& m) { return !(m.flags & kSeen); });
    const auto deleted = std::count_if(all.begin(), all.end(), [](const MessageInfo& m) { return m.flags & kDeleted; });
    const FolderStatus st = f.status();
    BOOST_TEST(st.messages == all.size());
    BOOST_TEST(st.unseen == static_cast<std::uint32_t>(unseen));
    BOOST_TEST(st.deleted == static_cast<std::uint32_t>(deleted));
    return std::pair(st.unseen, st.deleted);
  };
  for (int i = 0; i < 6; ++i) inbox->append(message(i), i == 0 ? Flags{kSeen} : Flags{0});
  BOOST_TEST((agrees(*inbox) == std::pair(5u, 0u)));
  const std::vector<std::uint32_t> two{2, 3};
  inbox->change_flags(two, FlagChange::Add, kSeen | kDeleted);
  BOOST_TEST((agrees(*inbox) == std::pair(3u, 2u)));
  // Another process: its own counts from the UID list, and ours from its records.
  auto other_store = open_maildir_store(s.dir.path());
  const auto other = other_store->user(kNumber)->open("INBOX");
  BOOST_TEST((agrees(*other) == std::pair(3u, 2u)));
  const std::vector<std::uint32_t> first{1};
  other->change_flags(first, FlagChange::Replace, kDeleted);
  BOOST_TEST((agrees(*inbox) == std::pair(4u, 3u)));
  // Another Maildir tool renames a file: message 4 read.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const fs::path cur = s.folder_dir("INBOX") / "cur";
  const auto names = files_in(cur);
  const auto fourth = std::find_if(names.begin(), names.end(), [&](const auto& n) { return read_file(cur / n) == message(3); });
  BOOST_REQUIRE(fourth != names.end());
  fs::rename(cur / *fourth, cur / (fourth->substr(0, fourth->find(':')) + ":2,S"));
  BOOST_TEST((agrees(*inbox) == std::pair(3u, 3u)));
  BOOST_TEST((agrees(*other) == std::pair(3u, 3u)));
  inbox->expunge();
  BOOST_TEST((agrees(*inbox) == std::pair(2u, 0u)));
  BOOST_TEST((agrees(*other) == std::pair(2u, 0u)));
  s.reopen();
  BOOST_TEST((agrees(*s.inbox()) == std::pair(2u, 0u)));
}

BOOST_AUTO_TEST_CASE(mail_dropped_into_new_by_hand_appears) {
  Store s;
  const auto inbox = s.inbox();
  inbox->append(message(1));
  std::atomic<int> calls{0};
  auto handle = inbox->listen([&] { ++calls; });
  {
    std::ofstream out(s.folder_dir("INBOX") / "new" / "1700000000.hand.example", std::ios::binary);
    out << message(2);
  }
  const auto snapshot = inbox->snapshot();
  BOOST_REQUIRE(snapshot.size() == 2u);
  BOOST_TEST(snapshot[1].uid == 2u);
  BOOST_TEST(snapshot[1].size == message(2).size());
  BOOST_TEST(inbox->open_message(2)->bytes() == message(2));
  // Listeners are told from the folder's watch, not from snapshot(): wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (calls.load() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(calls.load() >= 1);
  BOOST_TEST(files_in(s.folder_dir("INBOX") / "new").empty());
  s.reopen();
  BOOST_TEST(s.inbox()->snapshot().size() == 2u);
}

BOOST_AUTO_TEST_CASE(message_file_without_uid_record_gets_a_fresh_uid) {
  Store s;
  s.inbox()->append(message(1));
  s.reopen();
  // As if the process died after moving the file into cur/ but before logging its UID.
  {
    std::ofstream out(s.folder_dir("INBOX") / "cur" / "1700000001.M1P1Q1.crashed,S=10:2,S", std::ios::binary);
    out << message(3);
  }
  const auto snapshot = s.inbox()->snapshot();
  BOOST_REQUIRE(snapshot.size() == 2u);
  BOOST_TEST(snapshot[1].uid == 2u);
  BOOST_TEST(snapshot[1].flags == kSeen);
}

BOOST_AUTO_TEST_CASE(torn_uid_list_line_is_repaired) {
  Store s;
  s.inbox()->append(message(1));
  s.store.reset();
  {
    std::ofstream out(s.folder_dir("INBOX") / "umstore-uidlist", std::ios::app | std::ios::binary);
    out << "+2 10 17000";  // a crash in the middle of a record
  }
  s.reopen();
  const auto uid = s.inbox()->append(message(2));
  BOOST_TEST(uid == 2u);
  s.reopen();
  BOOST_TEST(uids_of(s.inbox()->snapshot()) == (std::vector<std::uint32_t>{1, 2}));
  BOOST_TEST(s.inbox()->open_message(2)->bytes() == message(2));
}

BOOST_AUTO_TEST_CASE(changes_by_other_maildir_tools_are_seen) {
  Store s;
  const auto inbox = s.inbox();
  inbox->append(message(1));
  inbox->append(message(2));
  const std::uint64_t before = inbox->status().highest_modseq;
  const fs::path cur = s.folder_dir("INBOX") / "cur";
  auto names = files_in(cur);
  BOOST_REQUIRE(names.size() == 2u);
  // Directory mtimes have clock-tick resolution; let one pass, as it would
  // between a delivery and a person acting in their mail client.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A mail client marks the first one read and deletes the second one.
  fs::rename(cur / names[0], cur / (names[0].substr(0, names[0].find(':')) + ":2,S"));
  fs::remove(cur / names[1]);
  const auto snapshot = inbox->snapshot();
  BOOST_REQUIRE(snapshot.size() == 1u);
  BOOST_TEST(snapshot[0].uid == 1u);
  BOOST_TEST(snapshot[0].flags == kSeen);
  // A session resyncing from before hears of both.
  const auto changes = inbox->changes_since(before);
  BOOST_TEST(uids_of(changes.changed) == std::vector<std::uint32_t>{1});
  BOOST_TEST(changes.expunged == std::vector<std::uint32_t>{2});
  BOOST_TEST(inbox->open_message(1)->bytes() == message(1));
  s.reopen();
  BOOST_TEST(uids_of(s.inbox()->snapshot()) == std::vector<std::uint32_t>{1});
  BOOST_TEST(s.inbox()->snapshot()[0].flags == kSeen);
  BOOST_TEST(s.inbox()->append(message(3)) == 3u);
}

BOOST_AUTO_TEST_CASE(copies_are_hard_links) {
  Store s;
  const auto user = s.store->user(kNumber);
  const auto uid = user->open("INBOX")->append(message(1));
  const std::vector<std::uint32_t> uids{uid};
  user->open("INBOX")->copy_to(*user->open("Trash"), uids);
  const auto names = files_in(s.folder_dir("Trash") / "cur");
  BOOST_REQUIRE(names.size() == 1u);
  BOOST_TEST(fs::hard_link_count(s.folder_dir("Trash") / "cur" / names[0]) == 2u);
}

BOOST_AUTO_TEST_CASE(uid_list_compaction_keeps_state_for_every_reader) {
  Store s;
  auto other_store = open_maildir_store(s.dir.path());
  const auto other = other_store->user(kNumber)->open("INBOX");
  const auto inbox = s.inbox();
  const std::vector<std::string> keywords{"$Junk"};
  const auto keep = inbox->append(message(1), kFlagged, keywords);
  // Enough log lines (add, flag, remove) to pass the compaction threshold.
  const std::vector<std::uint32_t> many(700, keep);
  const auto pairs = inbox->copy_to(*inbox, many);
  BOOST_REQUIRE(pairs.size() == 700u);
  std::vector<std::uint32_t> copies;
  for (const auto& [from, to] : pairs) copies.push_back(to);
  BOOST_TEST(other->snapshot().size() == 701u);
  inbox->change_flags(copies, FlagChange::Add, kDeleted);
  inbox->expunge();
  const auto log_size = fs::file_size(s.folder_dir("INBOX") / "umstore-uidlist");
  BOOST_TEST(log_size < 1000u);  // compacted to the header and one message

  const auto after = other->snapshot();  // reads the compacted file afresh
  BOOST_REQUIRE(after.size() == 1u);
  BOOST_TEST(after[0].uid == keep);
  BOOST_TEST(after[0].flags == kFlagged);
  BOOST_TEST(after[0].keywords == keywords);
  BOOST_TEST(other->status().uid_next == copies.back() + 1);
  BOOST_TEST(other->append(message(2)) == copies.back() + 1);
  s.reopen();
  BOOST_TEST(s.inbox()->snapshot().size() == 2u);
  BOOST_TEST(s.inbox()->status().uid_next == copies.back() + 2);
}

BOOST_AUTO_TEST_CASE(mod_sequences_and_recent_mark_survive_reopen_and_compaction) {
  Store s;
  const auto inbox = s.inbox();
  const auto first = inbox->append(message(1));
  const auto second = inbox->append(message(2));
  const auto appended = inbox->snapshot();
  BOOST_TEST(appended[1].modseq > appended[0].modseq);
  BOOST_TEST(inbox->status().highest_modseq == appended[1].modseq);
  BOOST_TEST(inbox->status().recent == 2u);

  // One new mod-sequence per change, above everything before; no-ops keep it.
  const std::vector<std::uint32_t> both{first, second};
  const auto changed = inbox->change_flags(both, FlagChange::Add, kFlagged);
  BOOST_REQUIRE(changed.size() == 2u);
  BOOST_TEST(changed[0].modseq == changed[1].modseq);
  BOOST_TEST(changed[0].modseq > appended[1].modseq);
  BOOST_TEST(inbox->change_flags(both, FlagChange::Add, kFlagged).empty());
  const std::vector<std::string> keyword{"$Forwarded"};
  const std::vector<std::uint32_t> just_first{first};
  const auto keyworded = inbox->change_flags(just_first, FlagChange::Add, 0, keyword);
  BOOST_REQUIRE(keyworded.size() == 1u);
  BOOST_TEST(keyworded[0].modseq > changed[0].modseq);

  // UNCHANGEDSINCE: the first message changed after changed[0].modseq.
  const auto [conditional, modified] =
      inbox->change_flags_unchanged_since(both, FlagChange::Add, kSeen, {}, changed[0].modseq);
  BOOST_TEST(modified == just_first);
  BOOST_REQUIRE(conditional.size() == 1u);
  BOOST_TEST(conditional[0].uid == second);

  BOOST_TEST(inbox->claim_recent(second + 1) == first);
  BOOST_TEST(inbox->claim_recent(second + 1) == second + 1);  // claimed once only
  const auto before = inbox->snapshot();
  const auto highest = inbox->status().highest_modseq;

  s.reopen();
  const auto reopened = s.inbox();
  const auto after = reopened->snapshot();
  BOOST_REQUIRE(after.size() == 2u);
  BOOST_TEST(after[0].modseq == before[0].modseq);
  BOOST_TEST(after[1].modseq == before[1].modseq);
  BOOST_TEST(reopened->status().highest_modseq == highest);
  BOOST_TEST(reopened->status().recent == 0u);
  BOOST_TEST(reopened->first_recent_uid() == second + 1);

  // Expunge raises the folder's highest mod-sequence.
  reopened->change_flags(just_first, FlagChange::Add, kDeleted);
  reopened->expunge();
  const auto after_expunge = reopened->status().highest_modseq;
  BOOST_TEST(after_expunge > highest);

  // Compaction keeps all of it in the header and the records.
  const auto many = std::vector<std::uint32_t>(600, second);
  const auto pairs = reopened->copy_to(*reopened, many);
  std::vector<std::uint32_t> copies;
  for (const auto& [from, to] : pairs) copies.push_back(to);
  reopened->change_flags(copies, FlagChange::Add, kDeleted);
  reopened->expunge();
  BOOST_TEST(fs::file_size(s.folder_dir("INBOX") / "umstore-uidlist") < 1000u);  // compacted
  const auto compacted_highest = reopened->status().highest_modseq;
  const auto kept_modseq = reopened->snapshot().at(0).modseq;
  s.reopen();
  BOOST_TEST(s.inbox()->status().highest_modseq == compacted_highest);
  BOOST_TEST(s.inbox()->snapshot().at(0).modseq == kept_modseq);
  BOOST_TEST(s.inbox()->first_recent_uid() == second + 1);  // the copies were never claimed, and are gone
  BOOST_TEST(s.inbox()->status().recent == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
