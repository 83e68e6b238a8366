#include "maildir_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "flag_change.hpp"
#include "maildir_folder_transaction.hpp"
#include "maildir_format.hpp"
#include "mailstore/store_metrics.hpp"
#include "special_use.hpp"
#include "temporary_failure.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

// Large messages (voicemail and fax with their playable forms) are written
// once and read later, if at all (drop_cached_pages).
constexpr std::size_t kUncachedMessageBytes = 256 * 1024;

}  // namespace

void write_message_file(const fs::path& path, std::string_view bytes, std::int64_t internal_date) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw IoError("cannot create message file", path, errno);
  try {
    write_all(fd.get(), bytes, path);
    const timespec times[2] = {{static_cast<time_t>(internal_date), 0}, {static_cast<time_t>(internal_date), 0}};
    ::futimens(fd.get(), times);  // the received date other Maildir tools show; not worth failing over
    fsync_fd(fd.get(), path);
    if (bytes.size() >= kUncachedMessageBytes) drop_cached_pages(fd.get());
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) throw IoError("cannot move message to", to, errno);
}

// --- listeners ---------------------------------------------------------------

Folder::ListenerHandle MaildirFolder::listen(Listener on_change) {
  ListenerHandle registration = listeners_->add(std::move(on_change));
  const auto events = events_.lock();
  FolderWatcher::Handle watch = events ? events->watch(shared_from_this()) : nullptr;
  watched_.store(watch != nullptr, std::memory_order_relaxed);
  if (!watch) return registration;
  // Watched (other processes' changes) while the listener is registered.
  return std::make_shared<std::pair<ListenerHandle, FolderWatcher::Handle>>(std::move(registration), std::move(watch));
}

void MaildirFolder::notify() const { listeners_->notify(); }

void MaildirFolder::changed() const { ++mirror_.change_counter; }

// --- construction ----------------------------------------------------------------

bool MaildirFolder::create_on_disk(const fs::path& dir, SpecialUse use) {
  static std::atomic<unsigned> counter{0};
  const fs::path building = dir.parent_path() / (".creating." + dir.filename().string() + "." +
                                                 std::to_string(::getpid()) + "." + std::to_string(counter++));
  std::error_code ignored;
  try {
    // Nothing is visible before the rename, so one fsync per directory at
    // the end is enough (folder creation is on the path of a user's first login).
    if (::mkdir(building.c_str(), 0700) != 0) throw IoError("cannot create directory", building, errno);
    for (const char* sub : {"tmp", "new", "cur"})
      if (::mkdir((building / sub).c_str(), 0700) != 0) throw IoError("cannot create directory", building / sub, errno);
    write_message_file(building / kLogFile, log_header(new_uid_validity(), 1, 1, 1), std::time(nullptr));
    if (use != SpecialUse::None)
      write_message_file(building / kSpecialUseFile, special_use_to_string(use) + "\n", std::time(nullptr));
    write_message_file(building / kFolderIdFile, new_folder_id() + "\n", std::time(nullptr));
    fsync_directory(building);
    // rename() of a directory onto an existing one fails, so two creators
    // cannot both win, and the folder appears complete or not at all.
    if (::rename(building.c_str(), dir.c_str()) != 0) {
      const int err = errno;
      if (err != EEXIST && err != ENOTEMPTY) throw IoError("cannot create folder", dir, err);
      fs::remove_all(building, ignored);
      return false;
    }
    fsync_directory(dir.parent_path());
  } catch (...) {
    fs::remove_all(building, ignored);
    throw;
  }
  return true;
}

