#pragma once
// NOTIFY SET (RFC 5465 §3, §6): which mailboxes a client wants to hear of
// without asking, and which events. The parsing and the name matching; the
// session (notify.cpp) watches and reports.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "command_parser.hpp"
#include "fetch_attributes.hpp"
#include "mailstore/folder.hpp"

namespace umstore::imap {

enum NotifyEvent : unsigned {
  kMessageNew = 1,
  kMessageExpunge = 2,
  kFlagChange = 4,
  kMailboxName = 8,
  kSubscriptionChange = 16,
};
constexpr unsigned kMessageEvents = kMessageNew | kMessageExpunge | kFlagChange;

// One filter-mailboxes other than the selected mailbox, with its events.
struct NotifyFilter {
  enum class Kind { Inboxes, Personal, Subscribed, Subtree, Mailboxes };
  Kind kind = Kind::Personal;
  std::vector<std::string> names;  // Subtree, Mailboxes: canonical folder names
  unsigned events = 0;
  bool covers(const mailstore::FolderEntry& entry) const;
};

struct NotifySpec {
  bool send_status = false;        // NOTIFY SET STATUS: a STATUS for each mailbox at once
  unsigned selected_events = 0;    // for the selected mailbox
  bool selected_delayed = false;   // selected-delayed: expunges wait for a command that allows them
  std::optional<FetchRequest> new_message_fetch;  // MessageNew (fetch-att ...) of the selected mailbox
  std::vector<NotifyFilter> filters;

  // What the filters ask to hear of `entry` (not the selected mailbox's messages).
  unsigned events_for(const mailstore::FolderEntry& entry) const;
  // Whether the set of mailboxes to watch depends on the folder list.
  bool watches_names() const { return !filters.empty(); }
};

struct NotifyRefusal {
  enum class Kind { Bad, BadEvent, Overflow };
  Kind kind = Kind::Bad;
  std::string text;  // BAD: what is wrong; BADEVENT: the supported events
};

// The arguments after "NOTIFY SET"; `mailbox` reads a mailbox name from the
// wire as the session does (nullopt: not a valid name).
using MailboxDecoder = std::function<std::optional<std::string>(const Arg&)>;
std::variant<NotifySpec, NotifyRefusal> parse_notify_set(std::span<const Arg> args, const MailboxDecoder& mailbox);

}  // namespace umstore::imap
