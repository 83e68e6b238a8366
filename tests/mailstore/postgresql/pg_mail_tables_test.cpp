// The PostgreSQL backend's statements against a real cluster: UIDs under
// concurrency, quota in the append transaction, shared bodies, atomic move,
// changes since a mod-sequence.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <thread>

#include "pg_mail_tables.hpp"
#include "pg_test_support.hpp"

using namespace umstore::mailstore;
using namespace umstore::mailstore::pg;

namespace {

std::string message(int n, std::size_t body_bytes = 20) {
  return "Subject: test " + std::to_string(n) + "\r\nFrom: a@example.org\r\n\r\n" + std::string(body_bytes, 'x') + "\r\n";
}

NewMessage new_message(std::string_view bytes, Flags flags = 0) { return {bytes, flags, {}, 1700000000, std::nullopt, std::nullopt, {}}; }

std::int64_t count(Connection& c, const std::string& sql) { return c.exec(sql).integer(0, 0); }

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_appenders_get_strictly_ascending_distinct_uids) {
  FreshSchema db("uids", true);
  MailTables setup(db.c);
  const auto box = setup.mailbox_id("+15550100");
  const FolderRow inbox = setup.create_folder(box, "INBOX", SpecialUse::None);
  constexpr int kThreads = 6, kEach = 25;
  std::vector<std::vector<std::uint32_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Connection c(dsn_in_schema(db.name));
      MailTables tables(c);
      for (int i = 0; i < kEach; ++i) got[t].push_back(tables.append(inbox, new_message(message(t * 100 + i))).uid);
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::uint32_t> all;
  for (const auto& uids : got) {
    BOOST_TEST(std::is_sorted(uids.begin(), uids.end()));
    all.insert(uids.begin(), uids.end());
  }
  BOOST_TEST(all.size() == std::size_t(kThreads * kEach));
  BOOST_TEST(*all.begin() == 1u);
  BOOST_TEST(*all.rbegin() == std::uint32_t(kThreads * kEach));
  BOOST_TEST(setup.status(inbox.id).uid_next == std::uint32_t(kThreads * kEach + 1));
}

BOOST_AUTO_TEST_CASE(quota_is_checked_in_the_append_and_expunge_gives_room_back) {
  FreshSchema db("quota", true);
  MailTables tables(db.c);
  const auto box = tables.mailbox_id("+15550101");
  const FolderRow inbox = tables.create_folder(box, "INBOX", SpecialUse::None);
  const std::string m = message(1, 400);
  tables.set_quota_limit(box, m.size() * 2);
  tables.append(inbox, new_message(m, kDeleted));
  tables.append(inbox, new_message(message(2, 400)));
  BOOST_CHECK_THROW(tables.append(inbox, new_message(message(3, 400))), QuotaExceeded);
  BOOST_TEST(tables.snapshot(inbox.id).size() == 2u);
  // The refused message left no body behind.
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 2);
  BOOST_TEST(tables.expunge(inbox, {}, true) == std::vector<std::uint32_t>{1});
  BOOST_CHECK_NO_THROW(tables.append(inbox, new_message(message(3, 400))));
  BOOST_TEST(tables.quota(box).messages == 2u);
}

BOOST_AUTO_TEST_CASE(a_body_sent_to_many_is_stored_once_and_removed_with_its_last_reference) {
  FreshSchema db("bodies", true);
  MailTables tables(db.c);
  const std::string voicemail = message(7, 5000);
  std::vector<FolderRow> inboxes;
  for (int i = 0; i < 3; ++i) {
    inboxes.push_back(tables.create_folder(tables.mailbox_id("+1555020" + std::to_string(i)), "INBOX", SpecialUse::None));
    tables.append(inboxes.back(), new_message(voicemail));
  }
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 1);
  // The node hashes the body: the database agrees with its address.
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies WHERE sha256 = sha256(data)") == 1);
  BOOST_TEST(*tables.body(inboxes[2].id, 1) == voicemail);
  const std::uint32_t first = 1;
  const auto listed = tables.metadata(inboxes[2].id, std::span<const std::uint32_t>(&first, 1));
  BOOST_REQUIRE_EQUAL(listed.size(), 1u);
  BOOST_TEST(listed[0].header == "Subject: test 7\r\nFrom: a@example.org\r\n\r\n");
  BOOST_TEST(!listed[0].metadata);  // none given: the first FETCH computes it
  tables.expunge(inboxes[0], {}, false);
  tables.expunge(inboxes[1], {}, false);
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 1);
  tables.expunge(inboxes[2], {}, false);
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 0);
}

