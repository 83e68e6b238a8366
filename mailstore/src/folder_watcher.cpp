#include "folder_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "maildir_folder.hpp"

namespace umstore::mailstore {
namespace {

// The folder directory itself only for the UID list (appended by every
// umstore process that changes the folder, renamed over when compacted);
// new/ and cur/ for tools that write Maildir files directly.
constexpr std::uint32_t kFolderDirMask = IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr std::uint32_t kMessageDirMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF;

}  // namespace

struct FolderWatcher::State : std::enable_shared_from_this<State> {
  // One per watched folder, shared by all its handles; its end removes the watches.
  struct Watch {
    std::shared_ptr<State> state;
    const Folder* key = nullptr;
    std::vector<int> descriptors;
    ~Watch() { state->unwatch(*this); }
  };

  int fd = -1;
  mutable std::mutex mutex;
  std::unordered_map<const Folder*, std::weak_ptr<Watch>> by_folder;
  std::unordered_map<int, FolderPtr> by_descriptor;  // inotify watch descriptor -> folder
  std::vector<FolderPtr> touched;                    // since the last settle()

  ~State() {
    if (fd >= 0) ::close(fd);
  }

  void unwatch(const Watch& watch) noexcept {
    if (!watch.key) return;  // never registered (watch() failed and cleaned up)
    std::lock_guard lock(mutex);
    const auto it = by_folder.find(watch.key);
    // A new Watch for the same folder may have replaced this expiring one;
    // the kernel gave it the same descriptors, which must then stay.
    if (it == by_folder.end() || !it->second.expired()) return;
    by_folder.erase(it);
    for (const int wd : watch.descriptors) {
      ::inotify_rm_watch(fd, wd);
      by_descriptor.erase(wd);
    }
  }
};

namespace {

void refresh_all(const std::vector<FolderPtr>& folders) noexcept {
  for (const auto& folder : folders) {
    try {
      folder->refresh();
    } catch (...) {
      // The folder reports the problem to whoever reads it next; a watcher has no one to tell.
    }
  }
}

void add_unique(std::vector<FolderPtr>& folders, const FolderPtr& folder) {
  for (const auto& f : folders)
    if (f == folder) return;
  folders.push_back(folder);
}

}  // namespace

FolderWatcher::FolderWatcher() : state_(std::make_shared<State>()) {
  state_->fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (state_->fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
}

FolderWatcher::~FolderWatcher() = default;

int FolderWatcher::fd() const noexcept { return state_->fd; }

FolderWatcher::Handle FolderWatcher::watch(const FolderPtr& folder) {
  const auto* maildir = dynamic_cast<const detail::MaildirFolder*>(folder.get());
  if (!maildir) return nullptr;
  std::lock_guard lock(state_->mutex);
  if (auto existing = state_->by_folder[folder.get()].lock()) return existing;
  auto watch = std::shared_ptr<State::Watch>(new State::Watch{state_, folder.get(), {}});
  const auto& dir = maildir->directory();
  for (const auto& [path, mask] : {std::pair{dir, kFolderDirMask}, std::pair{dir / "new", kMessageDirMask},
                                   std::pair{dir / "cur", kMessageDirMask}}) {
    const int wd = ::inotify_add_watch(state_->fd, path.c_str(), mask);
    if (wd < 0) {
      // Out of watches (fs.inotify.max_user_watches) or the folder is gone.
      // Undo under the lock held here: the Watch's own destructor must find nothing to do.
      for (const int d : watch->descriptors) {
        ::inotify_rm_watch(state_->fd, d);
        state_->by_descriptor.erase(d);
      }
      watch->descriptors.clear();
      state_->by_folder.erase(folder.get());
      watch->key = nullptr;
      return nullptr;
    }
    watch->descriptors.push_back(wd);
    state_->by_descriptor[wd] = folder;
  }
  state_->by_folder[folder.get()] = watch;
  return watch;
}

bool FolderWatcher::process_events() {
  alignas(inotify_event) std::array<char, 16 * 1024> buffer{};
  std::vector<FolderPtr> folders;
  bool any = false;
  bool overflow = false;
  for (;;) {
    const ssize_t n = ::read(state_->fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: drained
    any = true;
    std::lock_guard lock(state_->mutex);
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      const auto it = state_->by_descriptor.find(event->wd);
      if (it == state_->by_descriptor.end()) continue;
      add_unique(folders, it->second);
      if (event->mask & IN_IGNORED) state_->by_descriptor.erase(it);  // directory removed
    }
  }
  if (!any) return false;
  {
    std::lock_guard lock(state_->mutex);
    if (overflow)
      for (const auto& [wd, folder] : state_->by_descriptor) add_unique(folders, folder);
    for (const auto& folder : folders) add_unique(state_->touched, folder);
  }
  refresh_all(folders);
  return !folders.empty();
}

void FolderWatcher::settle() {
  std::vector<FolderPtr> folders;
  {
    std::lock_guard lock(state_->mutex);
    folders.swap(state_->touched);
  }
  refresh_all(folders);
}

std::size_t FolderWatcher::watched_folders() const {
  std::lock_guard lock(state_->mutex);
  std::size_t n = 0;
  for (const auto& [key, watch] : state_->by_folder) n += watch.expired() ? 0 : 1;
  return n;
}

}  // namespace umstore::mailstore
