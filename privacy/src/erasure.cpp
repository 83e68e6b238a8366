#include "privacy/erasure.hpp"

#include <algorithm>

#include "mime/message_summary.hpp"

namespace umstore::privacy {
namespace {

// Removes `uids` from the folder for real: \Deleted, then UID EXPUNGE of
// exactly those (RFC 4315), so messages another client flagged stay.
void expunge_exactly(mailstore::Folder& folder, const std::vector<std::uint32_t>& uids) {
  if (uids.empty()) return;
  folder.change_flags(uids, mailstore::FlagChange::Add, mailstore::kDeleted);
  folder.expunge(std::span<const std::uint32_t>(uids));
}

// Every message of every folder of `mailbox` that `wanted` picks, erased
// unless dry_run; appended to `report`.
template <class Pick>
void erase_messages(mailstore::UserMailbox& mailbox, Pick wanted, bool dry_run, ErasureReport& report) {
  for (const auto& entry : mailbox.list()) {
    mailstore::FolderPtr folder;
    try {
      folder = mailbox.open(entry.name);
    } catch (const mailstore::FolderNotFound&) {
      continue;  // \Noselect parents, or removed meanwhile
    }
    std::vector<std::uint32_t> uids;
    for (const auto& info : folder->snapshot()) {
      const auto data = folder->open_message(info.uid);
      if (!data) continue;
      const auto summary = mime::summarise_message(data->bytes());
      if (!wanted(summary)) continue;
      uids.push_back(info.uid);
      report.messages.push_back({mailbox.number(), entry.name, info.uid, summary.kind, summary.date});
    }
    if (!dry_run) expunge_exactly(*folder, uids);
  }
}

}  // namespace

ErasureReport erase_caller(mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                           std::string_view caller, bool dry_run) {
  ErasureReport report;
  for (const auto& account : accounts.list()) {
    auto mailbox = store.user(account.number);
    erase_messages(*mailbox, [&](const mime::MessageSummary& s) { return !s.caller.empty() && s.caller == caller; },
                   dry_run, report);
  }
  return report;
}

ErasureReport erase_mailbox(mailstore::MailStore& store, mailstore::AccountStore& accounts, std::string_view number,
                            bool dry_run) {
  ErasureReport report;
  auto mailbox = store.user(number);
  erase_messages(*mailbox, [](const mime::MessageSummary&) { return true; }, dry_run, report);
  // Deepest first, so a parent is empty of children when it goes.
  auto entries = mailbox->list();
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name > b.name; });
  for (const auto& entry : entries) {
    if (entry.name == "INBOX") continue;  // it cannot be removed (RFC 3501); it is empty now
    if (!dry_run) mailbox->remove(entry.name);
    report.folders_removed.push_back(entry.name);
  }
  report.account_removed = accounts.find(number).has_value();
  if (report.account_removed && !dry_run) accounts.remove(number);
  return report;
}

}  // namespace umstore::privacy
