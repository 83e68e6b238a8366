#pragma once
// The listeners of one folder (internal, any backend): Folder::listen hands
// out handles that unregister on destruction, safely whichever of handle
// and folder goes first; notify() calls each listener, logging failures.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

class ListenerRegistry : public std::enable_shared_from_this<ListenerRegistry> {
 public:
  Folder::ListenerHandle add(Folder::Listener listener);
  void notify() const;

 private:
  struct Registration;
  void remove(std::uint64_t id);

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Folder::Listener>> listeners_;
};

}  // namespace umstore::mailstore::detail
