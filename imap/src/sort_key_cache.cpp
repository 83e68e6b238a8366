#include "sort_key_cache.hpp"

#include <deque>

#include "common/ascii.hpp"
#include "mime/imap_structure.hpp"
#include "sort_keys.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kEntryOverhead = 64;  // map node, bucket, allocator

std::size_t heap_bytes(const std::string& s) noexcept { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

std::size_t bytes_of(const MessageSortKeys& k) noexcept {
  return kEntryOverhead + sizeof k + heap_bytes(k.subject) + heap_bytes(k.from) + heap_bytes(k.to) + heap_bytes(k.cc);
}

std::string first_mailbox(const mime::Part& header, std::string_view field) {
  const auto value = mime::header_value(header, field);
  if (!value) return {};
  for (const mime::Address& a : mime::parse_address_list(*value))
    if (!a.group_start && !a.group_end) return ascii_lower(a.mailbox);
  return {};
}

}  // namespace

MessageSortKeys sort_keys_of(std::string_view header_block, const mailstore::MessageInfo& info) {
  const auto root = mime::parse_message(header_block);
  MessageSortKeys k;
  k.sent = sent_date(root, info);
  k.subject = base_subject(mime::header_value(root, "Subject").value_or("")).text;
  k.from = first_mailbox(root, "From");
  k.to = first_mailbox(root, "To");
  k.cc = first_mailbox(root, "Cc");
  return k;
}

struct SortKeyCache::FolderKeys {
  explicit FolderKeys(std::uint32_t validity) : uid_validity(validity) {}
  const std::uint32_t uid_validity;
  std::mutex mutex;  // guards by_uid; lookups and inserts are short, key work happens outside
  std::unordered_map<std::uint32_t, MessageSortKeys> by_uid;
  // Guarded by SortKeyCache::mutex_:
  std::size_t bytes = 0;
  std::list<std::string>::iterator age;
};

namespace {

// What a SortKeyList's pointers point into.
struct KeyOwner {
  std::shared_ptr<const void> table;
  std::deque<MessageSortKeys> uncached;  // growing at the end moves none of its elements
};

}  // namespace

SortKeyList SortKeyCache::keys(FetchCache* headers, mailstore::Folder& folder, std::uint32_t uid_validity,
                               std::span<const mailstore::MessageInfo* const> messages, std::size_t folder_size) {
  const std::string folder_id = folder.id();
  const auto table = folder_keys(folder_id, uid_validity, folder_size);
  auto owner = std::make_shared<KeyOwner>();
  owner->table = table;
  SortKeyList out;
  out.keys.resize(messages.size(), nullptr);
  std::vector<std::size_t> missing;
  {
    std::lock_guard lock(table->mutex);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto it = table->by_uid.find(messages[i]->uid);
      if (it != table->by_uid.end()) out.keys[i] = &it->second;
      else missing.push_back(i);
    }
  }
  if (!missing.empty()) {
    std::vector<std::pair<std::size_t, MessageSortKeys>> worked;
    worked.reserve(missing.size());
    for (const std::size_t i : missing) {
      const std::string block = header_block(headers, folder, uid_validity, messages[i]->uid);
      auto k = sort_keys_of(block, *messages[i]);
      // Gone (expunged meanwhile): not cached, so a store that failed for
      // a moment does not fix these keys for good.
      if (!block.empty()) {
        worked.emplace_back(i, std::move(k));
        continue;
      }
      owner->uncached.push_back(std::move(k));
      out.keys[i] = &owner->uncached.back();
    }
    std::size_t added = 0;
    {
      std::lock_guard lock(table->mutex);
      for (auto& [i, k] : worked) {
        const std::size_t size = bytes_of(k);
        const auto [it, inserted] = table->by_uid.try_emplace(messages[i]->uid, std::move(k));
        if (inserted) added += size;
        out.keys[i] = &it->second;
      }
    }
    account(folder_id, table, added);
  }
  out.owner = std::move(owner);
  return out;
}

std::shared_ptr<SortKeyCache::FolderKeys> SortKeyCache::folder_keys(const std::string& folder_id,
                                                                    std::uint32_t uid_validity,
                                                                    std::size_t folder_size) {
  std::lock_guard lock(mutex_);
  auto it = folders_.find(folder_id);
  if (it != folders_.end()) {
    auto& table = it->second;
    std::size_t known;
    {
      std::lock_guard table_lock(table->mutex);
      known = table->by_uid.size();
    }
    // Recreated (new UIDVALIDITY), or mostly expunged messages: start afresh.
    if (table->uid_validity == uid_validity && known <= 2 * folder_size + 1024) {
      lru_.splice(lru_.begin(), lru_, table->age);
      return table;
    }
    drop(it);
  }
  auto table = std::make_shared<FolderKeys>(uid_validity);
  lru_.push_front(folder_id);
  table->age = lru_.begin();
  folders_.emplace(folder_id, table);
  return table;
}

void SortKeyCache::account(const std::string& folder_id, const std::shared_ptr<FolderKeys>& table,
                           std::size_t added) {
  std::lock_guard lock(mutex_);
  const auto it = folders_.find(folder_id);
  if (it == folders_.end() || it->second != table) return;  // dropped meanwhile: its bytes went with it
  table->bytes += added;
  bytes_ += added;
  // The folder just sorted goes last, and only if it alone is over the bound.
  while (bytes_ > max_bytes_ && !lru_.empty()) drop(folders_.find(lru_.back()));
}

void SortKeyCache::drop(std::unordered_map<std::string, std::shared_ptr<FolderKeys>>::iterator it) {
  bytes_ -= it->second->bytes;
  lru_.erase(it->second->age);
  folders_.erase(it);
}

std::size_t SortKeyCache::size_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

SortKeyList sort_keys(SortKeyCache* cache, FetchCache* headers, mailstore::Folder& folder,
                      std::uint32_t uid_validity, std::span<const mailstore::MessageInfo* const> messages,
                      std::size_t folder_size) {
  if (cache) return cache->keys(headers, folder, uid_validity, messages, folder_size);
  auto owner = std::make_shared<KeyOwner>();
  SortKeyList out;
  for (const auto* info : messages) {
    owner->uncached.push_back(sort_keys_of(header_block(headers, folder, uid_validity, info->uid), *info));
    out.keys.push_back(&owner->uncached.back());
  }
  out.owner = std::move(owner);
  return out;
}

}  // namespace umstore::imap
