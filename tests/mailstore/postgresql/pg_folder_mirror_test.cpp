// The node's copy of a folder's message list (pg_folder_mirror.hpp): fed
// scripted database reads to check how it applies them (in any order,
// forgetting old expunges, reading only when a change was heard of), then
// two stores on one database, as two nodes are, to check that a read on one
// sees what the other just committed.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <functional>

#include "mailstore/mail_store.hpp"
#include "pg_folder_mirror.hpp"
#include "pg_test_support.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;
using pg::FolderDelta;
using pg::FolderMirror;
using pg::MailTables;

namespace {

MessageInfo message(std::uint32_t uid, std::uint64_t modseq, Flags flags = 0) {
  MessageInfo m;
  m.uid = uid;
  m.modseq = modseq;
  m.flags = flags;
  m.size = 100;
  return m;
}

FolderDelta delta(std::uint64_t since, std::uint64_t highest, std::vector<MessageInfo> changed,
                  std::vector<FolderDelta::Expunged> expunged = {}) {
  FolderDelta d;
  d.since = since;
  d.highest_modseq = highest;
  d.uid_next = changed.empty() ? 1 : changed.back().uid + 1;
  d.uid_validity = 7;
  d.changed = std::move(changed);
  d.expunged = std::move(expunged);
  return d;
}

// A database that answers with whatever the test queued, and counts reads.
struct ScriptedDatabase {
  std::function<FolderDelta(std::uint64_t, MailTables::Expunges)> next;
  int reads = 0;
  FolderMirror::Read reader() {
    return [this](std::uint64_t since, MailTables::Expunges e) {
      ++reads;
      return next(since, e);
    };
  }
};

std::vector<std::uint32_t> uids(const std::vector<MessageInfo>& messages) {
  std::vector<std::uint32_t> out;
  for (const auto& m : messages) out.push_back(m.uid);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pg_folder_mirror)

BOOST_AUTO_TEST_CASE(counts_in_the_database_until_a_list_is_asked_for_then_reads_only_changes) {
  std::atomic<std::uint64_t> heard{0};
  FolderMirror mirror(heard);
  ScriptedDatabase db;
  BOOST_TEST(!mirror.status(db.reader()).has_value());
  BOOST_TEST(db.reads == 0);

  db.next = [](std::uint64_t since, MailTables::Expunges e) {
    BOOST_TEST(since == 0u);
    BOOST_TEST((e == MailTables::Expunges::without));
    auto d = delta(0, 5, {message(1, 2, kSeen), message(2, 3), message(3, 5, kDeleted)});
    d.first_recent = 3;
    return d;
  };
  BOOST_TEST(uids(mirror.snapshot(db.reader())) == (std::vector<std::uint32_t>{1, 2, 3}));

  db.next = [](std::uint64_t since, MailTables::Expunges e) {
    BOOST_TEST(since == 5u);
    BOOST_TEST((e == MailTables::Expunges::with));
    auto d = delta(5, 7, {message(2, 6, kSeen), message(4, 7)}, {{1, 6}});
    d.first_recent = 3;
    return d;
  };
  const auto status = mirror.status(db.reader());
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->messages == 3u);  // 2, 3, 4
  BOOST_TEST(status->unseen == 2u);    // 3 and 4
  BOOST_TEST(status->deleted == 1u);
  BOOST_TEST(status->recent == 2u);    // UIDs from 3
  BOOST_TEST(status->size == 300u);
  BOOST_TEST(status->uid_next == 5u);
  BOOST_TEST(status->uid_validity == 7u);
  BOOST_TEST(status->highest_modseq == 7u);

  db.next = [](std::uint64_t since, MailTables::Expunges) { return delta(since, 7, {}); };
  const auto changes = mirror.changes_since(5, db.reader());
  BOOST_REQUIRE(changes.has_value());
  BOOST_TEST(uids(changes->changed) == (std::vector<std::uint32_t>{2, 4}));
  BOOST_TEST(changes->expunged == (std::vector<std::uint32_t>{1}));
  BOOST_TEST(changes->highest_modseq == 7u);
}

