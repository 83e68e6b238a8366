#pragma once
// Erasure for data-protection requests: a caller's messages in every
// mailbox, or a whole mailbox, removed for real through the store (Maildir
// files unlinked; database rows deleted and bodies no message references
// any more with them), never moved to Trash.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::privacy {

struct ErasedMessage {
  std::string mailbox;  // "+15550100"
  std::string folder;
  std::uint32_t uid = 0;
  std::string kind;     // voice, fax, mail
  std::string date;
};

struct ErasureReport {
  std::vector<ErasedMessage> messages;
  std::vector<std::string> folders_removed;
  bool account_removed = false;
};

// Every message whose caller (mime::summarise_message) is `caller`, in
// every mailbox of `accounts`. `dry_run`: reports what it would remove.
ErasureReport erase_caller(mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                           std::string_view caller, bool dry_run = false);

// Every message and folder of the mailbox, then its account (if it still
// has one: a mailbox removed earlier keeps its messages until erased).
ErasureReport erase_mailbox(mailstore::MailStore& store, mailstore::AccountStore& accounts, std::string_view number,
                            bool dry_run = false);

}  // namespace umstore::privacy
