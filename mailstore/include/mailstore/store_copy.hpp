#pragma once
// Moving an installation from one backend to another (`umstore db copy`:
// the embedded Maildir + SQLite store into PostgreSQL), Dovecot's dsync
// idea: every account (with its Argon2id hash as stored, never a
// password), mailbox settings, folder, subscription and message, keeping
// UIDVALIDITY, UIDs, UIDNEXT, flags, keywords, \Recent and internal dates, so IMAP
// clients keep their caches and do not download everything again.
//
// It can be run again and resumes: a folder continues after the highest
// UID already copied; accounts already there are left as they are. Copy
// while no server writes to the source (its new messages after the copy
// would need another run).
#include <cstdint>
#include <functional>
#include <string>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::mailstore {

struct StoreCopyReport {
  std::uint64_t accounts_added = 0;
  std::uint64_t folders = 0;
  std::uint64_t messages_copied = 0;
  std::uint64_t messages_already_there = 0;
};

struct StoreSide {
  MailStore& mail;
  AccountStore& accounts;
};

// Throws what the stores throw, and std::runtime_error naming the folder
// when the target holds the folder under another UIDVALIDITY (a folder
// made there by other means: remove it first). `progress` hears one line
// per folder.
StoreCopyReport copy_store(StoreSide from, StoreSide to,
                           const std::function<void(const std::string&)>& progress = {});

}  // namespace umstore::mailstore
