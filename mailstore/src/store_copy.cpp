#include "mailstore/store_copy.hpp"

#include <algorithm>
#include <stdexcept>

namespace umstore::mailstore {
namespace {

void copy_account(const Account& account, StoreSide from, StoreSide to, StoreCopyReport& report) {
  if (!to.accounts.find(account.number)) {
    const auto hash = from.accounts.password_hash(account.number);
    if (!hash) return;  // removed meanwhile
    to.accounts.add_with_hash(account, *hash);
    ++report.accounts_added;
  }
  if (const auto delivery = from.accounts.delivery(account.number))
    to.accounts.set_delivery(account.number, *delivery);
  if (const auto aging = from.accounts.aging(account.number)) to.accounts.set_aging(account.number, *aging);
}

// The folder's messages above what the target already has, with their UIDs.
void copy_folder(Folder& source, Folder& target, StoreCopyReport& report) {
  target.adopt_uid_validity(source.uid_validity());
  const std::uint32_t copied_below = target.status().uid_next;
  for (const MessageInfo& info : source.snapshot()) {
    if (info.uid < copied_below) {
      ++report.messages_already_there;
      continue;
    }
    const MessageDataPtr data = source.open_message(info.uid);
    if (!data) continue;  // expunged meanwhile
    target.append_keeping_uid(info.uid, data->bytes(), info.flags, info.keywords, info.internal_date);
    ++report.messages_copied;
  }
  // UIDs the source gave out to messages since expunged are never handed
  // out again in the target either: a client may remember them.
  target.raise_uid_next(source.status().uid_next);
  // What some session has seen in the source is not \Recent in the target.
  target.claim_recent(source.first_recent_uid());
}

void copy_mailbox(std::string_view number, StoreSide from, StoreSide to, StoreCopyReport& report,
                  const std::function<void(const std::string&)>& progress) {
  const UserMailboxPtr source = from.mail.user(number);
  const UserMailboxPtr target = to.mail.user(number);
  const auto existing = target->list();
  for (const FolderEntry& entry : source->list()) {
    const bool exists = std::any_of(existing.begin(), existing.end(),
                                    [&](const FolderEntry& e) { return e.name == entry.name; });
    if (!exists) target->create(entry.name, entry.special_use);
    target->set_subscribed(entry.name, entry.subscribed);
    const FolderPtr source_folder = source->open(entry.name);
    const FolderPtr target_folder = target->open(entry.name);
    const std::uint64_t before = report.messages_copied;
    copy_folder(*source_folder, *target_folder, report);
    ++report.folders;
    if (progress)
      progress(std::string(number) + " " + entry.name + ": " + std::to_string(report.messages_copied - before) +
               " message(s) copied, UIDVALIDITY " + std::to_string(source_folder->uid_validity()));
  }
}

}  // namespace

StoreCopyReport copy_store(StoreSide from, StoreSide to, const std::function<void(const std::string&)>& progress) {
  StoreCopyReport report;
  for (const Account& account : from.accounts.list()) {
    copy_account(account, from, to, report);
    copy_mailbox(account.number, from, to, report, progress);
  }
  return report;
}

}  // namespace umstore::mailstore
