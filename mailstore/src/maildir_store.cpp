#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

#include "common/durable_file.hpp"
#include "common/e164.hpp"
#include "common/log.hpp"
#include "mailstore/folder_name.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/store_metrics.hpp"
#include "maildir_folder.hpp"
#include "temporary_failure.hpp"

namespace umstore::mailstore {
namespace fs = std::filesystem;
namespace {

using detail::MaildirFolder;
using detail::QuotaCounter;
using detail::throw_temporary_failure;

constexpr const char* kSubscriptionsFile = ".subscriptions";
constexpr const char* kQuotaLimitFile = ".quota-limit";
constexpr const char* kLockFile = ".lock";

std::string in_quotes(std::string_view name) { return "\"" + std::string(name) + "\""; }

bool is_inferior(std::string_view name, std::string_view parent) {
  return name.size() > parent.size() + 1 && name.substr(0, parent.size()) == parent && name[parent.size()] == '/';
}

// "a/b/c" -> {"a", "a/b"}
std::vector<std::string> parents_of(std::string_view name) {
  std::vector<std::string> out;
  for (std::size_t pos = name.find('/'); pos != std::string_view::npos; pos = name.find('/', pos + 1))
    out.emplace_back(name.substr(0, pos));
  return out;
}

class MaildirMailbox final : public UserMailbox {
 public:
  MaildirMailbox(fs::path dir, std::string number, std::weak_ptr<detail::FolderEvents> events,
                 std::weak_ptr<detail::TextIndexer> indexer)
      : dir_(std::move(dir)), number_(std::move(number)), events_(std::move(events)), indexer_(std::move(indexer)) {
    quota_->number = number_;
    create_directories_durably(dir_);
    remove_leftovers();
    const UserLock lock = lock_user();
    refresh_quota_limit_locked();
    bool created = false;
    for (const auto& [name, use] : {std::pair{"INBOX", SpecialUse::None}, std::pair{"Sent", SpecialUse::Sent},
                                    std::pair{"Trash", SpecialUse::Trash}}) {
      if (!exists(name)) created = MaildirFolder::create_on_disk(folder_dir(name), use) || created;
    }
    if (created) write_subscriptions({"INBOX", "Sent", "Trash"});
    // Usage is kept incrementally from here on; this is the one full load.
    for (const auto& name : names_on_disk()) open_locked(name);
  }

  const std::string& number() const noexcept override { return number_; }

