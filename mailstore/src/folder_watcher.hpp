#pragma once
// The Maildir backend's way (internal) of noticing changes that other
// processes make to folders (`umstore ingest` writing into the Maildir, a
// second server, a tool dropping files into new/) without polling, through
// Linux inotify.
//
// One set of watches per folder (the folder directory for the UID list,
// new/ and cur/), shared by everyone watching that folder and removed when
// the last handle goes. The watcher has no thread and knows no event loop:
// the owner waits for fd() to become readable and calls process_events(),
// which refresh()es each folder the events touched once; the folder's
// listeners then hear of whatever changed, as for changes made in-process.
#include <cstddef>
#include <memory>

#include "mailstore/folder.hpp"

namespace umstore::mailstore {

class FolderWatcher {
 public:
  FolderWatcher();  // throws std::system_error when inotify is unavailable
  ~FolderWatcher();
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  // Non-blocking; readable while events are pending.
  int fd() const noexcept;

  // Keeps `folder` watched while the handle (or a copy) lives; handles may
  // outlive the watcher. nullptr when the folder cannot be watched (not a
  // Maildir folder, the kernel's watch limit is reached): the caller then has
  // to look at the disk itself now and then.
  using Handle = std::shared_ptr<const void>;
  Handle watch(const FolderPtr& folder);

  // Reads every pending event and refreshes the folders they touched; returns
  // true when it touched any (the owner should then call settle() a second or
  // so later, see there). Safe to call from any thread.
  bool process_events();

  // Refreshes once more the folders process_events() touched since the last
  // call. A folder rescans cur/ at most once a second (a directory's mtime
  // tick is coarse), so a change that landed right after a scan is only seen
  // by a second look; polling used to provide it.
  void settle();

  std::size_t watched_folders() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace umstore::mailstore
