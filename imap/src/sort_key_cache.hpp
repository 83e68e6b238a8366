#pragma once
// The keys SORT orders by (RFC 5256: sent date, base subject, the first
// From, To and Cc mailbox), worked out once per message from its header
// block and kept in memory per folder, so that a SORT of a large mailbox
// compares keys instead of parsing every header block again (parsing was
// about 4.6 µs a message: 457 ms for 100,000). Dovecot keeps the same in
// dovecot.index.cache.
//
// Like the fetch cache (fetch_cache.hpp): shared by every session of the
// process, per (Folder::id(), UIDVALIDITY, UID); no invalidation, as a
// message's bytes never change under its UID; one byte bound for the whole
// cache (about 200 bytes a message, so 64 MiB keeps about 300,000), the
// least recently sorted folder dropped first. The fetch cache alone could
// not do this: its header blocks are about 1 KB, so 100,000 of them crowd
// each other out and every sort reads them again.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "fetch_cache.hpp"
#include "mailstore/folder.hpp"

namespace umstore::imap {

struct MessageSortKeys {
  std::int64_t sent = 0;        // §2.2 sent date (seconds), the internal date without a usable Date:
  std::string subject;          // §2.1 base subject, lower case
  std::string from, to, cc;     // the addr-mailbox (local part) of the first address of each, lower case
};

MessageSortKeys sort_keys_of(std::string_view header_block, const mailstore::MessageInfo& info);

// The keys of some of a folder's messages, in the order asked for. The
// pointers stay valid as long as this object lives, whatever the cache does.
struct SortKeyList {
  std::shared_ptr<const void> owner;
  std::vector<const MessageSortKeys*> keys;
};

class SortKeyCache {
 public:
  explicit SortKeyCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The keys of `messages`, working out (from the fetch cache's header
  // blocks or the store's metadata) those not known yet. `folder_size` is
  // the folder's message count: a folder's keys are started afresh once
  // expunged messages make up most of them.
  SortKeyList keys(FetchCache* headers, mailstore::Folder& folder, std::uint32_t uid_validity,
                   std::span<const mailstore::MessageInfo* const> messages, std::size_t folder_size);

  std::size_t size_bytes() const;

 private:
  struct FolderKeys;
  std::shared_ptr<FolderKeys> folder_keys(const std::string& folder_id, std::uint32_t uid_validity,
                                          std::size_t folder_size);
  void account(const std::string& folder_id, const std::shared_ptr<FolderKeys>& table, std::size_t added);
  void drop(std::unordered_map<std::string, std::shared_ptr<FolderKeys>>::iterator it);

  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<FolderKeys>> folders_;
  std::list<std::string> lru_;  // folder ids, most recently sorted first
  std::size_t bytes_ = 0;
};

// Without a cache: the keys worked out for this call only.
SortKeyList sort_keys(SortKeyCache* cache, FetchCache* headers, mailstore::Folder& folder,
                      std::uint32_t uid_validity, std::span<const mailstore::MessageInfo* const> messages,
                      std::size_t folder_size);

}  // namespace umstore::imap
