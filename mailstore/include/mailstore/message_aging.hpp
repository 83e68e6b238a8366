#pragma once
// Message aging (Cisco Unity Connection's message aging, Dovecot's
// autoexpunge), over the store seam so every backend ages alike: voice and
// fax messages in INBOX, Voicemail and Fax saved more than
// `move_to_trash_days` ago move to Trash, where their save date restarts;
// anything in Trash saved more than `purge_trash_days` ago is removed for
// good. Other mail is never moved. Blocking store calls: run it on a
// thread of its own, never an I/O thread.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::mailstore {

// Days of a save date after which aging acts; 0 = never.
struct AgingDays {
  unsigned move_to_trash = 0;
  unsigned purge_trash = 0;
};
// A mailbox's own setting where it has one, else the default.
AgingDays effective_aging(const MailboxAging& mailbox, const AgingDays& defaults);

struct AgedMessage {
  enum class Action { moved_to_trash, purged };
  Action action = Action::moved_to_trash;
  std::string number;           // the mailbox
  std::string folder;           // where the message was
  std::uint32_t uid = 0;        // its UID there
  std::uint32_t trash_uid = 0;  // moved: its UID in Trash
};

// A mailbox that could not be aged this time, and why.
struct AgingFailure {
  std::string number;
  std::string reason;
};

struct AgingReport {
  std::size_t mailboxes = 0;  // with aging on, looked at
  std::size_t moved = 0;
  std::size_t purged = 0;
  std::vector<AgingFailure> failures;
};

// Ages one mailbox: purges Trash, then moves what is due into it.
void age_mailbox(UserMailbox& mailbox, const AgingDays& days, std::int64_t now,
                 const std::function<void(const AgedMessage&)>& on_each, AgingReport& report);

// Ages every account's mailbox, or only `number` when it is not empty, as
// of `now` (seconds since the epoch). `on_each` hears of every message
// moved or purged (for the log). A mailbox the store cannot age now is
// named in the report's failures and the others go on.
AgingReport run_message_aging(MailStore& store, const AccountStore& accounts, const AgingDays& defaults,
                              std::int64_t now, const std::function<void(const AgedMessage&)>& on_each,
                              const std::string& number = {});

}  // namespace umstore::mailstore
