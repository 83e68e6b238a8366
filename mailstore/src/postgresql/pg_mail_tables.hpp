#pragma once
// Every statement the PostgreSQL backend runs on the mail tables (schema in
// pg_schema.cpp), one function a transaction (the append and the STORE
// write are single statements calling migration 7's functions). The Folder
// and UserMailbox objects of the backend call these; nothing else writes
// these tables.
//
// Invariants kept here:
//  - UIDs come from folders.uid_next inside the append transaction, under
//    the folder row's lock: strictly ascending, visible in commit order, and
//    never handed out twice, whatever crashes;
//  - every change raises folders.highest_modseq and stamps what it changed
//    with the new value, so changes since a mod-sequence are one query;
//  - quota usage is updated in the same transaction as the append or
//    expunge, checked against the limit in the same statement;
//  - bodies are shared by content (SHA-256) and counted; the last reference
//    removes them;
//  - locks are taken mailbox row first, then folder row (no deadlocks).
// Each change ends with pg_notify('umstore_folder', folder id), delivered to
// listeners on every node when the transaction commits.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/folder.hpp"
#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

inline constexpr std::string_view kFolderChannel = "umstore_folder";

struct FolderRow {
  std::int64_t id = 0;
  std::int64_t mailbox_id = 0;
  std::string name;
  std::uint32_t uid_validity = 0;
  std::string guid;  // 32 hex digits, for life
};

// A message's new state after a flag change, computed by the caller.
struct FlagUpdate {
  std::uint32_t uid = 0;
  Flags flags = 0;
  std::vector<std::string> keywords;
};

struct Appended {
  std::uint32_t uid = 0;
  std::uint64_t modseq = 0;
  // The delivery key was stored before: nothing appended; uid and folder are the earlier copy's.
  bool earlier = false;
  std::string earlier_folder;
  std::string body_sha256;  // the body's row (32 bytes), when stored now
};


struct NewMessage {
  std::string_view rfc822;
  Flags flags = 0;
  std::span<const std::string> keywords;
  std::int64_t internal_date = 0;
  std::optional<std::string_view> delivery_key;  // exactly-once delivery (SMTP queue id, ingest id)
  std::optional<std::uint32_t> uid;  // keep this UID (copy_store): at or above the folder's UIDNEXT
  std::string_view metadata;  // encode_metadata without the header (the header column holds it); empty: none
};

// What changed in a folder after a mod-sequence, with the folder row's
// counters as of the same moment (MailTables::delta_since).
struct FolderDelta {
  std::uint64_t since = 0;
  std::uint64_t highest_modseq = 1;
  std::uint32_t uid_next = 1;
  std::uint32_t uid_validity = 0;
  std::uint32_t first_recent = 1;
  std::vector<MessageInfo> changed;  // ascending UID
  struct Expunged {
    std::uint32_t uid = 0;
    std::uint64_t modseq = 0;
  };
  std::vector<Expunged> expunged;  // ascending UID
};

// A message's row of what FETCH lists it with (Folder::metadata).
struct StoredMetadata {
  std::uint32_t uid = 0;
  std::string header;
  std::optional<std::string> metadata;  // encoded; none for messages stored before migration 8
};

class MailTables {
 public:
  explicit MailTables(Connection& c) : c_(c) {}

  // The mailbox of `number`, created when missing.
  std::int64_t mailbox_id(std::string_view number);
  std::optional<FolderRow> find_folder(std::int64_t mailbox_id, std::string_view name);
  // The folder, created (with its parents) when missing; safe when several
  // deliveries create it at once.
  FolderRow ensure_folder(std::int64_t mailbox_id, std::string_view name);
  // Throws FolderExists.
  FolderRow create_folder(std::int64_t mailbox_id, std::string_view name, SpecialUse use);
  // INBOX first, then by name.
  std::vector<FolderEntry> list_folders(std::int64_t mailbox_id);
  // INBOX, Sent and Trash, subscribed, for a mailbox with no folders yet;
  // false when it had some.
  bool create_default_folders(std::int64_t mailbox_id);
  void set_subscribed(std::int64_t mailbox_id, std::string_view name, bool subscribed);
  // Ascending; names without a folder included.
  std::vector<std::string> subscriptions(std::int64_t mailbox_id);
  // The folder and its messages (children are folders of their own).
  void remove_folder(const FolderRow& folder);
  // Renames `from` and the folders below it; throws FolderNotFound.
  void rename_folder(std::int64_t mailbox_id, std::string_view from, std::string_view to);

  // Throws QuotaExceeded naming the mailbox's usage and limit. With a
  // delivery key stored before in the mailbox, appends nothing and returns
  // the earlier copy (decided under the mailbox row's lock).
  Appended append(const FolderRow& folder, const NewMessage& message);
  // copy_store: the source's UIDVALIDITY, taken only while the folder has
  // never given out a UID (runtime_error otherwise, unless it is the same);
  // UIDNEXT raised to at least `uid_next`.
  void adopt_uid_validity(const FolderRow& folder, std::uint32_t uid_validity);
  void raise_uid_next(std::int64_t folder_id, std::uint32_t uid_next);
  // The UID a delivery key was stored under in this mailbox, if it was.
  std::optional<std::pair<std::string, std::uint32_t>> delivered(std::int64_t mailbox_id, std::string_view key);

