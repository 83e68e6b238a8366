#include "folder_events.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "common/log.hpp"

namespace umstore::mailstore::detail {
namespace {

// A folder rescans cur/ at most once a second, so a change that lands
// right after a scan needs a second look a little later (FolderWatcher::settle).
constexpr int kSettleDelayMs = 1100;

}  // namespace

FolderEvents::~FolderEvents() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(stop_.get(), &one, sizeof one);
  thread_.join();
}

FolderWatcher::Handle FolderEvents::watch(const FolderPtr& folder) {
  std::lock_guard lock(mutex_);
  if (unavailable_) return nullptr;
  if (!watcher_) {
    try {
      auto watcher = std::make_unique<FolderWatcher>();
      UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!stop) throw std::system_error(errno, std::generic_category(), "eventfd");
      watcher_ = std::move(watcher);
      stop_ = std::move(stop);
      thread_ = std::thread([this] { run(); });
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "mailstore", "cannot watch folders for other processes' changes ({}); readers look "
          "at the disk themselves", e.what());
      unavailable_ = true;
      watcher_.reset();
      return nullptr;
    }
  }
  return watcher_->watch(folder);
}

void FolderEvents::run() {
  bool settle_due = false;
  auto settle_at = std::chrono::steady_clock::now();
  for (;;) {
    int timeout = -1;
    if (settle_due)
      timeout = static_cast<int>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(settle_at - std::chrono::steady_clock::now())
                 .count()));
    pollfd fds[2] = {{watcher_->fd(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout);
    if (ready < 0 && errno != EINTR) {
      log(LogLevel::Error, "mailstore", "folder watcher stopped: poll failed with errno {}", errno);
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0 && watcher_->process_events() && !settle_due) {
      settle_due = true;
      settle_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSettleDelayMs);
    }
    if (settle_due && std::chrono::steady_clock::now() >= settle_at) {
      settle_due = false;
      watcher_->settle();
    }
  }
}

}  // namespace umstore::mailstore::detail
