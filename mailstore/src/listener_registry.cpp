#include "listener_registry.hpp"

#include <vector>

#include "common/log.hpp"

namespace umstore::mailstore::detail {

struct ListenerRegistry::Registration {
  Registration(std::weak_ptr<ListenerRegistry> r, std::uint64_t i) : registry(std::move(r)), id(i) {}
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() {
    if (auto r = registry.lock()) r->remove(id);
  }
  std::weak_ptr<ListenerRegistry> registry;
  std::uint64_t id;
};

Folder::ListenerHandle ListenerRegistry::add(Folder::Listener listener) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    listeners_.emplace(id, std::make_shared<Folder::Listener>(std::move(listener)));
  }
  return std::make_shared<Registration>(weak_from_this(), id);
}

void ListenerRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  listeners_.erase(id);
}

void ListenerRegistry::notify() const {
  std::vector<std::shared_ptr<Folder::Listener>> all;
  {
    // Called outside the lock: a listener may register or drop listeners.
    std::lock_guard lock(mutex_);
    all.reserve(listeners_.size());
    for (const auto& [id, listener] : listeners_) all.push_back(listener);
  }
  for (const auto& listener : all) {
    try {
      (*listener)();
    } catch (const std::exception& e) {
      log(LogLevel::Error, "mailstore", "folder listener failed: {}", e.what());
    }
  }
}

}  // namespace umstore::mailstore::detail