  std::vector<MessageInfo> snapshot(std::int64_t folder_id);
  FolderStatus status(std::int64_t folder_id);
  std::optional<std::string> body(std::int64_t folder_id, std::uint32_t uid);
  // Of `uids` (ascending), those that exist, ascending.
  std::vector<StoredMetadata> metadata(std::int64_t folder_id, std::span<const std::uint32_t> uids);
  // Keeps metadata computed for a message stored without it.
  void keep_metadata(std::int64_t folder_id, std::uint32_t uid, std::string_view encoded);

  // `compute` gets the messages' current state and returns the updates to
  // make (those that really change), written only if none of those
  // messages changed meanwhile; returns what changed as it now is. Rows
  // with a mod-sequence above `unchanged_since` are not given to `compute`
  // but reported in `modified`. `guess`: the messages' states as the
  // caller believes them (FolderMirror::heard_states), tried first instead
  // of a read; it only ever leads to a write, which checks it.
  struct FlagResult {
    std::vector<MessageInfo> changed;
    std::vector<std::uint32_t> modified;
  };
  template <typename Compute>
  FlagResult change_flags(std::int64_t folder_id, std::span<const std::uint32_t> uids,
                          std::optional<std::uint64_t> unchanged_since, Compute compute,
                          std::optional<std::vector<MessageInfo>> guess = std::nullopt);

  // Removes `uids` (every message when empty), only those flagged \Deleted
  // when `only_deleted`; returns the removed UIDs, ascending.
  std::vector<std::uint32_t> expunge(const FolderRow& folder, std::span<const std::uint32_t> uids, bool only_deleted);
  // Copies (flags kept, bodies shared) in one transaction; with `move` the
  // sources are expunged in the same transaction, so a crash can never leave
  // a message in both folders or in neither.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> copy(const FolderRow& from, const FolderRow& to,
                                                            std::span<const std::uint32_t> uids, bool move);

  FolderChanges changes_since(std::int64_t folder_id, std::uint64_t modseq);
  // As changes_since with the folder row's counters; without_expunged
  // leaves the expunged UIDs out (a whole copy from modseq 0 needs none).
  enum class Expunges { with, without };
  FolderDelta delta_since(std::int64_t folder_id, std::uint64_t modseq, Expunges expunges);
  std::uint32_t first_recent_uid(std::int64_t folder_id);
  std::uint32_t claim_recent(std::int64_t folder_id, std::uint32_t up_to_uid);

  QuotaUsage quota(std::int64_t mailbox_id);
  void set_quota_limit(std::int64_t mailbox_id, std::uint64_t bytes);
  void set_count_limits(std::int64_t mailbox_id, std::uint64_t messages, std::uint64_t seconds);

 private:
  [[noreturn]] void refuse(std::int64_t mailbox_id, const QuotaCharge& charge);
  std::vector<MessageInfo> infos_of(std::int64_t folder_id, std::span<const std::uint32_t> uids);
  static constexpr int kFlagAttempts = 16;
  std::uint64_t next_modseq(std::int64_t folder_id);
  std::vector<std::uint32_t> remove_rows(const FolderRow& folder, std::span<const std::uint32_t> uids, bool only_deleted);
  // Under a new mod-sequence, which it returns, if every updated message is
  // still as `seen` has it (0 otherwise: nothing written); notifies the
  // folder's watchers.
  std::uint64_t write_flags(std::int64_t folder_id, std::span<const FlagUpdate> updates,
                            std::span<const MessageInfo> seen);
  void notify(std::int64_t folder_id);
  Connection& c_;
};

// Optimistic: the flags are read without a lock and written only if no
// message changed since (one round trip each, no transaction held across
// them); a message changed in between makes it read again.
template <typename Compute>
MailTables::FlagResult MailTables::change_flags(std::int64_t folder_id, std::span<const std::uint32_t> uids,
                                                std::optional<std::uint64_t> unchanged_since, Compute compute,
                                                std::optional<std::vector<MessageInfo>> guess) {
  for (int attempt = 0;; ++attempt) {
    FlagResult result;
    const bool guessed = attempt == 0 && guess && guess->size() == uids.size();
    std::vector<MessageInfo> current = guessed ? std::move(*guess) : infos_of(folder_id, uids);
    std::erase_if(current, [&](const MessageInfo& m) {
      if (!unchanged_since || m.modseq <= *unchanged_since) return false;
      result.modified.push_back(m.uid);
      return true;
    });
    const std::vector<FlagUpdate> updates = compute(std::span<const MessageInfo>(current));
    // Nothing to write, or messages left alone, is the database's own rows' answer.
    if (guessed && (updates.empty() || !result.modified.empty())) continue;
    if (updates.empty()) return result;
    const std::uint64_t modseq = write_flags(folder_id, updates, current);
    if (modseq == 0) {
      if (attempt == kFlagAttempts) throw TemporaryFailure("the flags kept changing under other sessions; try again");
      continue;
    }
    for (const auto& u : updates) {
      auto it = std::find_if(current.begin(), current.end(), [&](const MessageInfo& m) { return m.uid == u.uid; });
      if (it == current.end()) continue;
      it->flags = u.flags;
      it->keywords = u.keywords;
      it->modseq = modseq;
      result.changed.push_back(*it);
    }
    return result;
  }
}

}  // namespace umstore::mailstore::pg