BOOST_AUTO_TEST_CASE(a_read_that_returns_after_a_newer_one_changes_nothing) {
  std::atomic<std::uint64_t> heard{0};
  FolderMirror mirror(heard);
  ScriptedDatabase db;
  db.next = [](std::uint64_t, MailTables::Expunges) { return delta(0, 2, {message(1, 1), message(2, 2)}); };
  mirror.snapshot(db.reader());

  // While this session's read is on its way, another session's read sees
  // a later state (message 1 expunged) and is applied first.
  ScriptedDatabase later;
  later.next = [](std::uint64_t since, MailTables::Expunges) { return delta(since, 4, {message(3, 4)}, {{1, 3}}); };
  db.next = [&](std::uint64_t since, MailTables::Expunges) {
    mirror.snapshot(later.reader());
    return delta(since, 3, {message(1, 3, kSeen)});  // an older state: message 1 still there
  };
  BOOST_TEST(uids(mirror.snapshot(db.reader())) == (std::vector<std::uint32_t>{2, 3}));
}

BOOST_AUTO_TEST_CASE(reads_the_database_for_a_catch_up_only_after_hearing_of_a_change) {
  std::atomic<std::uint64_t> heard{0};
  FolderMirror mirror(heard);
  ScriptedDatabase db;
  db.next = [](std::uint64_t, MailTables::Expunges) { return delta(0, 2, {message(1, 1), message(2, 2)}); };
  mirror.snapshot(db.reader());
  const int after_load = db.reads;

  db.next = [](std::uint64_t since, MailTables::Expunges) { return delta(since, 3, {message(2, 3, kSeen)}); };
  BOOST_TEST(mirror.changes_heard_since(2, db.reader())->changed.empty());
  BOOST_TEST(db.reads == after_load);  // nothing heard: from memory

  ++heard;  // a notification, or this node's own change
  const auto changes = mirror.changes_heard_since(2, db.reader());
  BOOST_TEST(db.reads == after_load + 1);
  BOOST_TEST(uids(changes->changed) == (std::vector<std::uint32_t>{2}));
  // Ten sessions woken by it: one read between them.
  for (int i = 0; i < 10; ++i) mirror.changes_heard_since(2, db.reader());
  BOOST_TEST(db.reads == after_load + 1);
  // changes_since is as of now whatever was heard.
  db.next = [](std::uint64_t since, MailTables::Expunges) { return delta(since, 3, {}); };
  mirror.changes_since(2, db.reader());
  BOOST_TEST(db.reads == after_load + 2);
}

