#include "fetch_cache.hpp"

namespace umstore::imap {
namespace {
constexpr std::size_t kSlotOverhead = 128;  // map node, list node, control block

std::size_t bytes_of(const mailstore::MessageMetadata& m) noexcept {
  return kSlotOverhead + m.header.size() + m.envelope.size() + m.body.size() + m.body_structure.size();
}
}  // namespace

CachedMessagePtr FetchCache::find(const mailstore::Folder& folder, std::uint32_t uid_validity, std::uint32_t uid) {
  std::lock_guard lock(mutex_);
  const auto it = slots_.find(Key{folder.id(), uid});
  if (it == slots_.end()) return nullptr;
  if (it->second.uid_validity != uid_validity) {  // the folder was recreated
    erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.age);
  return it->second.entry;
}

void FetchCache::store(const mailstore::Folder& folder, std::uint32_t uid_validity, std::uint32_t uid,
                       CachedMessagePtr entry) {
  const std::size_t size = bytes_of(*entry);
  if (size > max_bytes_ / 4) return;  // a huge header is not worth crowding everything else out
  std::lock_guard lock(mutex_);
  const Key key{folder.id(), uid};
  if (auto it = slots_.find(key); it != slots_.end()) erase(it);
  while (bytes_ + size > max_bytes_ && !lru_.empty()) erase(slots_.find(lru_.back()));
  lru_.push_front(key);
  slots_.emplace(key, Slot{uid_validity, std::move(entry), lru_.begin()});
  bytes_ += size;
}

void FetchCache::forget(const mailstore::Folder& folder, std::uint32_t uid) {
  std::lock_guard lock(mutex_);
  if (auto it = slots_.find(Key{folder.id(), uid}); it != slots_.end()) erase(it);
}

std::size_t FetchCache::size_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void FetchCache::erase(std::unordered_map<Key, Slot, KeyHash>::iterator it) {
  bytes_ -= bytes_of(*it->second.entry);
  lru_.erase(it->second.age);
  slots_.erase(it);
}

std::string header_block(FetchCache* cache, mailstore::Folder& folder, std::uint32_t uid_validity,
                         std::uint32_t uid) {
  if (cache) {
    if (const auto hit = cache->find(folder, uid_validity, uid)) return hit->header;
  }
  auto found = folder.metadata(std::span<const std::uint32_t>(&uid, 1));
  if (found.empty()) return {};
  auto entry = std::make_shared<const mailstore::MessageMetadata>(std::move(found.front().second));
  if (cache) cache->store(folder, uid_validity, uid, entry);
  return entry->header;
}

}  // namespace umstore::imap
