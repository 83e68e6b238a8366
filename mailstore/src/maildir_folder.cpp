#include "maildir_folder.hpp"
#include "common/ascii.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "maildir_format.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxKeywordLength = 128;
constexpr std::size_t kMaxKeywordsPerMessage = 64;
constexpr std::size_t kCopyBatch = 256;  // open descriptors per batch of copy_to

bool has_keyword(std::span<const std::string> list, std::string_view keyword) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& k) { return ascii_iequals(k, keyword); });
}

// IMAP atoms (RFC 3501 flag-keyword): no specials, no backslash.
void validate_keywords(std::span<const std::string> keywords) {
  if (keywords.size() > kMaxKeywordsPerMessage)
    throw InvalidKeyword("a message can carry at most " + std::to_string(kMaxKeywordsPerMessage) + " keywords");
  for (const auto& keyword : keywords) {
    if (keyword.empty() || keyword.size() > kMaxKeywordLength)
      throw InvalidKeyword("keywords must be 1 to " + std::to_string(kMaxKeywordLength) + " characters long");
    for (const char c : keyword) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7F || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos)
        throw InvalidKeyword("\"" + keyword + "\" is not a valid keyword: use letters, digits and $ only, e.g. $Forwarded");
    }
  }
}

std::vector<std::string> unique_keywords(std::span<const std::string> keywords) {
  std::vector<std::string> out;
  for (const auto& k : keywords)
    if (!has_keyword(out, k)) out.push_back(k);
  return out;
}

// A message's flags and keywords after a STORE-like change.
std::pair<Flags, std::vector<std::string>> changed_flags(Flags old_flags, const std::vector<std::string>& old_keywords,
                                                         FlagChange how, Flags flags,
                                                         std::span<const std::string> keywords) {
  switch (how) {
    case FlagChange::Add: {
      std::vector<std::string> out = old_keywords;
      for (const auto& k : keywords)
        if (!has_keyword(out, k)) out.push_back(k);
      if (out.size() > kMaxKeywordsPerMessage)
        throw InvalidKeyword("a message can carry at most " + std::to_string(kMaxKeywordsPerMessage) + " keywords");
      return {static_cast<Flags>(old_flags | flags), std::move(out)};
    }
    case FlagChange::Remove: {
      std::vector<std::string> out = old_keywords;
      std::erase_if(out, [&](const std::string& k) { return has_keyword(keywords, k); });
      return {static_cast<Flags>(old_flags & ~flags), std::move(out)};
    }
    case FlagChange::Replace:
      break;
  }
  return {flags, unique_keywords(keywords)};
}

// Large messages (voicemail and fax with their playable forms) are written
// once and read later, if at all (drop_cached_pages).
constexpr std::size_t kUncachedMessageBytes = 256 * 1024;

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

void copy_message_file(int from_fd, const fs::path& to, std::int64_t internal_date) {
  UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw IoError("cannot create message file", to, errno);
  try {
    char buffer[65536];
    off_t offset = 0;
    while (true) {
      const ssize_t n = ::pread(from_fd, buffer, sizeof buffer, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw IoError("cannot read message to copy it to", to, errno);
      if (n == 0) break;
      write_all(fd.get(), std::string_view(buffer, static_cast<std::size_t>(n)), to);
      offset += n;
    }
    const timespec times[2] = {{static_cast<time_t>(internal_date), 0}, {static_cast<time_t>(internal_date), 0}};
    ::futimens(fd.get(), times);
    fsync_fd(fd.get(), to);
  } catch (...) {
    ::unlink(to.c_str());
    throw;
  }
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) throw IoError("cannot move message to", to, errno);
}


}  // namespace

// --- QuotaCounter, special use ---------------------------------------------

QuotaCounter::Reservation::Reservation(QuotaCounter& quota, std::uint64_t bytes) : quota_(quota), bytes_(bytes) {
  std::lock_guard lock(quota.mutex_);
  const std::uint64_t limit = quota.limit_bytes.load();
  const auto used = static_cast<std::uint64_t>(std::max<std::int64_t>(0, quota.bytes.load()));
  if (limit != 0 && used + quota.reserved_ + bytes > limit)
    throw QuotaExceeded("the mailbox of " + quota.number + " is full (" + std::to_string(used) + " of " +
                        std::to_string(limit) + " bytes used, " + std::to_string(bytes) +
                        " more needed); delete messages or ask the administrator to raise the quota");
  quota.reserved_ += bytes;
}

