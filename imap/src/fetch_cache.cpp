#include "fetch_cache.hpp"

namespace umstore::imap {
namespace {
constexpr std::size_t kSlotOverhead = 128;  // map node, list node, control block
}

std::size_t CachedMessage::bytes() const noexcept {
  return kSlotOverhead + header.size() + (envelope ? envelope->size() : 0) + (body ? body->size() : 0) +
         (body_structure ? body_structure->size() : 0);
}

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
  const std::size_t size = entry->bytes();
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
  bytes_ -= it->second.entry->bytes();
  lru_.erase(it->second.age);
  slots_.erase(it);
}

std::string header_block(FetchCache* cache, mailstore::Folder& folder, std::uint32_t uid_validity,
                         std::uint32_t uid) {
  if (cache) {
    if (const auto hit = cache->find(folder, uid_validity, uid)) return hit->header;
  }
  const auto data = folder.open_message(uid);
  if (!data) return {};
  const std::string_view bytes = data->bytes();
  const std::string_view header = top_header_of(bytes);
  if (cache && header.size() < bytes.size()) {
    auto entry = std::make_shared<CachedMessage>();
    entry->header = std::string(header);
    cache->store(folder, uid_validity, uid, std::move(entry));
  }
  return std::string(header);
}


}  // namespace umstore::imap
