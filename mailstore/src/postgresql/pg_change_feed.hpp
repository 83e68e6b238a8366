#pragma once
// Changes to folders made by any process on any node reach this process's
// listeners: one connection LISTENs on the folder channel (the mail tables
// NOTIFY with the folder's id when a change commits) and wakes the folder's
// listener registry. A lost connection is reopened; on reconnecting, every
// folder is told something may have changed, since notifications sent
// meanwhile are gone.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "../listener_registry.hpp"
#include "pg_folder_mirror.hpp"

namespace umstore::mailstore::pg {

// What the process keeps per folder id while any folder object has it:
// who listens, a counter raised by every change heard of
// (Folder::change_counter without a round trip), and the node's copy of
// the message list.
struct FolderSignals {
  std::shared_ptr<detail::ListenerRegistry> listeners = std::make_shared<detail::ListenerRegistry>();
  std::atomic<std::uint64_t> changes{0};
  FolderMirror mirror{changes};
  void changed() {
    ++changes;
    listeners->notify();
  }
};

class ChangeFeed {
 public:
  explicit ChangeFeed(std::string conninfo);
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // The signals of a folder, shared while any folder object holds them.
  std::shared_ptr<FolderSignals> signals(std::int64_t folder_id);

 private:
  void run();
  void dispatch(std::int64_t folder_id);
  void dispatch_all();

  std::string conninfo_;
  std::mutex mutex_;
  std::unordered_map<std::int64_t, std::weak_ptr<FolderSignals>> folders_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace umstore::mailstore::pg