MaildirFolder::MaildirFolder(fs::path dir, std::string name, std::shared_ptr<QuotaCounter> quota,
                             std::weak_ptr<FolderEvents> events, std::weak_ptr<TextIndexer> indexer)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      quota_(std::move(quota)),
      listeners_(std::make_shared<ListenerRegistry>()),
      events_(std::move(events)),
      text_index_(indexer.expired() ? fs::path() : dir_ / TextIndex::kDirectory),
      indexer_(std::move(indexer)) {
  std::error_code ec;
  if (fs::exists(dir_ / kSpecialUseFile, ec)) special_use_ = special_use_from_string(read_file(dir_ / kSpecialUseFile));
  for (const char* sub : {"tmp", "new", "cur"}) create_directories_durably(dir_ / sub);  // hand-made folders
  remove_stale_temporary_files();
  Transaction load(*this);
  id_ = read_or_create_id();
}

std::string MaildirFolder::read_or_create_id() const {
  const fs::path path = dir_ / kFolderIdFile;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::string id = read_file(path);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    if (!id.empty()) return id;
  }
  std::string id = new_folder_id();
  replace_file_durably(path, id + "\n");
  return id;
}

void MaildirFolder::remove_stale_temporary_files() const {
  // Left by a crash between writing a message and moving it into cur/. The
  // Maildir spec's 36 hours; ctime because an append sets mtime to its
  // internal date, which may be old.
  const auto stale_before = std::time(nullptr) - 36 * 3600;
  for (const auto& name : list_directory(dir_ / "tmp")) {
    const fs::path path = dir_ / "tmp" / name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ctim.tv_sec < stale_before)
      ::unlink(path.c_str());
  }
}

MaildirFolder::~MaildirFolder() {
  std::lock_guard lock(mutex_);
  if (!mirror_.retired) uncount_all();
}

