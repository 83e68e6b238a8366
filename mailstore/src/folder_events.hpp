#pragma once
// The Maildir backend's own change notification (internal): one thread per
// store waits on a FolderWatcher's inotify descriptor and refreshes the
// folders other processes changed, so Folder::listen hears of their
// changes as of this process's own. Started on the first watch; costs
// nothing while nothing changes (the thread sleeps in poll).
#include <memory>
#include <mutex>
#include <thread>

#include "common/durable_file.hpp"
#include "folder_watcher.hpp"

namespace umstore::mailstore::detail {

class FolderEvents {
 public:
  FolderEvents() = default;
  ~FolderEvents();  // stops and joins the thread
  FolderEvents(const FolderEvents&) = delete;
  FolderEvents& operator=(const FolderEvents&) = delete;

  // Keeps `folder` watched while the handle lives; nullptr when it cannot
  // be (no inotify, the kernel's watch limit): its readers then catch up
  // when they read, as before.
  FolderWatcher::Handle watch(const FolderPtr& folder);

 private:
  void run();

  std::mutex mutex_;
  bool unavailable_ = false;                 // inotify could not be set up; not tried again
  std::unique_ptr<FolderWatcher> watcher_;   // created with the thread
  UniqueFd stop_;                            // eventfd: written to stop the thread
  std::thread thread_;
};

}  // namespace umstore::mailstore::detail
