#pragma once
// Recently read message bodies of the PostgreSQL backend, shared by every
// folder object of the process: what the page cache is to the Maildir
// backend. Without it every FETCH BODY[] of a popular message is a round
// trip to the database and the whole body over the wire again. A body
// never changes under its (folder row, UID): folder rows are never reused
// and UIDs never reused within one, so entries need no invalidation; an
// expunged message's entry is never asked for again and ages out of the
// least-recently-used order. One byte bound for the whole process.
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "mailstore/message.hpp"

namespace umstore::mailstore::pg {

class BodyCache {
 public:
  explicit BodyCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  MessageDataPtr find(std::int64_t folder_id, std::uint32_t uid) {
    std::lock_guard lock(mutex_);
    const auto it = slots_.find({folder_id, uid});
    if (it == slots_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.age);
    return it->second.data;
  }

  void store(std::int64_t folder_id, std::uint32_t uid, MessageDataPtr data) {
    const std::size_t size = data->bytes().size();
    if (size > max_bytes_ / 8) return;  // one large fax must not empty the cache
    std::lock_guard lock(mutex_);
    const Key key{folder_id, uid};
    if (slots_.contains(key)) return;
    lru_.push_front(key);
    slots_.emplace(key, Slot{std::move(data), lru_.begin()});
    bytes_ += size;
    while (bytes_ > max_bytes_ && !lru_.empty()) {
      const auto oldest = slots_.find(lru_.back());
      bytes_ -= oldest->second.data->bytes().size();
      slots_.erase(oldest);
      lru_.pop_back();
    }
  }

 private:
  using Key = std::pair<std::int64_t, std::uint32_t>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::int64_t>{}(k.first) ^ (std::size_t{k.second} * 0x9E3779B97F4A7C15ull);
    }
  };
  struct Slot {
    MessageDataPtr data;
    std::list<Key>::iterator age;  // in lru_, most recent first
  };

  const std::size_t max_bytes_;
  std::mutex mutex_;
  std::unordered_map<Key, Slot, KeyHash> slots_;
  std::list<Key> lru_;
  std::size_t bytes_ = 0;
};

}  // namespace umstore::mailstore::pg
