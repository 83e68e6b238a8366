#pragma once
// The Maildir backend's Folder (internal to the mailstore library).
//
// On disk, inside the folder directory:
//   tmp/ new/ cur/        standard Maildir; messages live in cur/ as
//                         "<unique>,S=<size>:2,<DFRST>" so other tools read them
//   umstore-uidlist       append-only log (the model is dovecot-uidlist):
//                           "umstore-uidlist 1 V<uidvalidity> N<uidnext> M<modseq> R<uid>"  header
//                           "+<uid> <size> <date> <flags> <basename>"     message added
//                           "-<uid> <modseq>"                              expunged
//                           "F<uid> <flags>"                               flags changed
//                           "K<uid> [keyword...]"                          keywords replaced
//                                                                          (an F line with the new
//                                                                          mod-sequence follows)
//                           "R<uid>"                                       \Recent claimed below uid
//                           "S<uid> <date>"                                save date (right after "+";
//                                                                          none: the internal date)
//                         where <flags> is "<DFRST letters|->/<modseq>". The
//                         M and R header fields and the "/<modseq>" suffix
//                         are optional (logs from before CONDSTORE: modseq 1,
//                         everything recent once); older readers ignore them.
//                         compacted (rewritten and renamed over) when mostly dead
//   umstore-uidlist.lock  flock held while reading or writing the log and
//                         changing files, so a second process stays consistent
//   umstore-special-use   "Sent", "Trash"... when the folder has a special use
//   umstore-folder-id     the folder's id (Folder::id), written at creation
//                         (or first open, for folders made by older versions)
//   umstore-fts/          the full-text index, a cache of the messages (text_index.hpp)
//   umstore-metadata/     a file per message (by base name) with its header, ENVELOPE,
//                         BODY and BODYSTRUCTURE: a cache too (maildir_folder_metadata.cpp)
//
// Crash rules: a message file reaches cur/ (fsync'ed, directory too) before
// its "+" record; at the next scan a file without a record gets a fresh UID
// and a record without a file is dropped. So a crash never loses a message
// and never gives a UID twice (UIDs only come from the log, under the lock).
// Flag and keyword changes are not fsync'ed (Dovecot's mail_fsync=optimized
// does the same): a crash may undo a recent one, and the scan settles any
// disagreement between a file name and the log in favour of the file name.
// They become durable with the next append or expunge, whose fsyncs of the
// log and of cur/ cover everything written before.
// Mod-sequences (RFC 7162) ride on the records above, so CONDSTORE costs no
// extra write. A new one is max(highest + 1, microseconds since the epoch):
// monotonic within the log, and also above any value handed out in a lazily
// written record that a crash lost, so after a crash a client's cached
// HIGHESTMODSEQ never names a state the store forgot.
// The \Recent mark ("R") is written lazily too: after a crash a message may
// be recent once more, which RFC 3501 prefers to never being recent.
// Other processes' changes are noticed when the log's or a directory's stat
// changes, checked by snapshot(), status() and every change (3 stat calls
// when nothing changed; the index lives in memory).
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/durable_file.hpp"
#include "folder_events.hpp"
#include "listener_registry.hpp"
#include "mailstore/folder.hpp"
#include "quota_counter.hpp"
#include "text_index.hpp"
#include "text_indexer.hpp"

namespace umstore::mailstore::detail {

// Where a copy's bytes come from: an open message file of a folder (open,
// so a concurrent flag change renaming it cannot make the copy miss it).
struct MessageSource {
  std::uint32_t source_uid = 0;
  UniqueFd fd;
  Flags flags = 0;
  std::vector<std::string> keywords;
  std::uint64_t size = 0;
  std::int64_t internal_date = 0;
  std::uint64_t seconds = 0;  // of voice, for the quota
};

class MaildirFolder final : public Folder, public std::enable_shared_from_this<MaildirFolder> {
 public:
  // Creates the directory layout atomically (built under a temporary name
  // and renamed into place); false when `dir` already exists.
  [[nodiscard]] static bool create_on_disk(const std::filesystem::path& dir, SpecialUse use);

  // `events` (may be empty) watches the folder for other processes' changes while anyone listens.
  // `indexer` (may be empty: no full-text index) keeps the folder's index up to date.
  MaildirFolder(std::filesystem::path dir, std::string name, std::shared_ptr<QuotaCounter> quota,
                std::weak_ptr<FolderEvents> events, std::weak_ptr<TextIndexer> indexer = {});
  ~MaildirFolder() override;