QuotaCounter::Reservation::~Reservation() {
  std::lock_guard lock(quota_.mutex_);
  quota_.reserved_ -= bytes_;
}

std::string special_use_to_string(SpecialUse use) {
  switch (use) {
    case SpecialUse::Sent: return "Sent";
    case SpecialUse::Trash: return "Trash";
    case SpecialUse::Drafts: return "Drafts";
    case SpecialUse::Junk: return "Junk";
    case SpecialUse::Archive: return "Archive";
    case SpecialUse::None: break;
  }
  return "";
}

SpecialUse special_use_from_string(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  for (const SpecialUse use : {SpecialUse::Sent, SpecialUse::Trash, SpecialUse::Drafts, SpecialUse::Junk,
                               SpecialUse::Archive})
    if (text == special_use_to_string(use)) return use;
  return SpecialUse::None;
}

// --- listeners ---------------------------------------------------------------

class MaildirFolder::ListenerRegistry {
 public:
  std::uint64_t add(Listener listener) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_id_++;
    listeners_.emplace(id, std::make_shared<Listener>(std::move(listener)));
    return id;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    listeners_.erase(id);
  }
  std::vector<std::shared_ptr<Listener>> all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Listener>> out;
    out.reserve(listeners_.size());
    for (const auto& [id, listener] : listeners_) out.push_back(listener);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Listener>> listeners_;
};

namespace {
// Unregisters on destruction; the weak pointer makes it safe either way
// round with the folder's lifetime.
template <typename Registry>
struct Registration {
  Registration(std::weak_ptr<Registry> r, std::uint64_t i) : registry(std::move(r)), id(i) {}
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  std::weak_ptr<Registry> registry;
  std::uint64_t id;
  ~Registration() {
    if (auto r = registry.lock()) r->remove(id);
  }
};
}  // namespace

Folder::ListenerHandle MaildirFolder::listen(Listener on_change) {
  const std::uint64_t id = listeners_->add(std::move(on_change));
  return std::make_shared<Registration<ListenerRegistry>>(listeners_, id);
}

void MaildirFolder::notify() const {
  for (const auto& listener : listeners_->all()) {
    try {
      (*listener)();
    } catch (const std::exception& e) {
      log(LogLevel::Error, "mailstore", "folder listener failed: {}", e.what());
    }
  }
}

void MaildirFolder::changed() const { ++change_counter_; }

// --- transaction ---------------------------------------------------------------

// Holds the folder mutex and the cross-process flock, with the in-memory
// index brought up to date with the disk; remembers the disk's state when it ends.
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

// --- construction ----------------------------------------------------------------

void MaildirFolder::create_on_disk(const fs::path& dir, SpecialUse use) {
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
    fsync_directory(building);
    // rename() of a directory onto an existing one fails, so two creators
    // cannot both win, and the folder appears complete or not at all.
    if (::rename(building.c_str(), dir.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST || err == ENOTEMPTY) throw FolderExists("the folder already exists");
      throw IoError("cannot create folder", dir, err);
    }
    fsync_directory(dir.parent_path());
  } catch (...) {
    fs::remove_all(building, ignored);
    throw;
  }
}

MaildirFolder::MaildirFolder(fs::path dir, std::string name, std::shared_ptr<QuotaCounter> quota)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      quota_(std::move(quota)),
      listeners_(std::make_shared<ListenerRegistry>()) {
  std::error_code ec;
  if (fs::exists(dir_ / kSpecialUseFile, ec)) special_use_ = special_use_from_string(read_file(dir_ / kSpecialUseFile));
  for (const char* sub : {"tmp", "new", "cur"}) create_directories_durably(dir_ / sub);  // hand-made folders
  remove_stale_temporary_files();
  Transaction load(*this);
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
  if (!retired_) adjust_quota(-static_cast<std::int64_t>(total_size_), -static_cast<std::int64_t>(entries_.size()));
}