void MaildirFolder::refresh() try {
  sync_if_changed();
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

void MaildirFolder::sync_if_changed() const {
  const Stamps now = current_stamps();
  {
    std::lock_guard lock(mutex_);
    if (mirror_.retired) return;
    if (now.log == mirror_.stamps.log && !new_scan_due(now) && !cur_scan_due(now)) return;
  }
  bool changed = false;
  try {
    Transaction sync(*this);
    changed = sync.changed();
    if (changed) this->changed();
  } catch (const FolderNotFound&) {
    retire();  // readers see it empty, as after a local delete
    return;
  }
  if (changed) notify();
}

// --- reading ---------------------------------------------------------------------

bool MaildirFolder::retired() const {
  std::lock_guard lock(mutex_);
  return mirror_.retired;
}

void MaildirFolder::require_live() const {
  if (mirror_.retired) throw FolderNotFound("the folder \"" + name_ + "\" was deleted or renamed");
}

MessageInfo MaildirFolder::info(const Entry& e) const {
  return MessageInfo{e.uid, e.flags, e.keywords, e.size, e.date, e.modseq, e.saved != 0 ? e.saved : e.date};
}

std::uint32_t MaildirFolder::uid_validity() const {
  std::lock_guard lock(mutex_);
  return mirror_.uid_validity;
}

std::vector<MessageInfo> MaildirFolder::snapshot() const try {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  std::vector<MessageInfo> out;
  out.reserve(mirror_.entries.size());
  for (const auto& [uid, e] : mirror_.entries) out.push_back(info(e));
  return out;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

FolderChanges MaildirFolder::changes_since(std::uint64_t modseq) const try {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  FolderChanges changes;
  changes.highest_modseq = mirror_.highest_modseq;
  std::vector<std::uint32_t> uids;
  for (auto it = mirror_.by_modseq.upper_bound({modseq, UINT32_MAX}); it != mirror_.by_modseq.end(); ++it)
    uids.push_back(it->second);
  std::sort(uids.begin(), uids.end());
  for (const std::uint32_t uid : uids) changes.changed.push_back(info(mirror_.entries.at(uid)));
  for (const auto& [uid, removed_at] : mirror_.expunged)
    if (removed_at > modseq) changes.expunged.push_back(uid);
  changes.expunged_complete = modseq >= mirror_.expunges_known_since;
  return changes;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

FolderStatus MaildirFolder::status() const try {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  FolderStatus s;
  s.messages = static_cast<std::uint32_t>(mirror_.entries.size());
  s.unseen = mirror_.unseen;
  s.deleted = mirror_.deleted;
  s.recent = static_cast<std::uint32_t>(
      std::distance(mirror_.entries.lower_bound(mirror_.first_recent_uid), mirror_.entries.end()));
  s.highest_modseq = mirror_.highest_modseq;
  s.uid_next = mirror_.uid_next;
  s.uid_validity = mirror_.uid_validity;
  s.size = mirror_.total_size;
  return s;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

MessageDataPtr MaildirFolder::open_message(std::uint32_t uid) const try {
  const auto path_of = [&]() -> std::optional<fs::path> {
    const auto it = mirror_.entries.find(uid);
    if (it == mirror_.entries.end()) return std::nullopt;
    return dir_ / "cur" / it->second.file;
  };
  std::optional<fs::path> path;
  {
    std::lock_guard lock(mutex_);
    path = path_of();
  }
  if (!path) return nullptr;
  if (auto data = map_message_file(*path)) return data;
  // Renamed meanwhile (flags changed by another process or tool): look again.
  bool changed = false;
  {
    Transaction sync(*this);
    changed = sync.changed();
    if (changed) this->changed();
    path = path_of();
  }
  if (changed) notify();
  return path ? map_message_file(*path) : nullptr;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

// --- changes -----------------------------------------------------------------------

std::vector<MessageInfo> MaildirFolder::change_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                                     std::span<const std::string> keywords) try {
  return store_flags(uids, how, flags, keywords, std::nullopt).changed;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

ConditionalFlagChange MaildirFolder::change_flags_unchanged_since(std::span<const std::uint32_t> uids, FlagChange how,
                                                                  Flags flags, std::span<const std::string> keywords,
                                                                  std::uint64_t unchanged_since) try {
  return store_flags(uids, how, flags, keywords, unchanged_since);
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

ConditionalFlagChange MaildirFolder::store_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                                 std::span<const std::string> keywords,
                                                 std::optional<std::uint64_t> unchanged_since) {
  validate_keywords(keywords);
  ConditionalFlagChange result;
  {
    Transaction write(*this);
    require_live();
    std::string records;
    std::uint64_t modseq = 0;  // one per call: RFC 7162 asks for one per STORE
    // Whatever was renamed before a failure is logged all the same. Neither
    // the renames nor the records are fsync'ed: a lost flag change is
    // acceptable after a crash (see maildir_folder.hpp), and waiting for the
    // disk on every STORE held an I/O thread and the folder lock meanwhile.
    const auto flush = [&] {
      write_log(records, LogSync::Lazy);
      if (!result.changed.empty() || write.changed()) changed();
    };
    try {
      for (const std::uint32_t uid : uids) {
        const auto it = mirror_.entries.find(uid);
        if (it == mirror_.entries.end()) continue;
        Entry& e = it->second;
        if (unchanged_since && e.modseq > *unchanged_since) {
          result.modified.push_back(uid);
          continue;
        }
        auto [new_flags, new_keywords] = changed_flags(e.flags, e.keywords, how, flags, keywords);
        const bool flags_changed = new_flags != e.flags;
        const bool keywords_changed = new_keywords != e.keywords;
        if (!flags_changed && !keywords_changed) continue;
        if (modseq == 0) modseq = next_modseq();
        if (flags_changed) {
          const std::string name = file_name(e.base, new_flags);
          if (::rename((dir_ / "cur" / e.file).c_str(), (dir_ / "cur" / name).c_str()) != 0) {
            if (errno == ENOENT) continue;  // removed by another tool; the next scan notices
            throw IoError("cannot change flags of message file", dir_ / "cur" / e.file, errno);
          }
          e.file = name;
          set_flags(e, new_flags);
        }
        if (keywords_changed) {
          e.keywords = new_keywords;
          records += keyword_line(uid, e.keywords);
        }
        set_modseq(e, modseq);
        records += flags_line(uid, e.flags, modseq);
        result.changed.push_back(info(e));
      }
    } catch (...) {
      flush();
      throw;
    }
    flush();
  }
  notify();
  return result;
}

std::vector<std::uint32_t> MaildirFolder::expunge(std::optional<std::span<const std::uint32_t>> only_uids) try {
  std::vector<std::uint32_t> chosen;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [uid, e] : mirror_.entries)
      if (e.flags & kDeleted) chosen.push_back(uid);
  }
  if (only_uids) {
    std::vector<std::uint32_t> allowed(only_uids->begin(), only_uids->end());
    std::sort(allowed.begin(), allowed.end());
    std::erase_if(chosen, [&](std::uint32_t uid) { return !std::binary_search(allowed.begin(), allowed.end(), uid); });
  }
  std::vector<std::uint32_t> removed;
  {
    Transaction write(*this);
    require_live();
    std::string records;
    for (const std::uint32_t uid : chosen) {
      const auto it = mirror_.entries.find(uid);
      if (it == mirror_.entries.end() || !(it->second.flags & kDeleted)) continue;  // changed meanwhile
      const fs::path path = dir_ / "cur" / it->second.file;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw IoError("cannot remove message file", path, errno);
      removed.push_back(uid);
    }
    if (!removed.empty()) fsync_directory(dir_ / "cur");
    // Files go first, then the record: a crash in between leaves records
    // whose files are gone, which the next scan drops; never a resurrection.
    const std::uint64_t modseq = removed.empty() ? 0 : next_modseq();
    for (const std::uint32_t uid : removed) {
      erase_entry(uid, modseq);
      records += "-" + std::to_string(uid) + " " + std::to_string(modseq) + "\n";
    }
    write_log(records);
    if (!removed.empty() || write.changed()) changed();
  }
  notify();
  queue_text_update({}, removed);
  return removed;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

std::uint32_t MaildirFolder::first_recent_uid() const try {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  return mirror_.first_recent_uid;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

std::uint32_t MaildirFolder::claim_recent(std::uint32_t up_to_uid) try {
  if (first_recent_uid() >= up_to_uid) return up_to_uid;  // nothing to claim: no lock, no write
  Transaction write(*this);
  require_live();
  const std::uint32_t first = mirror_.first_recent_uid;
  if (first >= up_to_uid) return up_to_uid;
  // Lazy like flag changes: a crash may make these recent once more.
  write_log("R" + std::to_string(up_to_uid) + "\n", LogSync::Lazy);
  mirror_.first_recent_uid = up_to_uid;
  return first;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

// --- full-text index ------------------------------------------------------------
// Always outside the folder's lock: the index's own lock comes first when a
// search reads messages it lacks.

void MaildirFolder::queue_text_update(std::span<const std::uint32_t> added,
                                      std::span<const std::uint32_t> removed) const {
  const auto self = weak_from_this().lock();  // none while the folder is being built
  if (const auto indexer = indexer_.lock(); indexer && self) indexer->queue(self, added, removed);
}

void MaildirFolder::update_text_index(std::span<const std::uint32_t> added,
                                      std::span<const std::uint32_t> removed) const {
  text_index_.update(uid_validity(), added, removed, [this](std::uint32_t uid) { return open_message(uid); });
}

std::optional<TextCandidates> MaildirFolder::text_candidates(std::string_view needle,
                                                             std::span<const std::uint32_t> uids) const {
  return text_index_.candidates(needle, uid_validity(), uids, [this](std::uint32_t uid) { return open_message(uid); });
}

std::size_t MaildirFolder::rebuild_text_index() {
  std::vector<std::uint32_t> uids;
  for (const MessageInfo& m : snapshot()) uids.push_back(m.uid);
  return text_index_.rebuild(uid_validity(), uids, [this](std::uint32_t uid) { return open_message(uid); });
}

void MaildirFolder::retire() const {
  {
    std::lock_guard lock(mutex_);
    if (mirror_.retired) return;
    mirror_.retired = true;
    uncount_all();
    clear_entries();
    changed();
  }
  notify();
}

}  // namespace umstore::mailstore::detail
