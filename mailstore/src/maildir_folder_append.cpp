// MaildirFolder::append with group commit. Each append writes and fsyncs
// its own file in tmp/ (the slow part, side by side with the others), then
// waits for a commit. Whichever waiting append finds no commit running
// commits every append waiting at that moment: one folder lock, the renames
// into cur/, one fsync of cur/, one write and fsync of the UID list. The
// others wait for it and take their UIDs from it. Where an fsync is slow,
// the two fsyncs per message under the lock limited ten concurrent
// APPENDs to one folder; now the whole batch shares them (where creating
// the files costs most, as on a well-used ext4, it changes little).
// Nothing is acknowledged before its batch's fsyncs, as before.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

#include "common/durable_file.hpp"
#include "flag_change.hpp"
#include "maildir_folder.hpp"
#include "maildir_folder_transaction.hpp"
#include "maildir_format.hpp"
#include "mailstore/store_metrics.hpp"
#include "temporary_failure.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;

struct MaildirFolder::PendingAppend {
  // Given by the append.
  fs::path tmp;       // the message, written and fsync'ed
  fs::path metadata;  // its metadata file in tmp/, or empty
  std::string base;
  Flags flags = 0;
  std::vector<std::string> keywords;
  std::uint64_t size = 0;
  std::int64_t date = 0;
  std::int64_t saved = 0;
  // Set by the commit.
  std::uint32_t uid = 0;
  std::exception_ptr error;
  bool done = false;  // guarded by commit_mutex_
};

std::uint32_t MaildirFolder::append(std::string_view rfc822, Flags flags, std::span<const std::string> keywords,
                                    std::optional<std::int64_t> internal_date) try {
  validate_keywords(keywords);
  {
    std::lock_guard lock(mutex_);
    require_live();
  }
  const QuotaCharge charge = quota_charge(rfc822);
  const QuotaCounter::Reservation room(*quota_, charge);
  PendingAppend mine;
  mine.base = unique_base(rfc822.size(), charge.seconds);
  mine.flags = flags;
  mine.keywords = unique_keywords(keywords);
  mine.size = rfc822.size();
  mine.saved = static_cast<std::int64_t>(std::time(nullptr));
  mine.date = internal_date.value_or(mine.saved);
  mine.tmp = dir_ / "tmp" / mine.base;
  write_message_file(mine.tmp, rfc822, mine.date);  // outside every lock
  mine.metadata = write_pending_metadata(mine.base, compute_metadata(rfc822));
  commit_with_others(mine);
  if (mine.error) {
    ::unlink(mine.tmp.c_str());
    if (!mine.metadata.empty()) ::unlink(mine.metadata.c_str());
    std::rethrow_exception(mine.error);
  }
  store_metrics().appends.add();
  store_metrics().append_bytes.add(rfc822.size());
  // Each append tells its own listeners, after its commit is over: one that
  // appends to this folder in turn must not wait for the commit it is in.
  notify();
  queue_text_update({&mine.uid, 1}, {});
  return mine.uid;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

void MaildirFolder::commit_with_others(PendingAppend& mine) {
  std::unique_lock lock(commit_mutex_);
  commit_queue_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      commit_done_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<PendingAppend*> batch;
    batch.swap(commit_queue_);
    lock.unlock();
    commit_batch(batch);
    lock.lock();
    for (PendingAppend* p : batch) p->done = true;
    committing_ = false;
    commit_done_.notify_all();
  }
}

// Never throws: a failure is every append's in the batch (none of them is
// in the folder then), and each one's caller hears it.
void MaildirFolder::commit_batch(std::span<PendingAppend* const> batch) {
  bool logged = false;  // from here on the messages are in the folder
  try {
    {
      Transaction write(*this);
      require_live();
      if (batch.size() > UINT32_MAX - mirror_.uid_next) throw IoError("no UIDs left in folder", dir_, EOVERFLOW);
      std::vector<fs::path> placed;
      std::vector<std::uint64_t> modseqs;
      try {
        for (const PendingAppend* p : batch) {
          fs::path file = dir_ / "cur" / file_name(p->base, p->flags);
          rename_or_throw(p->tmp, file);
          placed.push_back(std::move(file));
        }
        fsync_directory(dir_ / "cur");
        std::string records;
        std::uint32_t uid = mirror_.uid_next;
        for (PendingAppend* p : batch) {
          p->uid = uid++;
          modseqs.push_back(next_modseq());
          records += added_line(p->uid, p->size, p->date, p->flags, modseqs.back(), p->base) +
                     save_date_line(p->uid, p->saved);
          if (!p->keywords.empty()) records += keyword_line(p->uid, p->keywords);
        }
        write_log(records);
        logged = true;
      } catch (...) {
        // The callers hear "not stored", so none of them may turn up later.
        for (const fs::path& file : placed) ::unlink(file.c_str());
        throw;
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        PendingAppend& p = *batch[i];
        add_entry(Entry{p.uid, p.base, placed[i].filename().string(), p.size, p.date, p.flags, p.keywords, modseqs[i],
                        p.saved});
        keep_pending_metadata(p.metadata, p.base);
      }
      changed();
    }
  } catch (...) {
    // Stored, and only the bookkeeping after it failed: the next
    // transaction reads the folder from the disk again.
    if (logged) return;
    const std::exception_ptr error = std::current_exception();
    for (PendingAppend* p : batch) p->error = error;
  }
}

}  // namespace umstore::mailstore::detail