  const std::string& name() const noexcept override { return name_; }
  const std::string& id() const noexcept override { return id_; }
  std::uint32_t uid_validity() const override;
  std::vector<MessageInfo> snapshot() const override;
  FolderStatus status() const override;
  FolderChanges changes_since(std::uint64_t modseq) const override;
  std::uint64_t change_counter() const override { return mirror_.change_counter.load(); }
  void refresh() override;
  MessageDataPtr open_message(std::uint32_t uid) const override;
  UidMetadata metadata(std::span<const std::uint32_t> uids) const override;
  std::uint32_t append(std::string_view rfc822, Flags flags, std::span<const std::string> keywords,
                       std::optional<std::int64_t> internal_date) override;
  std::vector<MessageInfo> change_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                        std::span<const std::string> keywords) override;
  ConditionalFlagChange change_flags_unchanged_since(std::span<const std::uint32_t> uids, FlagChange how,
                                                     Flags flags, std::span<const std::string> keywords,
                                                     std::uint64_t unchanged_since) override;
  std::uint32_t first_recent_uid() const override;
  std::uint32_t claim_recent(std::uint32_t up_to_uid) override;
  std::vector<std::uint32_t> expunge(std::optional<std::span<const std::uint32_t>> only_uids) override;
  UidPairs copy_to(Folder& target, std::span<const std::uint32_t> uids) override;
  UidPairs move_to(Folder& target, std::span<const std::uint32_t> uids) override;
  ListenerHandle listen(Listener on_change) override;
  bool listeners_hear_everyone() const noexcept override { return watched_.load(std::memory_order_relaxed); }
  std::optional<TextCandidates> text_candidates(std::string_view needle,
                                                            std::span<const std::uint32_t> uids) const override;
  std::size_t rebuild_text_index() override;
  // The indexer's call: what was added and removed since it last called.
  void update_text_index(std::span<const std::uint32_t> added, std::span<const std::uint32_t> removed) const;

  SpecialUse special_use() const noexcept { return special_use_; }
  bool retired() const;
  const std::filesystem::path& directory() const noexcept { return dir_; }

  // Links (or copies) the sources in as new messages, without a quota
  // check (the caller's business); returns the new UIDs in source order.
  std::vector<std::uint32_t> add_copies(std::span<const MessageSource> sources);
  std::vector<MessageSource> sources(std::span<const std::uint32_t> uids) const;
  // Removes messages whatever their flags (moves).
  void remove_messages(std::span<const std::uint32_t> uids);
  // The folder was deleted or renamed: it empties, refuses changes and
  // takes its messages out of the quota.
  void retire() const;  // const: also called when a reader finds the directory gone

 private:
  struct Entry {
    std::uint32_t uid = 0;
    std::string base;  // file name without the ":2," info
    std::string file;  // current name in cur/
    std::uint64_t size = 0;
    std::int64_t date = 0;
    Flags flags = 0;
    std::vector<std::string> keywords;
    std::uint64_t modseq = 1;
    std::int64_t saved = 0;  // save date; 0: unknown (files and records from before), the internal date
  };
  struct FileStamp {
    ino_t ino = 0;
    off_t size = -1;
    std::int64_t mtime_ns = -1;
    bool operator==(const FileStamp&) const = default;
  };
  struct Stamps {
    FileStamp log, new_dir, cur_dir;
    bool operator==(const Stamps&) const = default;
  };
  class Transaction;  // mutex + flock + caught up with the disk

  void remove_stale_temporary_files() const;
  std::string read_or_create_id() const;  // with the flock held
  Stamps current_stamps() const;
  bool new_scan_due(const Stamps& now) const;
  bool cur_scan_due(const Stamps& now) const;
  void sync_if_changed() const;
  // All with mutex_ and the flock held; they return true when the index changed.
  bool catch_up_log() const;
  bool scan_directories() const;
  // Flag changes may be lost in a crash (see above), so they skip the fsync
  // that made every STORE wait for the disk.
  enum class LogSync { Durable, Lazy };
  enum class Transfer { Copy, Move };
  UidPairs link_to(MaildirFolder& target, std::span<const std::uint32_t> uids, Transfer how);
  void write_log(std::string_view lines, LogSync sync = LogSync::Durable) const;
  void compact_log_if_needed() const;
  void remember_stamps() const;
  void forget_disk_state() const noexcept;