void MaildirFolder::sync_if_changed() const {
  const Stamps now = current_stamps();
  {
    std::lock_guard lock(mutex_);
    if (retired_) return;
    if (now.log == stamps_.log && !new_scan_due(now) && !cur_scan_due(now)) return;
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
  return retired_;
}

void MaildirFolder::require_live() const {
  if (retired_) throw FolderNotFound("the folder \"" + name_ + "\" was deleted or renamed");
}

MessageInfo MaildirFolder::info(const Entry& e) const {
  return MessageInfo{e.uid, e.flags, e.keywords, e.size, e.date, e.modseq};
}

std::uint32_t MaildirFolder::uid_validity() const {
  std::lock_guard lock(mutex_);
  return uid_validity_;
}

std::vector<MessageInfo> MaildirFolder::snapshot() const {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  std::vector<MessageInfo> out;
  out.reserve(entries_.size());
  for (const auto& [uid, e] : entries_) out.push_back(info(e));
  return out;
}

FolderStatus MaildirFolder::status() const {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  FolderStatus s;
  s.messages = static_cast<std::uint32_t>(entries_.size());
  for (const auto& [uid, e] : entries_) {
    if (!(e.flags & kSeen)) ++s.unseen;
    if (e.flags & kDeleted) ++s.deleted;
  }
  s.recent = static_cast<std::uint32_t>(
      std::distance(entries_.lower_bound(first_recent_uid_), entries_.end()));
  s.highest_modseq = highest_modseq_;
  s.uid_next = uid_next_;
  s.uid_validity = uid_validity_;
  s.size = total_size_;
  return s;
}

MessageDataPtr MaildirFolder::open_message(std::uint32_t uid) const {
  const auto path_of = [&]() -> std::optional<fs::path> {
    const auto it = entries_.find(uid);
    if (it == entries_.end()) return std::nullopt;
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
}

// --- changes -----------------------------------------------------------------------

std::uint32_t MaildirFolder::append(std::string_view rfc822, Flags flags, std::span<const std::string> keywords,
                                    std::optional<std::int64_t> internal_date) {
  validate_keywords(keywords);
  const std::vector<std::string> unique = unique_keywords(keywords);
  {
    std::lock_guard lock(mutex_);
    require_live();
  }
  const QuotaCounter::Reservation room(*quota_, rfc822.size());
  const std::string base = unique_base(rfc822.size());
  const std::int64_t date = internal_date.value_or(static_cast<std::int64_t>(std::time(nullptr)));
  const fs::path tmp = dir_ / "tmp" / base;
  write_message_file(tmp, rfc822, date);  // the slow part, outside every lock

  std::uint32_t uid = 0;
  std::uint64_t modseq = 0;
  try {
    Transaction write(*this);
    require_live();
    if (uid_next_ == UINT32_MAX) throw IoError("no UIDs left in folder", dir_, EOVERFLOW);
    const fs::path file = dir_ / "cur" / file_name(base, flags);
    rename_or_throw(tmp, file);
    try {
      fsync_directory(dir_ / "cur");
      uid = uid_next_;
      modseq = next_modseq();
      std::string records = added_line(uid, rfc822.size(), date, flags, modseq, base);
      if (!unique.empty()) records += keyword_line(uid, unique);
      write_log(records);
    } catch (...) {
      // The caller hears "not stored", so it must not turn up later.
      ::unlink(file.c_str());
      throw;
    }
    add_entry(Entry{uid, base, file.filename().string(), rfc822.size(), date, flags, unique, modseq});
    changed();
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  notify();
  return uid;
}

std::vector<MessageInfo> MaildirFolder::change_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                                     std::span<const std::string> keywords) {
  return store_flags(uids, how, flags, keywords, std::nullopt, nullptr);
}

std::vector<MessageInfo> MaildirFolder::change_flags_unchanged_since(std::span<const std::uint32_t> uids,
                                                                     FlagChange how, Flags flags,
                                                                     std::span<const std::string> keywords,
                                                                     std::uint64_t unchanged_since,
                                                                     std::vector<std::uint32_t>& modified) {
  return store_flags(uids, how, flags, keywords, unchanged_since, &modified);
}

std::vector<MessageInfo> MaildirFolder::store_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                                    std::span<const std::string> keywords,
                                                    std::optional<std::uint64_t> unchanged_since,
                                                    std::vector<std::uint32_t>* modified) {
  validate_keywords(keywords);
  std::vector<MessageInfo> result;
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
      if (!result.empty() || write.changed()) changed();
    };
    try {
      for (const std::uint32_t uid : uids) {
        const auto it = entries_.find(uid);
        if (it == entries_.end()) continue;
        Entry& e = it->second;
        if (unchanged_since && e.modseq > *unchanged_since) {
          modified->push_back(uid);
          continue;
        }
        const auto [new_flags, new_keywords] = changed_flags(e.flags, e.keywords, how, flags, keywords);
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
          e.flags = new_flags;
        }
        if (keywords_changed) {
          e.keywords = new_keywords;
          records += keyword_line(uid, e.keywords);
        }
        e.modseq = modseq;
        records += flags_line(uid, e.flags, modseq);
        result.push_back(info(e));
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

std::vector<std::uint32_t> MaildirFolder::expunge(std::optional<std::span<const std::uint32_t>> only_uids) {
  std::vector<std::uint32_t> chosen;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [uid, e] : entries_)
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
      const auto it = entries_.find(uid);
      if (it == entries_.end() || !(it->second.flags & kDeleted)) continue;  // changed meanwhile
      const fs::path path = dir_ / "cur" / it->second.file;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw IoError("cannot remove message file", path, errno);
      removed.push_back(uid);
    }
    if (!removed.empty()) fsync_directory(dir_ / "cur");
    // Files go first, then the record: a crash in between leaves records
    // whose files are gone, which the next scan drops; never a resurrection.
    const std::string modseq = removed.empty() ? "" : std::to_string(next_modseq());
    for (const std::uint32_t uid : removed) {
      erase_entry(uid);
      records += "-" + std::to_string(uid) + " " + modseq + "\n";
    }
    write_log(records);
    if (!removed.empty() || write.changed()) changed();
  }
  notify();
  return removed;
}

