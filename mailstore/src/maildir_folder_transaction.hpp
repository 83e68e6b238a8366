#pragma once
// MaildirFolder::Transaction (internal to the Maildir backend): the folder
// mutex and the cross-process flock, with the in-memory mirror brought up
// to date with the disk; remembers the disk's state when it ends.
#include <exception>
#include <mutex>
#include <optional>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "maildir_folder.hpp"
#include "maildir_format.hpp"

namespace umstore::mailstore::detail {

class MaildirFolder::Transaction {
 public:
  explicit Transaction(const MaildirFolder& folder)
      : folder_(folder), lock_(folder.mutex_) {
    folder.require_live();
    try {
      file_lock_.emplace(folder.dir_ / kLockFile);
    } catch (const IoError& e) {
      if (e.error_code() == ENOENT)
        throw FolderNotFound("the folder \"" + folder.name_ + "\" was deleted by another process");
      throw;
    }
    changed_ = folder.catch_up_log();
    changed_ = folder.scan_directories() || changed_;
  }
  ~Transaction() {
    // After a failure half-way the index may disagree with the disk: the
    // next transaction rebuilds it from the log and a full scan.
    if (std::uncaught_exceptions() > exceptions_at_start_) {
      folder_.forget_disk_state();
      return;
    }
    try {
      folder_.compact_log_if_needed();  // here, when the index holds every change made
      folder_.remember_stamps();
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "mailstore", "cannot compact UID list in {}: {}", folder_.dir_.string(), e.what());
      folder_.forget_disk_state();
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // True when the disk held changes this process had not seen.
  bool changed() const noexcept { return changed_; }

 private:
  const MaildirFolder& folder_;
  std::lock_guard<std::mutex> lock_;
  std::optional<FileLock> file_lock_;
  bool changed_ = false;
  const int exceptions_at_start_ = std::uncaught_exceptions();
};

}  // namespace umstore::mailstore::detail