  void add_entry(Entry entry) const;
  void erase_entry(std::uint32_t uid, std::uint64_t modseq) const;  // modseq: of the removal
  void set_modseq(Entry& e, std::uint64_t modseq) const;  // keeps by_modseq in step
  void set_flags(Entry& e, Flags flags) const;             // keeps the unseen and deleted counts in step
  void count_flags(Flags flags, int sign) const;
  void clear_entries() const;
  void uncount_all() const;  // takes the mirror's totals out of the quota and zeroes them
  bool apply_log_line(std::string_view line) const;
  std::uint64_t next_modseq() const;  // with the Transaction held
  ConditionalFlagChange store_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                    std::span<const std::string> keywords,
                                    std::optional<std::uint64_t> unchanged_since);
  void changed() const;  // bumps the counter; call notify() after unlocking
  void notify() const;
  void require_live() const;
  MessageInfo info(const Entry& e) const;
  // The metadata files (maildir_folder_metadata.cpp). Written into tmp/
  // (an empty path when that failed) and moved into place with the
  // folder's lock held, only for a message that is there.
  std::filesystem::path metadata_file(std::string_view base) const;
  std::filesystem::path write_pending_metadata(std::string_view base, const MessageMetadata& metadata) const;
  void keep_pending_metadata(const std::filesystem::path& pending, std::string_view base) const;
  void keep_computed_metadata(std::span<const std::pair<std::string, std::filesystem::path>> computed) const;
  void forget_metadata(std::string_view base) const;
  // Hands the change to the indexer; outside the folder's lock, which the
  // index takes after its own when it reads messages.
  void queue_text_update(std::span<const std::uint32_t> added, std::span<const std::uint32_t> removed) const;

  // Group commit (maildir_folder_append.cpp): an append whose file is
  // written waits here, and one of the waiting appends renames them all
  // into cur/ and logs them under one lock and one pair of fsyncs.
  struct PendingAppend;
  void commit_with_others(PendingAppend& mine);
  void commit_batch(std::span<PendingAppend* const> batch);
  std::mutex commit_mutex_;
  std::condition_variable commit_done_;
  std::vector<PendingAppend*> commit_queue_;
  bool committing_ = false;

  const std::filesystem::path dir_;
  const std::string name_;
  const std::shared_ptr<QuotaCounter> quota_;
  const std::shared_ptr<ListenerRegistry> listeners_;
  const std::weak_ptr<FolderEvents> events_;
  std::atomic<bool> watched_{false};  // the last listen() got an inotify watch
  SpecialUse special_use_ = SpecialUse::None;
  std::string id_;  // set once, in the constructor
  mutable TextIndex text_index_;
  const std::weak_ptr<TextIndexer> indexer_;

  // What this process knows of the folder on disk. The folder's state is
  // the disk's, which other processes change at any time; the mirror is a
  // cache of it that const reads (snapshot(), status()...) bring up to date
  // first, which is why it is mutable. Guarded by mutex_ (the counter is
  // also read without it).
  struct Mirror {
    std::map<std::uint32_t, Entry> entries;
    // (modseq, uid) of every entry, so changes since a mod-sequence cost what
    // changed, not a walk of every message: each IDLE session on a folder
    // asks after every delivery. Changed only through add_entry,
    // erase_entry, set_modseq and clear_entries.
    std::set<std::pair<std::uint64_t, std::uint32_t>> by_modseq;
    std::unordered_map<std::string, std::uint32_t> uid_by_base;
    std::uint32_t uid_validity = 0;
    std::uint32_t uid_next = 1;
    std::uint64_t total_size = 0;
    std::uint64_t total_seconds = 0;  // of voice, for the quota
    // Kept with every entry's flags (set_flags), so status() need not walk the entries.
    std::uint32_t unseen = 0;
    std::uint32_t deleted = 0;
    std::uint64_t highest_modseq = 1;
    std::uint32_t first_recent_uid = 1;
    // Expunged UIDs and their mod-sequences, complete for removals after
    // expunges_known_since (the log keeps them until it is compacted).
    std::map<std::uint32_t, std::uint64_t> expunged;
    std::uint64_t expunges_known_since = 1;
    std::size_t log_lines = 0;
    off_t log_offset = 0;
    ino_t log_ino = 0;
    Stamps stamps;
    std::int64_t last_cur_scan_ns = 0;
    std::int64_t last_cur_scan_cost_ns = 0;  // how long that scan took
    bool retired = false;
    std::atomic<std::uint64_t> change_counter{0};
  };
  mutable std::mutex mutex_;
  mutable Mirror mirror_;
};

}  // namespace umstore::mailstore::detail

namespace umstore::mailstore::detail {
// Maps a message file read-only; nullptr when the file does not exist.
MessageDataPtr map_message_file(const std::filesystem::path& file);
// Creates `path` (which must not exist) holding `bytes`, dated
// `internal_date`, fsync'ed; IoError otherwise, leaving nothing behind.
void write_message_file(const std::filesystem::path& path, std::string_view bytes, std::int64_t internal_date);
// rename(2), throwing IoError naming `to`.
void rename_or_throw(const std::filesystem::path& from, const std::filesystem::path& to);
}  // namespace umstore::mailstore::detail