BOOST_AUTO_TEST_CASE(sends_a_caller_to_the_database_for_expunges_older_than_it_keeps) {
  std::atomic<std::uint64_t> heard{0};
  FolderMirror mirror(heard);
  ScriptedDatabase db;
  std::vector<MessageInfo> all;
  for (std::uint32_t uid = 1; uid <= 30'000; ++uid) all.push_back(message(uid, 1));
  db.next = [&](std::uint64_t, MailTables::Expunges) { return delta(0, 1, all); };
  mirror.snapshot(db.reader());
  // Each expunge under its own mod-sequence, in three reads of 10,000.
  for (std::uint64_t round = 0; round < 3; ++round) {
    db.next = [&](std::uint64_t since, MailTables::Expunges) {
      std::vector<FolderDelta::Expunged> gone;
      for (std::uint32_t i = 1; i <= 10'000; ++i)
        gone.push_back({static_cast<std::uint32_t>(round * 10'000 + i), 1 + round * 10'000 + i});
      return delta(since, 1 + (round + 1) * 10'000, {}, std::move(gone));
    };
    mirror.snapshot(db.reader());
  }
  db.next = [](std::uint64_t since, MailTables::Expunges) { return delta(since, 30'001, {}); };
  BOOST_TEST(mirror.snapshot(db.reader()).empty());
  BOOST_TEST(!mirror.changes_since(1, db.reader()).has_value());  // forgotten: the database answers
  const auto recent = mirror.changes_since(29'990, db.reader());
  BOOST_REQUIRE(recent.has_value());
  BOOST_TEST(recent->expunged.size() == 11u);
  BOOST_TEST(recent->expunged.front() == 29'990u);
}

// Two stores on one database, as two nodes: what one commits, the other's
// reads show at once, without waiting for its notification.
// status() and changes_since() answer from counts and a mod-sequence index
// kept as deltas are applied: after every delta they must say what
// counting and filtering the whole list says, including when a delta read
// from an older mod-sequence brings rows the copy already holds.
BOOST_AUTO_TEST_CASE(kept_counts_and_index_agree_with_the_list_after_every_delta) {
  std::atomic<std::uint64_t> heard{0};
  FolderMirror mirror(heard);
  ScriptedDatabase db;
  const auto agree = [&] {
    const auto all = mirror.snapshot(db.reader());
    const auto st = mirror.status(db.reader());
    BOOST_REQUIRE(st.has_value());
    std::uint32_t unseen = 0, deleted = 0, recent = 0;
    std::uint64_t size = 0;
    for (const auto& m : all) {
      unseen += !(m.flags & kSeen);
      deleted += (m.flags & kDeleted) != 0;
      recent += m.uid >= 4;  // first_recent below
      size += m.size;
    }
    BOOST_TEST(st->messages == all.size());
    BOOST_TEST(st->unseen == unseen);
    BOOST_TEST(st->deleted == deleted);
    BOOST_TEST(st->recent == recent);
    BOOST_TEST(st->size == size);
    for (std::uint64_t since = 0; since <= st->highest_modseq; ++since) {
      const auto changes = mirror.changes_since(since, db.reader());
      if (!changes) continue;  // from before the expunges kept
      std::vector<std::uint32_t> expected;
      for (const auto& m : all)
        if (m.modseq > since) expected.push_back(m.uid);
      BOOST_TEST(uids(changes->changed) == expected, "changed since " << since);
    }
  };
  const auto next = [&](FolderDelta d) {
    d.first_recent = 4;
    db.next = [d](std::uint64_t, MailTables::Expunges) { return d; };
  };
  next(delta(0, 5, {message(1, 2, kSeen), message(2, 3), message(3, 5, kDeleted)}));
  agree();
  // New messages, and message 1 marked unread.
  next(delta(5, 8, {message(1, 6), message(4, 7), message(5, 8, kSeen)}));
  agree();
  // A read from an older mod-sequence: rows the copy holds, unchanged, and one change.
  next(delta(5, 9, {message(1, 6), message(4, 7), message(5, 9, kSeen | kDeleted)}));
  agree();
  // Messages 3 and 5 expunged, 2 read.
  next(delta(9, 11, {message(2, 11, kSeen)}, {{3, 10}, {5, 10}}));
  agree();
  const auto changes = mirror.changes_since(9, db.reader());
  BOOST_REQUIRE(changes.has_value());
  BOOST_TEST(changes->expunged == (std::vector<std::uint32_t>{3, 5}));
  BOOST_TEST(mirror.changes_since(10, db.reader())->expunged.empty());
}

BOOST_AUTO_TEST_CASE(another_nodes_commit_is_in_the_next_read) {
  pg::FreshSchema schema("mirror_two_nodes", true);
  const auto node_a = open_postgresql_store(pg::dsn_in_schema(schema.name), 2);
  const auto node_b = open_postgresql_store(pg::dsn_in_schema(schema.name), 2);
  const auto a = node_a->user("+15550100")->open("INBOX");
  const auto b = node_b->user("+15550100")->open("INBOX");
  const std::uint32_t first = a->append(kVoiceMultipart);
  BOOST_TEST(b->snapshot().size() == 1u);  // b's copy is loaded now
  const std::uint64_t seen = b->status().highest_modseq;

  const std::uint32_t second = a->append(kVoiceMultipart);
  const std::vector<std::uint32_t> one{first};
  a->change_flags(one, FlagChange::Add, kSeen);
  BOOST_TEST(uids(b->snapshot()) == (std::vector<std::uint32_t>{first, second}));
  const FolderStatus status = b->status();
  BOOST_TEST(status.messages == 2u);
  BOOST_TEST(status.unseen == 1u);
  BOOST_TEST(status.highest_modseq == a->status().highest_modseq);
  const auto changes = b->changes_since(seen);
  BOOST_TEST(uids(changes.changed) == (std::vector<std::uint32_t>{first, second}));

  a->change_flags(one, FlagChange::Add, kDeleted);
  BOOST_TEST(a->expunge() == one);
  const auto after = b->changes_since(changes.highest_modseq);
  BOOST_TEST(after.expunged == one);
  BOOST_TEST(uids(b->snapshot()) == (std::vector<std::uint32_t>{second}));
}

BOOST_AUTO_TEST_SUITE_END()
