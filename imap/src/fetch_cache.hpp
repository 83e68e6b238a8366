#pragma once
// What IMAP clients fetch again and again, kept in memory so that a FETCH
// 1:* of headers, ENVELOPE or BODYSTRUCTURE, a SEARCH of header keys or a
// SORT need not ask the store for each message each time: the metadata the
// store keeps per message (mailstore/message_metadata.hpp: the header block
// and the ENVELOPE, BODY and BODYSTRUCTURE answers), per (folder,
// UIDVALIDITY, UID).
//
// The store computes the metadata once, when a message is stored, and
// keeps it (a Maildir file per message, a PostgreSQL column); this cache
// saves the read of it. One copy in memory is shared by every session of
// the process (Dovecot's per-session processes need dovecot.index.cache
// for that). A message's bytes never change under its UID (flags live
// elsewhere and UIDs are never reused within a UIDVALIDITY), so entries
// need no invalidation on flag changes; an expunged message's entry is
// never asked for again and ages out of the least-recently-used order, or
// is dropped at once when a FETCH finds the message gone. The whole cache
// has one byte bound (voicemail and fax headers are about 1 KB, so 32 MiB
// keeps about 20,000 messages), independent of the number of connections.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mailstore/folder.hpp"

namespace umstore::imap {

using CachedMessagePtr = std::shared_ptr<const mailstore::MessageMetadata>;

class FetchCache {
 public:
  explicit FetchCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  CachedMessagePtr find(const mailstore::Folder& folder, std::uint32_t uid_validity, std::uint32_t uid);
  void store(const mailstore::Folder& folder, std::uint32_t uid_validity, std::uint32_t uid, CachedMessagePtr entry);
  void forget(const mailstore::Folder& folder, std::uint32_t uid);

  std::size_t size_bytes() const;

 private:
  // Folder::id(), not the object's address: a folder object can be
  // dropped and another built at the same address for another folder.
  struct Key {
    std::string folder_id;
    std::uint32_t uid;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::string>{}(k.folder_id) ^ (std::size_t{k.uid} * 0x9E3779B97F4A7C15ull);
    }
  };
  struct Slot {
    std::uint32_t uid_validity;
    CachedMessagePtr entry;
    std::list<Key>::iterator age;  // position in lru_, most recent first
  };
  void erase(std::unordered_map<Key, Slot, KeyHash>::iterator it);

  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Slot, KeyHash> slots_;
  std::list<Key> lru_;
  std::size_t bytes_ = 0;
};

// A message's top-level header block (for SEARCH header keys, SORT and
// THREAD): from the cache that FETCH fills too, else from the store's
// metadata, then cached. Empty when the message is gone; `cache` may be
// nullptr.
std::string header_block(FetchCache* cache, mailstore::Folder& folder, std::uint32_t uid_validity,
                         std::uint32_t uid);

}  // namespace umstore::imap