// Appends, copies and expunges lock the mailbox row, then body rows: one
// order. With one body delivered over and over to two mailboxes while both
// are emptied, nothing deadlocks and the count of references is the count
// of messages. (An append that wrote its body before the mailbox lock, to
// hold that lock for less time, deadlocked here unless a body already
// stored gained its reference only under the lock.)
BOOST_AUTO_TEST_CASE(one_body_delivered_and_expunged_concurrently_keeps_its_reference_count) {
  FreshSchema db("shared_body", true);
  MailTables setup(db.c);
  const std::array<FolderRow, 2> inboxes{setup.create_folder(setup.mailbox_id("+15550210"), "INBOX", SpecialUse::None),
                                         setup.create_folder(setup.mailbox_id("+15550211"), "INBOX", SpecialUse::None)};
  const std::string voicemail = message(8, 5000);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 5; ++t) {
    threads.emplace_back([&, t] {
      try {
        Connection c(dsn_in_schema(db.name));
        MailTables tables(c);
        for (int i = 0; i < 30; ++i) {
          if (t == 4)
            tables.expunge(inboxes[static_cast<std::size_t>(i % 2)], {}, false);
          else
            tables.append(inboxes[static_cast<std::size_t>(t % 2)], new_message(voicemail));
        }
      } catch (const std::exception& e) {
        BOOST_TEST_MESSAGE(e.what());
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(failures == 0);
  const std::int64_t messages = count(db.c, "SELECT count(*) FROM messages");
  BOOST_TEST(count(db.c, "SELECT coalesce(sum(refs), 0) FROM bodies") == messages);
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == (messages > 0 ? 1 : 0));
}

BOOST_AUTO_TEST_CASE(move_leaves_each_message_in_exactly_one_folder_with_its_flags) {
  FreshSchema db("move", true);
  MailTables tables(db.c);
  const auto box = tables.mailbox_id("+15550300");
  const FolderRow inbox = tables.create_folder(box, "INBOX", SpecialUse::None);
  const FolderRow archive = tables.create_folder(box, "Archive", SpecialUse::Archive);
  for (int i = 0; i < 4; ++i) tables.append(inbox, new_message(message(i), i % 2 ? kSeen : 0));
  const std::vector<std::uint32_t> which{2, 3};
  const auto pairs = tables.copy(inbox, archive, which, true);
  BOOST_TEST(pairs.size() == 2u);
  BOOST_TEST(pairs[0].first == 2u);
  BOOST_TEST(pairs[0].second == 1u);
  BOOST_TEST(tables.snapshot(inbox.id).size() == 2u);
  const auto moved = tables.snapshot(archive.id);
  BOOST_REQUIRE_EQUAL(moved.size(), 2u);
  BOOST_TEST(moved[0].flags == kSeen);  // message 1 of 0..3 was \Seen; it was UID 2
  BOOST_TEST(*tables.body(archive.id, 2) == message(2));
  BOOST_TEST(tables.quota(box).messages == 4u);
  // The copy is gone from INBOX for a resyncing client.
  const auto changes = tables.changes_since(inbox.id, 4);
  BOOST_TEST(changes.expunged == which, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(changes_since_a_modseq_report_flag_changes_appends_and_expunges) {
  FreshSchema db("changes", true);
  MailTables tables(db.c);
  const FolderRow inbox = tables.create_folder(tables.mailbox_id("+15550400"), "INBOX", SpecialUse::None);
  for (int i = 0; i < 3; ++i) tables.append(inbox, new_message(message(i)));
  const std::uint64_t seen = tables.status(inbox.id).highest_modseq;
  const std::vector<std::uint32_t> first{1};
  const auto flagged = tables.change_flags(inbox.id, first, std::nullopt, [](std::span<const MessageInfo> now) {
    std::vector<FlagUpdate> out;
    for (const auto& m : now) out.push_back({m.uid, static_cast<Flags>(m.flags | kFlagged), {"$Label1"}});
    return out;
  });
  BOOST_REQUIRE_EQUAL(flagged.changed.size(), 1u);
  BOOST_TEST(flagged.changed[0].keywords == std::vector<std::string>{"$Label1"}, boost::test_tools::per_element());
  tables.append(inbox, new_message(message(9)));
  const std::vector<std::uint32_t> second{2};
  tables.expunge(inbox, second, false);
  const auto changes = tables.changes_since(inbox.id, seen);
  std::vector<std::uint32_t> changed;
  for (const auto& m : changes.changed) changed.push_back(m.uid);
  BOOST_TEST(changed == (std::vector<std::uint32_t>{1, 4}), boost::test_tools::per_element());
  BOOST_TEST(changes.expunged == second, boost::test_tools::per_element());
  // UNCHANGEDSINCE: message 1 changed after `seen`, so it is left alone.
  const auto refused = tables.change_flags(inbox.id, first, seen, [](std::span<const MessageInfo> now) {
    BOOST_TEST(now.empty());
    return std::vector<FlagUpdate>{};
  });
  BOOST_TEST(refused.modified == first, boost::test_tools::per_element());
}

// A STORE's write checks what its caller believed (a guess from the node's
// copy, or its own read) against each message's mod-sequence, on both of
// umstore_write_flags' paths (one message at a time up to 16, set-based
// beyond): a stale guess writes nothing and the flags are read again.
BOOST_AUTO_TEST_CASE(a_stale_guess_writes_nothing_and_the_flags_are_read_again) {
  FreshSchema db("stale_guess", true);
  MailTables tables(db.c);
  const FolderRow inbox = tables.create_folder(tables.mailbox_id("+15550401"), "INBOX", SpecialUse::None);
  for (int i = 0; i < 20; ++i) tables.append(inbox, new_message(message(i)));
  for (const std::uint32_t n : {2u, 20u}) {
    std::vector<std::uint32_t> uids;
    for (std::uint32_t uid = 1; uid <= n; ++uid) uids.push_back(uid);
    std::vector<MessageInfo> guess = tables.snapshot(inbox.id);
    guess.resize(n);
    // Another session labels message 1 after the guess was taken.
    const std::string theirs = "$Theirs" + std::to_string(n), ours = "$Ours" + std::to_string(n);
    const auto add = [](const MessageInfo& m, const std::string& keyword) {
      auto keywords = m.keywords;
      keywords.push_back(keyword);
      return FlagUpdate{m.uid, m.flags, keywords};
    };
    const std::vector<std::uint32_t> first{1};
    tables.change_flags(inbox.id, first, std::nullopt, [&](std::span<const MessageInfo> now) {
      return std::vector<FlagUpdate>{add(now[0], theirs)};
    });
    int computed = 0;
    const auto result = tables.change_flags(
        inbox.id, uids, std::nullopt,
        [&](std::span<const MessageInfo> now) {
          ++computed;
          std::vector<FlagUpdate> out;
          for (const auto& m : now) out.push_back(add(m, ours));
          return out;
        },
        guess);
    BOOST_TEST(computed == 2);  // the guess, refused; then the database's rows
    BOOST_REQUIRE_EQUAL(result.changed.size(), n);
    const auto now = tables.snapshot(inbox.id);
    const auto has = [](const MessageInfo& m, const std::string& keyword) {
      return std::find(m.keywords.begin(), m.keywords.end(), keyword) != m.keywords.end();
    };
    BOOST_TEST(has(now[0], theirs));  // not lost to the stale guess
    BOOST_TEST(has(now[0], ours));
    BOOST_TEST(has(now[n - 1], ours));
  }
}

BOOST_AUTO_TEST_CASE(recent_is_claimed_once) {
  FreshSchema db("recent", true);
  MailTables tables(db.c);
  const FolderRow inbox = tables.create_folder(tables.mailbox_id("+15550500"), "INBOX", SpecialUse::None);
  for (int i = 0; i < 3; ++i) tables.append(inbox, new_message(message(i)));
  BOOST_TEST(tables.first_recent_uid(inbox.id) == 1u);
  BOOST_TEST(tables.claim_recent(inbox.id, 4) == 1u);
  BOOST_TEST(tables.claim_recent(inbox.id, 4) == 4u);
  BOOST_TEST(tables.status(inbox.id).recent == 0u);
}

BOOST_AUTO_TEST_CASE(a_delivery_key_is_stored_once_per_mailbox) {
  FreshSchema db("keys", true);
  MailTables tables(db.c);
  const auto box = tables.mailbox_id("+15550600");
  const FolderRow inbox = tables.create_folder(box, "INBOX", SpecialUse::None);
  const std::string m = message(1);
  NewMessage keyed = new_message(m);
  keyed.delivery_key = "ingest-42";
  tables.append(inbox, keyed);
  BOOST_TEST(tables.delivered(box, "ingest-42")->second == 1u);
  const Appended again = tables.append(inbox, keyed);
  BOOST_TEST(again.earlier);
  BOOST_TEST(again.uid == 1u);
  BOOST_TEST(again.earlier_folder == "INBOX");
  BOOST_TEST(tables.snapshot(inbox.id).size() == 1u);  // the second append stored nothing
  BOOST_TEST(count(db.c, "SELECT refs FROM bodies") == 1);
  NewMessage other_body = new_message(message(2));
  other_body.delivery_key = "ingest-42";
  BOOST_TEST(tables.append(inbox, other_body).earlier);
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 1);  // nor kept its body
  BOOST_TEST(tables.status(inbox.id).uid_next == 2u);  // and gave out no UID
}

BOOST_AUTO_TEST_CASE(a_new_mailbox_gets_its_default_folders_once_and_renames_carry_children_and_subscriptions) {
  FreshSchema db("folders", true);
  MailTables tables(db.c);
  const auto box = tables.mailbox_id("+15550700");
  BOOST_TEST(tables.create_default_folders(box));
  BOOST_TEST(!tables.create_default_folders(box));
  tables.create_folder(box, "Work", SpecialUse::None);
  const FolderRow child = tables.create_folder(box, "Work/2026", SpecialUse::None);
  tables.append(child, new_message(message(1)));
  tables.set_subscribed(box, "Work/2026", true);
  BOOST_CHECK_THROW(tables.create_folder(box, "Work", SpecialUse::None), FolderExists);
  tables.rename_folder(box, "Work", "Jobs");
  std::vector<std::string> names;
  for (const auto& f : tables.list_folders(box)) names.push_back(f.name + (f.subscribed ? "+" : "") + (f.has_children ? "/" : ""));
  BOOST_TEST(names == (std::vector<std::string>{"INBOX+", "Jobs/", "Jobs/2026+", "Sent+", "Trash+"}),
             boost::test_tools::per_element());
  const auto renamed = tables.find_folder(box, "Jobs/2026");
  BOOST_REQUIRE(renamed);
  BOOST_TEST(renamed->uid_validity == child.uid_validity);
  BOOST_TEST(renamed->guid == child.guid);
  BOOST_TEST(renamed->guid.size() == 32u);
  BOOST_TEST(*tables.body(renamed->id, 1) == message(1));
  tables.remove_folder(*renamed);
  BOOST_TEST(!tables.find_folder(box, "Jobs/2026"));
  BOOST_TEST(tables.quota(box).messages == 0u);
  BOOST_TEST(count(db.c, "SELECT count(*) FROM bodies") == 0);
}

BOOST_AUTO_TEST_CASE(ensure_folder_creates_a_missing_folder_and_its_parents_and_finds_an_existing_one) {
  FreshSchema db("ensure", true);
  MailTables tables(db.c);
  const auto box = tables.mailbox_id("+15550800");
  const FolderRow fax = tables.ensure_folder(box, "Archive/Fax");
  BOOST_TEST(tables.find_folder(box, "Archive").has_value());
  BOOST_TEST(tables.ensure_folder(box, "Archive/Fax").id == fax.id);
}
