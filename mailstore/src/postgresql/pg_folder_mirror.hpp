#pragma once
// One node's copy of a folder's message list (UID, flags, keywords, size,
// dates, mod-sequence), shared by every folder object of the process that
// has the folder open (it lives in the folder's FolderSignals). SELECT,
// STATUS and the catch-up every session does after a change read it; each
// read first asks the database what changed since the copy's mod-sequence
// (MailTables::delta_since, a few index probes when nothing did), so it is
// as current as a read of the database, but ten sessions selecting a folder
// of 10,000 messages read 10,000 rows once, not ten times.
//
// changes_heard_since() reads the database only when the folder's change
// counter moved since the last read (a change was made or heard of here):
// the sessions woken by one change ask once between them.
//
// The database is read without the copy's lock held, so sessions never
// queue behind one another's round trips; a delta is applied only when it
// leads past the copy's state, and then row by row by mod-sequence, so
// deltas arriving in any order leave the newest state.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "mailstore/folder.hpp"
#include "pg_mail_tables.hpp"

namespace umstore::mailstore::pg {

class FolderMirror {
 public:
  // `heard`: the folder's change counter (FolderSignals::changes).
  explicit FolderMirror(const std::atomic<std::uint64_t>& heard) : heard_(heard) {}

  // Reads the database: what changed after `since`, with or without expunges.
  using Read = std::function<FolderDelta(std::uint64_t since, MailTables::Expunges)>;

  // Every message, ascending UID; the first call copies the whole folder.
  std::vector<MessageInfo> snapshot(const Read& read);
  // nullopt while nobody asked for the message list: counting in the
  // database is then cheaper than copying the folder here.
  std::optional<FolderStatus> status(const Read& read);
  // nullopt when `modseq` is older than the expunges kept here: ask the database.
  std::optional<FolderChanges> changes_since(std::uint64_t modseq, const Read& read);
  // The same, read from the database only if a change was heard of since the last read.
  std::optional<FolderChanges> changes_heard_since(std::uint64_t modseq, const Read& read);
  // The messages of `uids` (ascending) as held here, without a read: only
  // while nothing new was heard, and only those held. A guess for a write
  // that checks each message's mod-sequence (MailTables::change_flags).
  std::optional<std::vector<MessageInfo>> heard_states(std::span<const std::uint32_t> uids) const;

 private:
  // Up to date with the database as of the call (loads on first use).
  void catch_up(const Read& read);
  void apply(FolderDelta delta);  // under mutex_
  void forget_old_expunges();     // under mutex_
  // Keeps the counts and the mod-sequence index in step with messages_
  // (under mutex_): `m` joins (+1) or leaves (-1) the list.
  void count(const MessageInfo& m, int sign);
  void recount();  // after messages_ was replaced whole
  std::optional<FolderChanges> changes_after(std::uint64_t modseq) const;  // under mutex_
  bool current_as_heard() const;                                           // under mutex_

  // Expunges kept for changes_since; older ones are forgotten in halves.
  static constexpr std::size_t kExpungesKept = 10'000;

  const std::atomic<std::uint64_t>& heard_;
  mutable std::mutex mutex_;
  bool loaded_ = false;
  // heard_ as it was before the newest read applied here: every change
  // heard of up to then is in messages_.
  std::uint64_t heard_when_read_ = 0;
  std::uint64_t modseq_ = 0;        // the state messages_ is of
  std::uint64_t expunges_from_ = 0;  // expunged_ holds every expunge after this
  std::uint32_t uid_next_ = 1;
  std::uint32_t uid_validity_ = 0;
  std::uint32_t first_recent_ = 1;
  std::vector<MessageInfo> messages_;           // ascending UID
  std::vector<FolderDelta::Expunged> expunged_;  // ascending mod-sequence
  // So that status() and changes_since() cost what changed, not the folder's size.
  std::uint32_t unseen_ = 0, deleted_ = 0;
  std::uint64_t size_ = 0;
  std::set<std::pair<std::uint64_t, std::uint32_t>> by_modseq_;  // (mod-sequence, UID) of messages_
};

}  // namespace umstore::mailstore::pg
