// The backend contract: what every MailStore/Folder implementation must do,
// written against the public interfaces only. Each test runs once per
// backend in `Backends`; a second backend adds one fixture struct there
// (fresh storage in its constructor, open() giving another independent
// instance on that storage, as a second process would have).
#include <sys/wait.h>
#include <unistd.h>

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "mailstore/mail_store.hpp"
#include "mailstore/message_aging.hpp"
#include "temp_dir.hpp"
#ifdef UMSTORE_CONTRACT_POSTGRESQL
#include "pg_test_support.hpp"
#endif
#include "test_messages.hpp"

using namespace umstore::mailstore;

namespace {

constexpr const char* kNumber = "+15550100";

#ifdef UMSTORE_CONTRACT_POSTGRESQL
// Built into test_mailstore_postgresql, which runs on a private cluster.
struct PostgresqlBackend {
  static inline int instances = 0;
  umstore::mailstore::pg::FreshSchema schema{"contract_" + std::to_string(++instances), true};
  std::unique_ptr<MailStore> open() const {
    return open_postgresql_store(umstore::mailstore::pg::dsn_in_schema(schema.name));
  }
};
using Backends = boost::mpl::list<PostgresqlBackend>;
#else
struct MaildirBackend {
  TempDir dir;
  std::unique_ptr<MailStore> open() const { return open_maildir_store(dir.path() / "mail"); }
};
using Backends = boost::mpl::list<MaildirBackend>;
#endif

void check_metadata_of(const MessageMetadata& kept, std::string_view rfc822) {
  const MessageMetadata expected = compute_metadata(rfc822);
  BOOST_TEST(kept.header == expected.header);
  BOOST_TEST(kept.envelope == expected.envelope);
  BOOST_TEST(kept.body == expected.body);
  BOOST_TEST(kept.body_structure == expected.body_structure);
}

const MessageInfo& info_of(const std::vector<MessageInfo>& infos, std::uint32_t uid) {
  const auto it = std::find_if(infos.begin(), infos.end(), [&](const MessageInfo& m) { return m.uid == uid; });
  BOOST_REQUIRE(it != infos.end());
  return *it;
}

// A backend under test with one mailbox opened.
template <typename Backend>
struct Opened {
  Backend backend;
  std::unique_ptr<MailStore> store = backend.open();
  UserMailboxPtr mailbox = store->user(kNumber);
  FolderPtr inbox = mailbox->open("INBOX");
};

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_contract)