  std::vector<FolderEntry> list() const override try {
    std::lock_guard lock(mutex_);
    const std::vector<std::string> names = refresh_locked();
    const std::set<std::string> subscribed = read_subscriptions();
    std::vector<FolderEntry> entries;
    for (const auto& name : names) {
      FolderEntry entry;
      entry.name = name;
      if (const auto it = folders_.find(name); it != folders_.end()) entry.special_use = it->second->special_use();
      entry.subscribed = subscribed.count(name) != 0;
      entry.has_children =
          std::any_of(names.begin(), names.end(), [&](const std::string& other) { return is_inferior(other, name); });
      entries.push_back(std::move(entry));
    }
    return entries;
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  std::vector<std::string> subscriptions() const override try {
    std::lock_guard lock(mutex_);
    const std::set<std::string> names = read_subscriptions();
    return {names.begin(), names.end()};
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  FolderPtr open(std::string_view name) override try {
    const std::string canonical = canonical_folder_name(name);
    std::lock_guard lock(mutex_);
    if (!exists(canonical)) {
      drop_locked(canonical);  // removed by another process
      throw FolderNotFound("there is no folder " + in_quotes(canonical));
    }
    return open_locked(canonical);
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void create(std::string_view name, SpecialUse use) override try {
    const std::string canonical = canonical_folder_name(name);
    const UserLock lock = lock_user();
    if (exists(canonical)) throw FolderExists("the folder " + in_quotes(canonical) + " already exists");
    create_parents_locked(canonical);
    if (!MaildirFolder::create_on_disk(folder_dir(canonical), use))
      throw FolderExists("the folder " + in_quotes(canonical) + " already exists");
    names_changed();
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  // Local delivery's target: the folder, created first when missing.
  FolderPtr open_or_create(std::string_view name) try {
    const std::string canonical = canonical_folder_name(name);
    std::lock_guard lock(mutex_);
    if (!exists(canonical)) {
      FileLock user_lock(dir_ / kLockFile);
      create_parents_locked(canonical);
      // false: another process created it meanwhile, which is as good.
      if (MaildirFolder::create_on_disk(folder_dir(canonical), SpecialUse::None)) names_changed();
    }
    return open_locked(canonical);
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void remove(std::string_view name) override try {
    const std::string canonical = canonical_folder_name(name);
    if (is_inbox(canonical)) throw InvalidFolderName("INBOX cannot be deleted; expunge its messages instead");
    const UserLock lock = lock_user();
    if (!exists(canonical)) throw FolderNotFound("there is no folder " + in_quotes(canonical));
    drop_locked(canonical);
    // Out of sight in one atomic step, then deleted at leisure: a crash
    // leaves a ".deleted." directory, never half a folder.
    static std::atomic<unsigned> counter{0};
    const fs::path doomed = dir_ / (".deleted." + folder_directory_name(canonical) + "." +
                                    std::to_string(::getpid()) + "." + std::to_string(counter++));
    if (::rename(folder_dir(canonical).c_str(), doomed.c_str()) != 0)
      throw IoError("cannot delete folder", folder_dir(canonical), errno);
    fsync_directory(dir_);
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (ec) log(LogLevel::Warning, "mailstore", "cannot finish deleting {}: {}", doomed.string(), ec.message());
    names_changed();
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void rename(std::string_view from, std::string_view to) override try {
    const std::string old_name = canonical_folder_name(from);
    const std::string new_name = canonical_folder_name(to);
    if (is_inbox(new_name)) throw InvalidFolderName("a folder cannot be renamed to INBOX");
    // INBOX itself stays, so "INBOX/Old" is a fine place for its messages.
    if (!is_inbox(old_name) && is_inferior(new_name, old_name))
      throw InvalidFolderName("a folder cannot be moved inside itself");
    const UserLock lock = lock_user();
    if (!exists(old_name)) throw FolderNotFound("there is no folder " + in_quotes(old_name));
    if (exists(new_name)) throw FolderExists("the folder " + in_quotes(new_name) + " already exists");
    if (is_inbox(old_name)) return move_inbox_locked(new_name);

    std::vector<std::pair<std::string, std::string>> moves{{old_name, new_name}};
    for (const auto& name : names_on_disk())
      if (is_inferior(name, old_name)) moves.emplace_back(name, new_name + name.substr(old_name.size()));
    for (const auto& [old_child, new_child] : moves)
      if (exists(new_child)) throw FolderExists("the folder " + in_quotes(new_child) + " already exists");
    create_parents_locked(new_name);
    for (const auto& [old_child, new_child] : moves) {
      drop_locked(old_child);
      if (::rename(folder_dir(old_child).c_str(), folder_dir(new_child).c_str()) != 0)
        throw IoError("cannot rename folder", folder_dir(old_child), errno);
    }
    fsync_directory(dir_);
    std::set<std::string> subscriptions = read_subscriptions();
    bool subscriptions_changed = false;
    for (const auto& [old_child, new_child] : moves)
      if (subscriptions.erase(old_child) != 0) {
        subscriptions.insert(new_child);
        subscriptions_changed = true;
      }
    if (subscriptions_changed) write_subscriptions(subscriptions);
    names_changed();
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void set_subscribed(std::string_view name, bool subscribed) override try {
    const std::string canonical = canonical_folder_name(name);
    const UserLock lock = lock_user();
    std::set<std::string> subscriptions = read_subscriptions();
    const bool changed = subscribed ? subscriptions.insert(canonical).second : subscriptions.erase(canonical) != 0;
    if (!changed) return;
    write_subscriptions(subscriptions);
    names_changed();
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  QuotaUsage quota() const override try {
    std::vector<std::shared_ptr<MaildirFolder>> folders;
    {
      std::lock_guard lock(mutex_);
      for (const auto& name : refresh_locked()) folders.push_back(folders_.at(name));
      refresh_quota_limit_locked();
    }
    // Each folder brought up to date with other processes' changes (not
    // status(), whose counts walk every message: this runs per delivery),
    // outside the mailbox's lock: a folder's refresh waits for a delivery
    // storing into it, and every other delivery's check must not queue
    // behind the two.
    for (const auto& folder : folders) folder->refresh();
    const auto used = [](const std::atomic<std::int64_t>& n) {
      return static_cast<std::uint64_t>(std::max<std::int64_t>(0, n.load()));
    };
    return QuotaUsage{used(quota_->bytes),          used(quota_->messages),         quota_->limit_bytes.load(),
                      used(quota_->seconds),        quota_->limit_messages.load(), quota_->limit_seconds.load()};
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void set_quota_limit(std::uint64_t bytes) override try {
    std::lock_guard lock(mutex_);
    refresh_quota_limit_locked();
    if (bytes == quota_->limit_bytes.load()) return;
    write_quota_limits_locked(bytes, quota_->limit_messages, quota_->limit_seconds);
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  void set_count_limits(std::uint64_t messages, std::uint64_t seconds) override try {
    std::lock_guard lock(mutex_);
    refresh_quota_limit_locked();
    if (messages == quota_->limit_messages.load() && seconds == quota_->limit_seconds.load()) return;
    write_quota_limits_locked(quota_->limit_bytes, messages, seconds);
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  // No one but the store holds a folder of it: no session, no listener, no
  // index work pending (the indexer holds the folders it has work for).
  bool unheld() const {
    std::lock_guard lock(mutex_);
    return std::all_of(folders_.begin(), folders_.end(), [](const auto& entry) { return entry.second.use_count() == 1; });
  }

 private:
  fs::path folder_dir(std::string_view canonical) const { return dir_ / folder_directory_name(canonical); }

  bool exists(std::string_view canonical) const {
    std::error_code ec;
    return fs::is_directory(folder_dir(canonical) / "cur", ec);
  }

  std::vector<std::string> names_on_disk() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      auto name = folder_name_from_directory(it->path().filename().string());
      if (name && exists(*name)) names.push_back(std::move(*name));
    }
    if (ec) throw IoError("cannot read mailbox directory", dir_, ec.value());
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      // INBOX first, as clients expect, then by name.
      const bool a_inbox = a == "INBOX" || is_inferior(a, "INBOX");
      const bool b_inbox = b == "INBOX" || is_inferior(b, "INBOX");
      return a_inbox != b_inbox ? a_inbox : a < b;
    });
    return names;
  }

  // Opens folders made by other processes and retires those they removed.
  std::vector<std::string> refresh_locked() const {
    std::vector<std::string> names = names_on_disk();
    const std::set<std::string> present(names.begin(), names.end());
    std::vector<std::string> gone;
    for (const auto& [name, folder] : folders_)
      if (present.count(name) == 0) gone.push_back(name);
    for (const auto& name : gone) drop_locked(name);
    for (const auto& name : names) open_locked(name);
    return names;
  }

  std::shared_ptr<MaildirFolder> open_locked(const std::string& canonical) const {
    auto& slot = folders_[canonical];
    if (!slot || slot->retired())
      slot = std::make_shared<MaildirFolder>(folder_dir(canonical), canonical, quota_, events_, indexer_);
    return slot;
  }

  void drop_locked(const std::string& canonical) const {
    const auto it = folders_.find(canonical);
    if (it == folders_.end()) return;
    it->second->retire();
    folders_.erase(it);
  }

  void create_parents_locked(std::string_view canonical) {
    for (const auto& parent : parents_of(canonical)) {
      if (!exists(parent)) (void)MaildirFolder::create_on_disk(folder_dir(parent), SpecialUse::None);  // false: made meanwhile
    }
  }

  // RFC 3501 RENAME INBOX: the messages move, INBOX stays and is empty.
  void move_inbox_locked(const std::string& new_name) {
    create_parents_locked(new_name);
    if (!MaildirFolder::create_on_disk(folder_dir(new_name), SpecialUse::None))
      throw FolderExists("the folder " + in_quotes(new_name) + " already exists");
    const auto inbox = open_locked("INBOX");
    std::vector<std::uint32_t> uids;
    for (const auto& message : inbox->snapshot()) uids.push_back(message.uid);
    inbox->move_to(*open_locked(new_name), uids);
    names_changed();
  }

  std::set<std::string> read_subscriptions() const {
    std::set<std::string> names;
    std::error_code ec;
    if (!fs::exists(dir_ / kSubscriptionsFile, ec)) return names;
    const std::string text = read_file(dir_ / kSubscriptionsFile);
    std::string_view rest = text;
    while (!rest.empty()) {
      const auto end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      if (!line.empty()) names.emplace(line);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    return names;
  }

  void write_subscriptions(const std::set<std::string>& names) const {
    std::string text;
    for (const auto& name : names) text += name + "\n";
    replace_file_durably(dir_ / kSubscriptionsFile, text);
  }

  // `umstore mailbox` in another process may change the limit while a server
  // runs; one stat per quota check notices it.
  void refresh_quota_limit_locked() const {
    std::error_code ec;
    const auto stamp = fs::last_write_time(dir_ / kQuotaLimitFile, ec);
    if (ec) {
      quota_->limit_bytes = quota_->limit_messages = quota_->limit_seconds = 0;
      return;
    }
    if (stamp == quota_limit_stamp_) return;
    // "BYTES MESSAGES SECONDS"; files from before message and voice limits hold BYTES only.
    const std::string text = read_file(dir_ / kQuotaLimitFile);
    std::uint64_t values[3] = {};
    const char* at = text.data();
    const char* const end = text.data() + text.size();
    for (std::uint64_t& value : values) {
      while (at != end && *at == ' ') ++at;
      at = std::from_chars(at, end, value).ptr;
    }
    quota_->limit_bytes = values[0];
    quota_->limit_messages = values[1];
    quota_->limit_seconds = values[2];
    quota_limit_stamp_ = stamp;
  }

  void write_quota_limits_locked(std::uint64_t bytes, std::uint64_t messages, std::uint64_t seconds) const {
    replace_file_durably(dir_ / kQuotaLimitFile,
                         std::to_string(bytes) + " " + std::to_string(messages) + " " + std::to_string(seconds) + "\n");
    quota_->limit_bytes = bytes;
    quota_->limit_messages = messages;
    quota_->limit_seconds = seconds;
  }

  // Directories a crash left behind in remove() or create().
  void remove_leftovers() const {
    std::error_code ec;
    const auto stale = fs::file_time_type::clock::now() - std::chrono::hours(1);
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code ignored;
      if (name.starts_with(".deleted.") ||
          (name.starts_with(".creating.") && fs::last_write_time(it->path(), ignored) < stale))
        fs::remove_all(it->path(), ignored);
    }
  }

  // This process's threads, then other processes (the CLI, backup): taken
  // together, in this order, by everything that changes the folder list.
  struct UserLock {
    std::lock_guard<std::mutex> threads;
    FileLock processes;
  };
  UserLock lock_user() const { return UserLock{std::lock_guard(mutex_), FileLock(dir_ / kLockFile)}; }

  const fs::path dir_;
  const std::string number_;
  const std::shared_ptr<QuotaCounter> quota_ = std::make_shared<QuotaCounter>();
  const std::weak_ptr<detail::FolderEvents> events_;
  const std::weak_ptr<detail::TextIndexer> indexer_;
  const GaugeHold in_memory_{store_metrics().mailboxes_in_memory};
  mutable std::mutex mutex_;
  mutable fs::file_time_type quota_limit_stamp_{};
  mutable std::map<std::string, std::shared_ptr<MaildirFolder>> folders_;
};

class MaildirStore final : public MailStore {
 public:
  MaildirStore(fs::path root, MaildirOptions options)
      : root_(std::move(root)),
        mailboxes_kept_(std::max<std::size_t>(1, options.mailboxes_in_memory)),
        indexer_(options.text_index ? std::make_shared<detail::TextIndexer>() : nullptr) {
    create_directories_durably(root_);
  }

  UserMailboxPtr user(std::string_view number) override { return mailbox(number); }

  std::uint32_t deliver(std::string_view number, std::string_view rfc822, std::string_view folder) override {
    return mailbox(number)->open_or_create(folder)->append(rfc822);
  }

  StorageUsage storage_usage() override {
    struct statvfs fs {};
    if (::statvfs(root_.c_str(), &fs) != 0) throw IoError("cannot read the file system state of", root_, errno);
    const std::uint64_t size = std::uint64_t{fs.f_blocks} * fs.f_frsize;
    const std::uint64_t free = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    const std::uint64_t used = size - std::uint64_t{fs.f_bfree} * fs.f_frsize;
    return {"file system", root_.string(), used, free, size};
  }

 private:
  std::shared_ptr<MaildirMailbox> mailbox(std::string_view number) try {
    if (!umstore::is_e164(number))
      throw InvalidMailboxNumber("\"" + std::string(number) +
                                 "\" is not an E.164 number: write it as + and 2 to 15 digits, e.g. +15550100");
    std::lock_guard lock(mutex_);
    auto& kept = users_[std::string(number)];
    kept.last_use = ++uses_;
    if (kept.mailbox) return kept.mailbox;
    auto opened = std::make_shared<MaildirMailbox>(root_ / std::string(number), std::string(number), events_, indexer_);
    kept.mailbox = opened;
    if (users_.size() > mailboxes_kept_) let_go_of_unheld_locked();
    return opened;
  } catch (const IoError& e) {
    throw_temporary_failure(e);
  }

  // Past the limit, the mailboxes no one holds leave memory, least recently
  // used first, down to 3/4 of it, so this runs once per many openings; the
  // next user() reads one from disk again. A mailbox someone holds stays:
  // two objects for one folder would split its listeners and its lock.
  void let_go_of_unheld_locked() {
    std::vector<std::pair<std::uint64_t, std::string>> unheld;
    for (const auto& [number, kept] : users_)
      if (kept.mailbox.use_count() == 1 && kept.mailbox->unheld()) unheld.emplace_back(kept.last_use, number);
    std::sort(unheld.begin(), unheld.end());
    const std::size_t target = mailboxes_kept_ - mailboxes_kept_ / 4;
    for (const auto& entry : unheld) {
      if (users_.size() <= target) break;
      users_.erase(entry.second);
    }
  }

  const fs::path root_;
  // Declared before the mailboxes: destroyed after them, its thread joined
  // before anything it may refresh goes.
  const std::shared_ptr<detail::FolderEvents> events_ = std::make_shared<detail::FolderEvents>();
  struct KeptMailbox {
    std::shared_ptr<MaildirMailbox> mailbox;
    std::uint64_t last_use = 0;
  };
  const std::size_t mailboxes_kept_;
  std::mutex mutex_;
  std::map<std::string, KeptMailbox, std::less<>> users_;
  std::uint64_t uses_ = 0;
  // Declared after the mailboxes: its thread finishes what is queued while
  // their folders still exist.
  const std::shared_ptr<detail::TextIndexer> indexer_;
};

}  // namespace

std::unique_ptr<MailStore> open_maildir_store(const std::filesystem::path& root, MaildirOptions options) try {
  return std::make_unique<MaildirStore>(root, options);
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

}  // namespace umstore::mailstore
