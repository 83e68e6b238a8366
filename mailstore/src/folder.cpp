// The generic paths any backend gets for free: copy and move (read each
// message, append it to the target, keep its flags, keywords and date) and
// metadata computed from the message; the folder-list listeners of a
// user's mailbox.
#include "mailstore/folder.hpp"

#include <algorithm>
#include <stdexcept>

#include "listener_registry.hpp"

namespace umstore::mailstore {

Folder::UidMetadata Folder::metadata(std::span<const std::uint32_t> uids) const {
  UidMetadata out;
  for (const std::uint32_t uid : uids)
    if (const MessageDataPtr data = open_message(uid)) out.emplace_back(uid, compute_metadata(data->bytes()));
  return out;
}

Folder::UidPairs Folder::copy_to(Folder& target, std::span<const std::uint32_t> uids) {
  std::vector<std::uint32_t> wanted(uids.begin(), uids.end());
  std::sort(wanted.begin(), wanted.end());
  UidPairs pairs;
  try {
    for (const MessageInfo& info : snapshot()) {
      if (!std::binary_search(wanted.begin(), wanted.end(), info.uid)) continue;
      const MessageDataPtr data = open_message(info.uid);
      if (!data) continue;  // expunged meanwhile: not copied
      pairs.emplace_back(info.uid, target.append(data->bytes(), info.flags, info.keywords, info.internal_date));
    }
  } catch (...) {
    // All or nothing: take back the copies made so far.
    std::vector<std::uint32_t> copies;
    for (const auto& pair : pairs) copies.push_back(pair.second);
    try {
      target.change_flags(copies, FlagChange::Add, kDeleted);
      target.expunge(copies);
    } catch (...) {  // the first failure is the one to report
    }
    throw;
  }
  return pairs;
}

Folder::UidPairs Folder::move_to(Folder& target, std::span<const std::uint32_t> uids) {
  UidPairs pairs = copy_to(target, uids);
  std::vector<std::uint32_t> moved;
  for (const auto& pair : pairs) moved.push_back(pair.first);
  change_flags(moved, FlagChange::Add, kDeleted);
  expunge(moved);
  return pairs;
}

namespace {
[[noreturn]] void cannot_keep_uids() {
  throw std::logic_error("this backend cannot take messages with their UIDs; copy into the PostgreSQL backend");
}
}  // namespace

void Folder::adopt_uid_validity(std::uint32_t) { cannot_keep_uids(); }
void Folder::append_keeping_uid(std::uint32_t, std::string_view, Flags, std::span<const std::string>, std::int64_t) {
  cannot_keep_uids();
}
void Folder::raise_uid_next(std::uint32_t) { cannot_keep_uids(); }

UserMailbox::UserMailbox() : name_listeners_(std::make_shared<detail::ListenerRegistry>()) {}

Folder::ListenerHandle UserMailbox::listen_to_names(Folder::Listener on_change) {
  return name_listeners_->add(std::move(on_change));
}

void UserMailbox::names_changed() const { name_listeners_->notify(); }

}  // namespace umstore::mailstore