BOOST_AUTO_TEST_CASE_TEMPLATE(uids_ascend_and_are_never_reused, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t validity = s.inbox->uid_validity();
  std::vector<std::uint32_t> uids;
  for (int i = 0; i < 3; ++i) uids.push_back(s.inbox->append(message(i)));
  BOOST_TEST(std::is_sorted(uids.begin(), uids.end()));
  BOOST_TEST((std::adjacent_find(uids.begin(), uids.end()) == uids.end()));
  const std::vector<std::uint32_t> last{uids.back()};
  s.inbox->change_flags(last, FlagChange::Add, kDeleted);
  BOOST_TEST(s.inbox->expunge() == last);
  const std::uint32_t after_expunge = s.inbox->append(message(3));
  BOOST_TEST(after_expunge > uids.back());

  // Another instance (another process) sees the same UIDs and goes on from there.
  const auto other = s.backend.open();
  const auto inbox = other->user(kNumber)->open("INBOX");
  BOOST_TEST(inbox->uid_validity() == validity);
  BOOST_TEST(uids_of(inbox->snapshot()) == (std::vector<std::uint32_t>{uids[0], uids[1], after_expunge}));
  BOOST_TEST(inbox->append(message(4)) > after_expunge);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(storage_usage_names_where_messages_are_kept, Backend, Backends) {
  Opened<Backend> s;
  s.inbox->append(message(0));
  const StorageUsage u = s.store->storage_usage();
  BOOST_TEST(!u.name.empty());
  BOOST_TEST(u.used_bytes > 0u);
  if (u.kind == "file system") {
    BOOST_REQUIRE(u.size_bytes.has_value());
    BOOST_REQUIRE(u.free_bytes.has_value());
    BOOST_TEST(*u.free_bytes <= *u.size_bytes);
    BOOST_TEST(u.used_bytes <= *u.size_bytes);
  } else {
    BOOST_TEST(u.kind == "database");
    BOOST_TEST(!u.free_bytes.has_value());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(flags_and_keywords, Backend, Backends) {
  Opened<Backend> s;
  const std::vector<std::string> keywords{"$Forwarded", "$forwarded", "Work"};
  const std::uint32_t uid = s.inbox->append(message(1), kSeen, keywords, 1'700'000'000);
  MessageInfo m = s.inbox->snapshot().at(0);
  BOOST_TEST(m.uid == uid);
  BOOST_TEST(m.flags == kSeen);
  BOOST_TEST(m.keywords == (std::vector<std::string>{"$Forwarded", "Work"}));  // case-insensitively once
  BOOST_TEST(m.internal_date == 1'700'000'000);
  BOOST_TEST(m.size == message(1).size());

  const std::vector<std::uint32_t> one{uid};
  const std::vector<std::string> junk{"$Junk"};
  BOOST_TEST(s.inbox->change_flags(one, FlagChange::Add, kFlagged, junk).size() == 1u);
  m = s.inbox->snapshot().at(0);
  BOOST_TEST(m.flags == (kSeen | kFlagged));
  BOOST_TEST(m.keywords.size() == 3u);
  const std::vector<std::string> work{"WORK"};
  s.inbox->change_flags(one, FlagChange::Remove, kSeen, work);
  m = s.inbox->snapshot().at(0);
  BOOST_TEST(m.flags == kFlagged);
  BOOST_TEST(m.keywords == (std::vector<std::string>{"$Forwarded", "$Junk"}));
  s.inbox->change_flags(one, FlagChange::Replace, kAnswered, {});
  m = s.inbox->snapshot().at(0);
  BOOST_TEST(m.flags == kAnswered);
  BOOST_TEST(m.keywords.empty());
  BOOST_TEST(s.inbox->change_flags(one, FlagChange::Add, kAnswered).empty());  // no change, none reported

  const std::vector<std::string> bad{"two words"};
  BOOST_CHECK_THROW(s.inbox->change_flags(one, FlagChange::Add, 0, bad), InvalidKeyword);
  BOOST_CHECK_THROW(s.inbox->append(message(2), 0, bad), InvalidKeyword);
  BOOST_TEST(s.inbox->status().messages == 1u);

  // Flags are kept for other instances.
  const auto other = s.backend.open();
  BOOST_TEST(other->user(kNumber)->open("INBOX")->snapshot().at(0).flags == kAnswered);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(mod_sequences_rise_with_every_change, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t first = s.inbox->append(message(1));
  const std::uint32_t second = s.inbox->append(message(2));
  const auto appended = s.inbox->snapshot();
  BOOST_TEST(info_of(appended, second).modseq > info_of(appended, first).modseq);
  const std::vector<std::uint32_t> both{first, second};
  const auto changed = s.inbox->change_flags(both, FlagChange::Add, kSeen);
  BOOST_REQUIRE(changed.size() == 2u);
  BOOST_TEST(changed[0].modseq == changed[1].modseq);  // one per change
  BOOST_TEST(changed[0].modseq > info_of(appended, second).modseq);
  BOOST_TEST(s.inbox->status().highest_modseq >= changed[0].modseq);

  const std::vector<std::uint32_t> just_first{first};
  const auto flagged = s.inbox->change_flags(just_first, FlagChange::Add, kFlagged);
  const auto [conditional, modified] =
      s.inbox->change_flags_unchanged_since(both, FlagChange::Add, kAnswered, {}, changed[0].modseq);
  BOOST_TEST(modified == just_first);
  BOOST_REQUIRE(conditional.size() == 1u);
  BOOST_TEST(conditional[0].uid == second);
  BOOST_TEST(conditional[0].modseq > flagged.at(0).modseq);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(changes_since_a_mod_sequence, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t kept = s.inbox->append(message(1));
  const std::uint32_t doomed = s.inbox->append(message(2));
  const std::uint32_t flagged = s.inbox->append(message(3));
  const std::uint64_t since = s.inbox->status().highest_modseq;
  BOOST_TEST(s.inbox->changes_since(since).changed.empty());
  // An instance that knew the folder before the changes, and catches up on them.
  const auto early = s.backend.open();
  const auto early_inbox = early->user(kNumber)->open("INBOX");
  BOOST_TEST(early_inbox->changes_since(since).changed.empty());

  const std::vector<std::uint32_t> to_delete{doomed};
  s.inbox->change_flags(to_delete, FlagChange::Add, kDeleted);
  s.inbox->expunge();
  const std::vector<std::uint32_t> to_flag{flagged};
  s.inbox->change_flags(to_flag, FlagChange::Add, kSeen);
  const std::uint32_t added = s.inbox->append(message(4));

  const FolderChanges changes = s.inbox->changes_since(since);
  BOOST_TEST(uids_of(changes.changed) == (std::vector<std::uint32_t>{flagged, added}));
  BOOST_TEST(changes.changed.at(0).flags == kSeen);
  BOOST_TEST(changes.expunged == to_delete);
  BOOST_TEST(changes.expunged_complete);
  BOOST_TEST(changes.highest_modseq == s.inbox->status().highest_modseq);
  BOOST_TEST(info_of(s.inbox->snapshot(), kept).modseq <= since);  // unchanged, so not reported

  const FolderChanges none = s.inbox->changes_since(changes.highest_modseq);
  BOOST_TEST(none.changed.empty());
  BOOST_TEST(none.expunged.empty());

  // The same answer from another instance, which learnt of it all from storage.
  const auto other = s.backend.open();
  const FolderChanges seen_there = other->user(kNumber)->open("INBOX")->changes_since(since);
  BOOST_TEST(uids_of(seen_there.changed) == uids_of(changes.changed));
  if (seen_there.expunged_complete) BOOST_TEST(seen_there.expunged == to_delete);
  const FolderChanges caught_up = early_inbox->changes_since(since);
  BOOST_TEST(uids_of(caught_up.changed) == uids_of(changes.changed));
  BOOST_TEST(info_of(caught_up.changed, flagged).flags == kSeen);
  BOOST_TEST(caught_up.expunged == to_delete);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(expunge_removes_only_deleted_messages, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t a = s.inbox->append(message(1), kDeleted);
  const std::uint32_t b = s.inbox->append(message(2), kDeleted);
  const std::uint32_t c = s.inbox->append(message(3));
  const std::vector<std::uint32_t> only_b{b};
  BOOST_TEST(s.inbox->expunge(std::span<const std::uint32_t>(only_b)) == only_b);
  BOOST_TEST(uids_of(s.inbox->snapshot()) == (std::vector<std::uint32_t>{a, c}));
  BOOST_TEST(s.inbox->expunge() == (std::vector<std::uint32_t>{a}));
  BOOST_TEST(s.inbox->open_message(a) == nullptr);
  BOOST_TEST(s.inbox->open_message(c)->bytes() == message(3));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(metadata_is_kept_from_the_append_and_goes_with_the_message, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t a = s.inbox->append(kVoiceMultipart);
  const std::uint32_t b = s.store->deliver(kNumber, message(2), "INBOX");
  const std::vector<std::uint32_t> asked{a, b, b + 100};
  const auto other = s.backend.open();  // kept by the backend, not this instance's memory
  for (const FolderPtr& folder : {s.inbox, other->user(kNumber)->open("INBOX")}) {
    const auto kept = folder->metadata(asked);
    BOOST_REQUIRE_EQUAL(kept.size(), 2u);
    BOOST_TEST(kept[0].first == a);
    BOOST_TEST(kept[1].first == b);
    check_metadata_of(kept[0].second, kVoiceMultipart);
    check_metadata_of(kept[1].second, message(2));
  }
  const auto voice = s.inbox->metadata(std::vector<std::uint32_t>{a}).at(0).second;
  BOOST_TEST(voice.envelope.find("\"Voice message\"") != std::string::npos);
  BOOST_TEST(voice.body_structure.find("\"32KADPCM\"") != std::string::npos);

  s.mailbox->create("Archive");
  const auto archive = s.mailbox->open("Archive");
  const auto pairs = s.inbox->copy_to(*archive, std::vector<std::uint32_t>{a});
  BOOST_REQUIRE_EQUAL(pairs.size(), 1u);
  check_metadata_of(archive->metadata(std::vector<std::uint32_t>{pairs[0].second}).at(0).second, kVoiceMultipart);

  s.inbox->change_flags(std::vector<std::uint32_t>{a}, FlagChange::Add, kDeleted);
  s.inbox->expunge();
  BOOST_TEST(s.inbox->metadata(std::vector<std::uint32_t>{a}).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(copy_and_move_keep_flags_keywords_and_dates, Backend, Backends) {
  Opened<Backend> s;
  s.mailbox->create("Archive");
  const auto archive = s.mailbox->open("Archive");
  const std::vector<std::string> keyword{"$Forwarded"};
  const std::uint32_t a = s.inbox->append(message(1), kSeen | kFlagged, keyword, 1'600'000'000);
  const std::uint32_t b = s.inbox->append(message(2), 0, {}, 1'600'000'100);
  const std::vector<std::uint32_t> both{a, b};

  const auto check_copies = [&](const Folder::UidPairs& pairs) {
    BOOST_REQUIRE(pairs.size() == 2u);
    const auto copies = archive->snapshot();
    const MessageInfo& copy_a = info_of(copies, pairs[0].second);
    BOOST_TEST(pairs[0].first == a);
    BOOST_TEST(copy_a.flags == (kSeen | kFlagged));
    BOOST_TEST(copy_a.keywords == keyword);
    BOOST_TEST(copy_a.internal_date == 1'600'000'000);
    BOOST_TEST(archive->open_message(pairs[1].second)->bytes() == message(2));
  };
  check_copies(s.inbox->copy_to(*archive, both));
  BOOST_TEST(s.inbox->status().messages == 2u);  // copies leave the sources
  check_copies(s.inbox->Folder::copy_to(*archive, both));  // the generic path, as for a foreign target
  BOOST_TEST(archive->status().messages == 4u);

  const auto moved = s.inbox->move_to(*archive, both);
  BOOST_TEST(moved.size() == 2u);
  BOOST_TEST(s.inbox->status().messages == 0u);
  BOOST_TEST(archive->status().messages == 6u);
  BOOST_TEST(info_of(archive->snapshot(), moved[0].second).flags == (kSeen | kFlagged));

  const std::uint32_t c = archive->append(message(3), kSeen);
  const std::vector<std::uint32_t> just_c{c};
  const auto back = archive->Folder::move_to(*s.inbox, just_c);  // the generic move
  BOOST_REQUIRE(back.size() == 1u);
  BOOST_TEST(archive->status().messages == 6u);
  BOOST_TEST(s.inbox->snapshot().at(0).flags == kSeen);  // \Deleted was only the means of removal
}

BOOST_AUTO_TEST_CASE_TEMPLATE(renaming_inbox_moves_its_messages, Backend, Backends) {
  Opened<Backend> s;
  s.inbox->append(message(1), kSeen);
  s.inbox->append(message(2));
  const std::string inbox_id = s.inbox->id();
  s.mailbox->rename("INBOX", "Old/Inbox");
  const auto old = s.mailbox->open("Old/Inbox");
  BOOST_TEST(old->status().messages == 2u);
  BOOST_TEST(old->snapshot().at(0).flags == kSeen);
  const auto inbox = s.mailbox->open("INBOX");
  BOOST_TEST(inbox->status().messages == 0u);
  BOOST_TEST(inbox->id() == inbox_id);  // INBOX stays itself
  BOOST_TEST(old->id() != inbox_id);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(folder_ids_are_stable_and_distinct, Backend, Backends) {
  Opened<Backend> s;
  s.mailbox->create("Work");
  const std::string work_id = s.mailbox->open("Work")->id();
  BOOST_TEST(!work_id.empty());
  BOOST_TEST(work_id != s.inbox->id());
  s.mailbox->rename("Work", "Projects");
  BOOST_TEST(s.mailbox->open("Projects")->id() == work_id);
  const auto other = s.backend.open();
  BOOST_TEST(other->user(kNumber)->open("Projects")->id() == work_id);
  BOOST_TEST(other->user(kNumber)->open("INBOX")->id() == s.inbox->id());
  s.mailbox->remove("Projects");
  s.mailbox->create("Projects");
  BOOST_TEST(s.mailbox->open("Projects")->id() != work_id);  // a new folder under an old name
}

// Delivery goes to the folder that has the name now: not to one renamed
// away, nor to one removed, even when another instance (another process or
// node) did the renaming after this one had delivered there.
BOOST_AUTO_TEST_CASE_TEMPLATE(delivery_follows_folder_names, Backend, Backends) {
  Opened<Backend> s;
  s.store->deliver(kNumber, message(1), "Voicemail");
  const auto other = s.backend.open();
  other->user(kNumber)->rename("Voicemail", "Kept");
  const std::uint32_t uid = s.store->deliver(kNumber, message(2), "Voicemail");
  BOOST_TEST(s.mailbox->open("Kept")->status().messages == 1u);
  const auto voicemail = s.mailbox->open("Voicemail");
  BOOST_TEST(voicemail->status().messages == 1u);
  BOOST_TEST(voicemail->snapshot().at(0).uid == uid);
  other->user(kNumber)->remove("Voicemail");
  s.store->deliver(kNumber, message(3), "Voicemail");
  BOOST_TEST(s.mailbox->open("Voicemail")->status().messages == 1u);
  BOOST_TEST(s.mailbox->open("Kept")->status().messages == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(subscriptions_outlive_their_folders, Backend, Backends) {
  Opened<Backend> s;
  s.mailbox->create("Work");
  s.mailbox->set_subscribed("Work", true);
  s.mailbox->set_subscribed("Later/Maybe", true);  // no such folder yet
  s.mailbox->remove("Work");
  const std::vector<std::string> expected{"INBOX", "Later/Maybe", "Sent", "Trash", "Work"};
  BOOST_TEST(s.mailbox->subscriptions() == expected, boost::test_tools::per_element());
  BOOST_TEST(s.backend.open()->user(kNumber)->subscriptions() == expected, boost::test_tools::per_element());
  const auto folders = s.mailbox->list();
  BOOST_TEST(std::none_of(folders.begin(), folders.end(), [](const FolderEntry& f) { return f.name == "Work"; }));
  s.mailbox->set_subscribed("Work", false);
  BOOST_TEST(s.mailbox->subscriptions().size() == expected.size() - 1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(quota_refuses_what_does_not_fit, Backend, Backends) {
  Opened<Backend> s;
  const std::string one = message(1);
  s.mailbox->set_quota_limit(2 * one.size() + 1);
  s.inbox->append(one);
  s.inbox->append(message(2));
  BOOST_CHECK_THROW(s.inbox->append(message(3)), QuotaExceeded);
  const QuotaUsage usage = s.mailbox->quota();
  BOOST_TEST(usage.messages == 2u);
  BOOST_TEST(usage.bytes == 2 * one.size());
  BOOST_TEST(usage.limit_bytes == 2 * one.size() + 1);
  s.mailbox->create("Archive");
  const auto archive = s.mailbox->open("Archive");
  const auto uids = uids_of(s.inbox->snapshot());
  BOOST_CHECK_THROW(s.inbox->copy_to(*archive, uids), QuotaExceeded);
  BOOST_TEST(archive->status().messages == 0u);  // nothing half-copied
  BOOST_TEST(s.inbox->move_to(*archive, uids).size() == 2u);  // a move adds nothing to the mailbox
  BOOST_TEST(s.mailbox->quota().bytes == 2 * one.size());
}

namespace {
std::string voicemail(int n, unsigned seconds) {
  return "From: +15550123@example.com\r\nSubject: voicemail " + std::to_string(n) +
         "\r\nMessage-Context: voice-message\r\nMIME-Version: 1.0\r\nContent-Type: audio/32KADPCM\r\nContent-Duration: " + std::to_string(seconds) +
         "\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n";
}
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(quota_counts_messages_and_seconds_of_voice, Backend, Backends) {
  Opened<Backend> s;
  s.mailbox->set_quota_limit(1'000'000);
  s.mailbox->set_count_limits(3, 50);
  s.inbox->append(voicemail(1, 30));
  s.inbox->append(message(2));
  BOOST_CHECK_THROW(s.inbox->append(voicemail(3, 21)), QuotaExceeded);  // 51 seconds
  s.inbox->append(voicemail(4, 20));                                     // 50: exactly full
  BOOST_CHECK_THROW(s.inbox->append(message(5)), QuotaExceeded);       // a 4th message
  QuotaUsage usage = s.mailbox->quota();
  BOOST_TEST(usage.messages == 3u);
  BOOST_TEST(usage.seconds == 50u);
  BOOST_TEST(usage.limit_messages == 3u);
  BOOST_TEST(usage.limit_seconds == 50u);
  BOOST_TEST(usage.limit_bytes == 1'000'000u);  // the other limits kept

  s.mailbox->create("Archive");
  const auto archive = s.mailbox->open("Archive");
  const auto uids = uids_of(s.inbox->snapshot());
  BOOST_CHECK_THROW(s.inbox->copy_to(*archive, uids), QuotaExceeded);
  BOOST_TEST(s.inbox->move_to(*archive, uids).size() == 3u);  // seconds move along
  BOOST_TEST(s.mailbox->quota().seconds == 50u);
  const std::vector<std::uint32_t> first{uids_of(archive->snapshot()).front()};
  archive->change_flags(first, FlagChange::Add, kDeleted, {});
  archive->expunge();
  usage = s.backend.open()->user(kNumber)->quota();  // what another process sees
  BOOST_TEST(usage.messages == 2u);
  BOOST_TEST(usage.seconds == 20u);
  BOOST_TEST(usage.limit_seconds == 50u);
  s.mailbox->set_count_limits(0, 0);
  s.inbox->append(voicemail(6, 600));
  BOOST_TEST(s.mailbox->quota().seconds == 620u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_appenders_in_threads, Backend, Backends) {
  Opened<Backend> s;
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::vector<std::uint32_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) got[t].push_back(s.inbox->append(message(t * kEach + i)));
    });
  for (auto& thread : threads) thread.join();
  std::set<std::uint32_t> all;
  for (const auto& uids : got) {
    BOOST_TEST(std::is_sorted(uids.begin(), uids.end()));  // each appender sees its UIDs rise
    all.insert(uids.begin(), uids.end());
  }
  BOOST_TEST(all.size() == std::size_t{kThreads * kEach});
  BOOST_TEST(uids_of(s.inbox->snapshot()) == std::vector<std::uint32_t>(all.begin(), all.end()));
  // Appends committed together (Maildir's group commit) each got their own message.
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      const auto stored = s.inbox->open_message(got[t][i]);
      BOOST_REQUIRE(stored);
      BOOST_TEST(stored->bytes() == message(t * kEach + i));
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_appenders_in_processes, Backend, Backends) {
  Backend backend;
  backend.open()->user(kNumber);  // the mailbox exists before the race
  constexpr int kProcesses = 3;
  constexpr int kEach = 20;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {  // its own instance, as another umstore process has
        const auto inbox = backend.open()->user(kNumber)->open("INBOX");
        for (int i = 0; i < kEach; ++i) inbox->append(message(p * kEach + i));
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  const auto snapshot = backend.open()->user(kNumber)->open("INBOX")->snapshot();
  const auto uids = uids_of(snapshot);
  BOOST_TEST(uids.size() == std::size_t{kProcesses * kEach});
  BOOST_TEST(std::set<std::uint32_t>(uids.begin(), uids.end()).size() == uids.size());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(listeners_hear_changes_from_here_and_elsewhere, Backend, Backends) {
  Opened<Backend> s;
  std::atomic<int> heard{0};
  auto handle = s.inbox->listen([&] { ++heard; });
  s.inbox->append(message(1));
  BOOST_TEST(heard.load() >= 1);

  const int before = heard.load();
  const auto other = s.backend.open();
  other->user(kNumber)->open("INBOX")->append(message(2));  // another process's delivery
  // The backend tells by itself, without a refresh() or a read.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard.load() == before && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(heard.load() > before);
  BOOST_TEST(s.inbox->status().messages == 2u);

  const int after_handle = heard.load();
  handle.reset();
  s.inbox->append(message(3));
  BOOST_TEST(heard.load() == after_handle);  // no longer registered
}

// RFC 8514: the save date is when the message came into this folder, not
// its internal date; a copy or a move starts its own.
BOOST_AUTO_TEST_CASE_TEMPLATE(save_dates_are_when_a_folder_got_the_message, Backend, Backends) {
  Opened<Backend> s;
  s.mailbox->create("Archive");
  const auto archive = s.mailbox->open("Archive");
  const auto before = static_cast<std::int64_t>(std::time(nullptr));
  const std::uint32_t a = s.inbox->append(message(1), 0, {}, 1'600'000'000);
  const auto after = static_cast<std::int64_t>(std::time(nullptr));
  const MessageInfo saved = info_of(s.inbox->snapshot(), a);
  BOOST_TEST(saved.internal_date == 1'600'000'000);
  BOOST_TEST(saved.save_date >= before);
  BOOST_TEST(saved.save_date <= after);
  const std::vector<std::uint32_t> just_a{a};
  const auto copied = s.inbox->copy_to(*archive, just_a);
  BOOST_REQUIRE(copied.size() == 1u);
  BOOST_TEST(info_of(archive->snapshot(), copied[0].second).save_date >= saved.save_date);
  BOOST_TEST(info_of(s.backend.open()->user(kNumber)->open("Archive")->snapshot(), copied[0].second).save_date >=
             before);  // kept, as another process reads it
  BOOST_TEST(info_of(s.inbox->changes_since(0).changed, a).save_date == saved.save_date);
}

namespace {
std::string voice_message(int n) {
  return "From: +15550123@vpim.example\r\nMessage-Context: voice-message\r\nSubject: voice " + std::to_string(n) +
         "\r\nContent-Type: text/plain\r\n\r\nrecording " + std::to_string(n) + "\r\n";
}
}  // namespace

// Message aging over the seam: voice and fax past their days move to Trash
// (their save date restarts there), other mail stays, Trash is purged.
BOOST_AUTO_TEST_CASE_TEMPLATE(message_aging_moves_voice_to_trash_and_purges_trash, Backend, Backends) {
  Opened<Backend> s;
  const std::uint32_t voice = s.inbox->append(voice_message(1));
  const std::uint32_t mail = s.inbox->append(message(2));
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  constexpr std::int64_t kDay = 24 * 3600;
  std::vector<AgedMessage> heard;
  const auto record = [&](const AgedMessage& m) { heard.push_back(m); };

  AgingReport report;
  age_mailbox(*s.mailbox, AgingDays{30, 60}, now + 29 * kDay, record, report);  // not yet
  BOOST_TEST(report.moved == 0u);
  BOOST_TEST(s.inbox->status().messages == 2u);

  age_mailbox(*s.mailbox, AgingDays{30, 60}, now + 31 * kDay, record, report);
  BOOST_TEST(report.moved == 1u);
  BOOST_TEST(report.purged == 0u);
  BOOST_TEST(uids_of(s.inbox->snapshot()) == std::vector<std::uint32_t>{mail});  // mail is never aged
  const auto trash = s.mailbox->open("Trash");
  const auto in_trash = trash->snapshot();
  BOOST_REQUIRE(in_trash.size() == 1u);
  BOOST_TEST(in_trash[0].save_date >= now);  // restarts in Trash
  BOOST_REQUIRE(heard.size() == 1u);
  BOOST_TEST((heard[0].action == AgedMessage::Action::moved_to_trash));
  BOOST_TEST(heard[0].folder == "INBOX");
  BOOST_TEST(heard[0].uid == voice);
  BOOST_TEST(heard[0].trash_uid == in_trash[0].uid);

  age_mailbox(*s.mailbox, AgingDays{0, 60}, now + 59 * kDay, record, report);  // Trash not due yet
  BOOST_TEST(trash->status().messages == 1u);
  age_mailbox(*s.mailbox, AgingDays{0, 60}, now + 61 * kDay, record, report);
  BOOST_TEST(trash->status().messages == 0u);
  BOOST_TEST(report.purged == 1u);
  BOOST_TEST((heard.back().action == AgedMessage::Action::purged));
  BOOST_TEST(s.inbox->status().messages == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
