#include "mailstore/message_aging.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "mime/message_summary.hpp"

namespace umstore::mailstore {
namespace {

constexpr std::int64_t kDay = 24 * 3600;
// Where voice and fax messages are delivered (delivery's file_by_kind).
constexpr std::array<std::string_view, 3> kAgedFolders = {"INBOX", "Voicemail", "Fax"};

bool is_voice_or_fax(const Folder& folder, std::uint32_t uid) {
  const auto data = folder.open_message(uid);
  if (!data) return false;  // expunged meanwhile
  const auto kind = mime::summarise_message(data->bytes()).kind;
  return kind == "voice" || kind == "fax";
}

// UIDs of `folder` saved before `cutoff` that `wanted` accepts.
template <typename Wanted>
std::vector<std::uint32_t> saved_before(const Folder& folder, std::int64_t cutoff, Wanted wanted) {
  std::vector<std::uint32_t> uids;
  for (const auto& m : folder.snapshot())
    if (m.save_date < cutoff && wanted(m.uid)) uids.push_back(m.uid);
  return uids;
}

// The mailbox's Trash (special use), created as "Trash" when it has none.
FolderPtr trash_of(UserMailbox& mailbox, const std::vector<FolderEntry>& folders) {
  for (const auto& entry : folders)
    if (entry.special_use == SpecialUse::Trash) return mailbox.open(entry.name);
  try {
    mailbox.create("Trash", SpecialUse::Trash);
  } catch (const FolderExists&) {
  }
  return mailbox.open("Trash");
}

bool has_folder(const std::vector<FolderEntry>& folders, std::string_view name) {
  return std::any_of(folders.begin(), folders.end(), [&](const FolderEntry& e) { return e.name == name; });
}

}  // namespace

void age_mailbox(UserMailbox& mailbox, const AgingDays& days, std::int64_t now,
                 const std::function<void(const AgedMessage&)>& on_each, AgingReport& report) {
  if (days.move_to_trash == 0 && days.purge_trash == 0) return;
  const auto folders = mailbox.list();
  const FolderPtr trash = trash_of(mailbox, folders);
  // Purge first: what this run moves into Trash has a fresh save date anyway.
  if (days.purge_trash != 0) {
    const auto uids = saved_before(*trash, now - days.purge_trash * kDay, [](std::uint32_t) { return true; });
    if (!uids.empty()) {
      trash->change_flags(uids, FlagChange::Add, kDeleted);
      for (const std::uint32_t uid : trash->expunge(uids)) {
        on_each({AgedMessage::Action::purged, mailbox.number(), trash->name(), uid, 0});
        ++report.purged;
      }
    }
  }
  if (days.move_to_trash == 0) return;
  for (const std::string_view name : kAgedFolders) {
    if (!has_folder(folders, name) || name == trash->name()) continue;
    const FolderPtr folder = mailbox.open(name);
    const auto uids = saved_before(*folder, now - days.move_to_trash * kDay,
                                   [&](std::uint32_t uid) { return is_voice_or_fax(*folder, uid); });
    if (uids.empty()) continue;
    for (const auto& [uid, trash_uid] : folder->move_to(*trash, uids)) {
      on_each({AgedMessage::Action::moved_to_trash, mailbox.number(), folder->name(), uid, trash_uid});
      ++report.moved;
    }
  }
}

AgingDays effective_aging(const MailboxAging& mailbox, const AgingDays& defaults) {
  return {mailbox.move_to_trash_days.value_or(defaults.move_to_trash),
          mailbox.purge_trash_days.value_or(defaults.purge_trash)};
}

AgingReport run_message_aging(MailStore& store, const AccountStore& accounts, const AgingDays& defaults,
                              std::int64_t now, const std::function<void(const AgedMessage&)>& on_each,
                              const std::string& number) {
  AgingReport report;
  std::vector<std::string> numbers;
  if (!number.empty()) {
    if (!accounts.find(number)) throw AccountError("there is no account for " + number);
    numbers.push_back(number);
  } else {
    for (const auto& account : accounts.list()) numbers.push_back(account.number);
  }
  for (const auto& n : numbers) {
    try {
      const auto own = accounts.aging(n);
      if (!own) continue;  // removed meanwhile
      const AgingDays days = effective_aging(*own, defaults);
      if (days.move_to_trash == 0 && days.purge_trash == 0) continue;
      ++report.mailboxes;
      age_mailbox(*store.user(n), days, now, on_each, report);
    } catch (const std::exception& e) {
      // One mailbox's trouble (a full disk, a lost database) must not stop the others.
      report.failures.push_back({n, e.what()});
    }
  }
  return report;
}

}  // namespace umstore::mailstore