void MaildirFolder::remove_messages(std::span<const std::uint32_t> uids) {
  {
    Transaction write(*this);
    std::string records;
    for (const std::uint32_t uid : uids) {
      const auto it = entries_.find(uid);
      if (it == entries_.end()) continue;
      const fs::path path = dir_ / "cur" / it->second.file;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw IoError("cannot remove message file", path, errno);
      records += "-" + std::to_string(uid) + " " + std::to_string(next_modseq()) + "\n";
    }
    fsync_directory(dir_ / "cur");
    for (const std::uint32_t uid : uids) erase_entry(uid);
    write_log(records);
    changed();
  }
  notify();
}

std::vector<MessageSource> MaildirFolder::sources(std::span<const std::uint32_t> uids) const {
  Transaction read(*this);
  std::vector<MessageSource> out;
  for (const std::uint32_t uid : uids) {
    const auto it = entries_.find(uid);
    if (it == entries_.end()) continue;
    const Entry& e = it->second;
    const fs::path path = dir_ / "cur" / e.file;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;  // vanished; not copied
    out.push_back(MessageSource{uid, std::move(fd), e.flags, e.keywords, e.size, e.date});
  }
  return out;
}

std::vector<std::uint32_t> MaildirFolder::add_copies(std::span<const MessageSource> sources) {
  // Prepare in tmp/ outside the locks: a hard link shares the (immutable)
  // bytes; across file systems, or where links are refused, copy them.
  std::vector<std::string> bases;
  try {
    for (const auto& s : sources) {
      std::string base = unique_base(s.size);
      const fs::path tmp = dir_ / "tmp" / base;
      const std::string proc = "/proc/self/fd/" + std::to_string(s.fd.get());
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0)
        copy_message_file(s.fd.get(), tmp, s.internal_date);
      bases.push_back(std::move(base));
    }
  } catch (...) {
    for (const auto& base : bases) ::unlink((dir_ / "tmp" / base).c_str());
    throw;
  }

  std::vector<std::uint32_t> uids;
  try {
    Transaction write(*this);
    require_live();
    if (uid_next_ > UINT32_MAX - sources.size()) throw IoError("no UIDs left in folder", dir_, EOVERFLOW);
    std::vector<std::string> names;
    std::uint64_t modseq = 0;
    try {
      for (std::size_t i = 0; i < sources.size(); ++i) {
        const std::string name = file_name(bases[i], sources[i].flags);
        rename_or_throw(dir_ / "tmp" / bases[i], dir_ / "cur" / name);
        names.push_back(name);
      }
      fsync_directory(dir_ / "cur");
      std::string records;
      modseq = next_modseq();
      for (std::size_t i = 0; i < sources.size(); ++i) {
        const MessageSource& s = sources[i];
        const auto uid = static_cast<std::uint32_t>(uid_next_ + i);
        records += added_line(uid, s.size, s.internal_date, s.flags, modseq, bases[i]);
        if (!s.keywords.empty()) records += keyword_line(uid, s.keywords);
      }
      write_log(records);
    } catch (...) {
      for (const auto& name : names) ::unlink((dir_ / "cur" / name).c_str());  // reported as not copied
      throw;
    }
    const std::uint32_t first_uid = uid_next_;
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const MessageSource& s = sources[i];
      const auto uid = static_cast<std::uint32_t>(first_uid + i);
      add_entry(Entry{uid, bases[i], names[i], s.size, s.internal_date, s.flags, s.keywords, modseq});
      uids.push_back(uid);
    }
    changed();
  } catch (...) {
    for (const auto& base : bases) ::unlink((dir_ / "tmp" / base).c_str());
    throw;
  }
  notify();
  return uids;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> MaildirFolder::copy_to(Folder& target,
                                                                           std::span<const std::uint32_t> uids) {
  auto* maildir_target = dynamic_cast<MaildirFolder*>(&target);
  if (maildir_target == nullptr) throw std::invalid_argument("copy_to: the target folder is not in this Maildir store");
  std::uint64_t bytes = 0;
  {
    std::lock_guard lock(mutex_);
    require_live();
    for (const std::uint32_t uid : uids)
      if (const auto it = entries_.find(uid); it != entries_.end()) bytes += it->second.size;
  }
  const QuotaCounter::Reservation room(*maildir_target->quota_, bytes);  // the whole copy must fit
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  for (std::size_t start = 0; start < uids.size(); start += kCopyBatch) {
    const auto batch = uids.subspan(start, std::min(kCopyBatch, uids.size() - start));
    const std::vector<MessageSource> batch_sources = sources(batch);
    const std::vector<std::uint32_t> new_uids = maildir_target->add_copies(batch_sources);
    for (std::size_t i = 0; i < new_uids.size(); ++i) pairs.emplace_back(batch_sources[i].source_uid, new_uids[i]);
  }
  return pairs;
}

std::uint32_t MaildirFolder::first_recent_uid() const {
  sync_if_changed();
  std::lock_guard lock(mutex_);
  return first_recent_uid_;
}

std::uint32_t MaildirFolder::claim_recent(std::uint32_t up_to_uid) {
  if (first_recent_uid() >= up_to_uid) return up_to_uid;  // nothing to claim: no lock, no write
  Transaction write(*this);
  require_live();
  const std::uint32_t first = first_recent_uid_;
  if (first >= up_to_uid) return up_to_uid;
  // Lazy like flag changes: a crash may make these recent once more.
  write_log("R" + std::to_string(up_to_uid) + "\n", LogSync::Lazy);
  first_recent_uid_ = up_to_uid;
  return first;
}

void MaildirFolder::retire() const {
  {
    std::lock_guard lock(mutex_);
    if (retired_) return;
    retired_ = true;
    adjust_quota(-static_cast<std::int64_t>(total_size_), -static_cast<std::int64_t>(entries_.size()));
    entries_.clear();
    uid_by_base_.clear();
    total_size_ = 0;
    changed();
  }
  notify();
}

}  // namespace umstore::mailstore::detail
