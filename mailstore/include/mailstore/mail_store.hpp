#pragma once
// The store as protocols see it: Dovecot's lib-storage idea. Protocol code
// never touches files; the store never knows about sockets.
//
// Layout: <root>/<number>/<folder directory>/{tmp,new,cur} plus the UID list
// and folder metadata files next to them.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <stdexcept>
#include <string_view>

#include "mailstore/folder.hpp"

namespace umstore::mailstore {

// user()/deliver() with a number that is not E.164.
class InvalidMailboxNumber : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// What deliver_once stored, or found stored earlier under the same key.
struct DeliveredCopy {
  std::uint32_t uid = 0;
  std::string folder;
  bool earlier = false;
};

// Where the store keeps messages and how full it is, for the admin
// console's dashboard: the file system under the Maildir root, or the
// PostgreSQL database.
struct StorageUsage {
  std::string kind;   // "file system" or "database"
  std::string name;   // the Maildir root, or the database's name
  std::uint64_t used_bytes = 0;             // of the whole file system; the database's size
  std::optional<std::uint64_t> free_bytes;  // a file system's (for umstore); unknown for a database
  std::optional<std::uint64_t> size_bytes;  // a file system's
};

class MailStore {
 public:
  virtual ~MailStore() = default;

  // Blocking (a system call, or a query). Throws when it cannot be read.
  virtual StorageUsage storage_usage() = 0;

  // The mailbox of an E.164 number; created (with INBOX, Sent, Trash) on
  // first use. One shared object per number within the process.
  virtual UserMailboxPtr user(std::string_view number) = 0;

  // Local delivery: appends to `folder` (created when missing) and returns the UID.
  virtual std::uint32_t deliver(std::string_view number, std::string_view rfc822,
                                std::string_view folder = "INBOX") = 0;
  // A notice from the system about the mailbox (a quota warning) into
  // INBOX: counted in the quota, but never refused for it.
  std::uint32_t deliver_notice(std::string_view number, std::string_view rfc822);

  // Exactly-once local delivery: as deliver(), keyed by `key` (SMTP queue
  // id, ingest id) in the same transaction as the append, so a job retried
  // after a crash, or run by two nodes, finds the copy stored before in this
  // mailbox instead of storing again (even if it was moved or deleted since).
  // A backend that keeps no keys (Maildir, one node) stores; its callers
  // look for the key in the folder after a crash instead.
  // Whether deliver_once keeps keys (then nobody needs to search folders for them).
  virtual bool keeps_delivery_keys() const noexcept { return false; }
  virtual DeliveredCopy deliver_once(std::string_view number, std::string_view rfc822, std::string_view folder,
                                     std::string_view /*key*/) {
    return {deliver(number, rfc822, folder), std::string(folder), false};
  }
};

// The embedded Maildir backend. Per user directory: one directory per
// folder (see folder_name.hpp for the flat name encoding and
// maildir_folder.hpp in src/ for the files inside one), plus
//   .subscriptions   subscribed IMAP names, one per line
//   .quota-limit     "BYTES MESSAGES SECONDS", the limits set by set_quota_limit and
//                    set_count_limits (absent or 0 = unlimited)
//   .lock            flock for create/rename/remove/subscribe across processes
//   <folder>/umstore-fts  the folder's full-text index (Xapian), a cache of its messages
// Mailboxes and folders, once opened, stay cached for the store's lifetime.
struct MaildirOptions {
  // Keep a full-text index per folder for SEARCH BODY/TEXT (Folder::text_candidates);
  // false: those searches read every message, and no index is written.
  bool text_index = true;
  // Mailboxes whose folder indexes stay in memory once no one holds them
  // (no session, no delivery in progress), so a store with many mailboxes
  // does not grow with every one ever opened; held ones always stay.
  std::size_t mailboxes_in_memory = 1000;
};
std::unique_ptr<MailStore> open_maildir_store(const std::filesystem::path& root, MaildirOptions options = {});

// The PostgreSQL backend (mailstore/src/postgresql): every node on the same
// database sees the same mailboxes, UIDs and changes. Throws
// TemporaryFailure naming the host when the database cannot be reached, and
// std::runtime_error when its schema is not the one this build knows
// ("run 'umstore db migrate'", or a newer schema: upgrade umstore).
// `pool_size`: the connections it keeps for message work. `text_index`:
// keep each body's searchable text for SEARCH BODY/TEXT (a pg_trgm index,
// src/postgresql/pg_text_search.hpp); false: those searches read every message.
std::unique_ptr<MailStore> open_postgresql_store(const std::string& conninfo, std::size_t pool_size = 16,
                                                 bool text_index = true);

}  // namespace umstore::mailstore
