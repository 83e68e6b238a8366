#include "notify_spec.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "common/ascii.hpp"
#include "mailstore/folder_name.hpp"

namespace umstore::imap {
namespace {

struct EventName {
  std::string_view name;
  unsigned event;  // 0: an event RFC 5465 defines that umstore does not offer
};
constexpr std::array kEvents{
    EventName{"MessageNew", kMessageNew},
    EventName{"MessageExpunge", kMessageExpunge},
    EventName{"FlagChange", kFlagChange},
    EventName{"MailboxName", kMailboxName},
    EventName{"SubscriptionChange", kSubscriptionChange},
    EventName{"AnnotationChange", 0},
    EventName{"MailboxMetadataChange", 0},
    EventName{"ServerMetadataChange", 0},
};

NotifyRefusal bad(std::string text) { return {NotifyRefusal::Kind::Bad, std::move(text)}; }

NotifyRefusal bad_event() {
  std::string supported;
  for (const auto& e : kEvents)
    if (e.event != 0) supported += (supported.empty() ? "" : " ") + std::string(e.name);
  return {NotifyRefusal::Kind::BadEvent, "(" + supported + ")"};
}

bool is_inferior_or_same(std::string_view name, std::string_view root) {
  return name == root || (name.size() > root.size() && name.starts_with(root) && name[root.size()] == '/');
}

// "(MessageNew (UID FLAGS) MessageExpunge)" or NONE; `fetch` is where
// MessageNew's fetch attributes go, null where they are not allowed.
std::optional<NotifyRefusal> parse_events(const Arg& arg, unsigned& events, std::optional<FetchRequest>* fetch) {
  events = 0;
  if (arg.is_atom("NONE")) return std::nullopt;
  if (!arg.is_list() || arg.list.empty()) return bad("Events are a parenthesized list or NONE");
  bool unsupported = false;
  for (std::size_t i = 0; i < arg.list.size(); ++i) {
    const Arg& a = arg.list[i];
    if (a.kind != Arg::Kind::Atom) return bad("An event is an atom");
    const auto known = std::find_if(kEvents.begin(), kEvents.end(),
                                    [&a](const EventName& e) { return ascii_iequals(a.text, e.name); });
    if (known == kEvents.end() || known->event == 0) {
      unsupported = true;  // RFC 5465 §3: NO [BADEVENT], once the whole command has been read
      continue;
    }
    events |= known->event;
    if (known->event != kMessageNew || i + 1 == arg.list.size() || !arg.list[i + 1].is_list()) continue;
    if (!fetch) return bad("Fetch attributes come with MessageNew for the selected mailbox only");
    auto parsed = parse_fetch_request(arg.list[++i], false);
    if (auto* error = std::get_if<FetchSyntaxError>(&parsed)) return bad(error->text);
    *fetch = std::move(std::get<FetchRequest>(parsed));
  }
  if (unsupported) return bad_event();
  // RFC 5465 §5.2, §5.3: MessageNew and MessageExpunge come together, and FlagChange needs both.
  const unsigned new_expunge = events & (kMessageNew | kMessageExpunge);
  if (new_expunge != 0 && new_expunge != (kMessageNew | kMessageExpunge))
    return bad("MessageNew and MessageExpunge must be given together");
  if ((events & kFlagChange) && new_expunge == 0) return bad("FlagChange needs MessageNew and MessageExpunge");
  return std::nullopt;
}

std::optional<NotifyRefusal> parse_names(const Arg& arg, const MailboxDecoder& mailbox, std::vector<std::string>& out) {
  const auto one = [&](const Arg& a) {
    const auto name = a.is_astring() ? mailbox(a) : std::nullopt;
    if (!name) return false;
    try {
      out.push_back(mailstore::canonical_folder_name(*name));
    } catch (const std::exception&) {
      out.push_back(*name);  // cannot exist, so it never matches
    }
    return true;
  };
  if (arg.is_list()) {
    if (arg.list.empty()) return bad("A mailbox list names at least one mailbox");
    for (const Arg& a : arg.list)
      if (!one(a)) return bad("Invalid mailbox name");
    return std::nullopt;
  }
  if (!one(arg)) return bad("Invalid mailbox name");
  return std::nullopt;
}

}  // namespace

bool NotifyFilter::covers(const mailstore::FolderEntry& entry) const {
  switch (kind) {
    case Kind::Inboxes: return mailstore::is_inbox(entry.name);  // where deliveries go
    case Kind::Personal: return true;                             // every folder of the user's own
    case Kind::Subscribed: return entry.subscribed;
    case Kind::Subtree:
      return std::any_of(names.begin(), names.end(),
                         [&entry](const std::string& root) { return is_inferior_or_same(entry.name, root); });
    case Kind::Mailboxes: return std::find(names.begin(), names.end(), entry.name) != names.end();
  }
  return false;
}

unsigned NotifySpec::events_for(const mailstore::FolderEntry& entry) const {
  unsigned events = 0;
  for (const auto& filter : filters)
    if (filter.covers(entry)) events |= filter.events;
  return events;
}

std::variant<NotifySpec, NotifyRefusal> parse_notify_set(std::span<const Arg> args, const MailboxDecoder& mailbox) {
  NotifySpec spec;
  if (!args.empty() && args.front().is_atom("STATUS")) {
    spec.send_status = true;
    args = args.subspan(1);
  }
  if (args.empty()) return bad("NOTIFY SET needs at least one event group");
  bool selected_seen = false;
  for (const Arg& group : args) {
    if (!group.is_list() || group.list.size() < 2 || group.list[0].kind != Arg::Kind::Atom)
      return bad("An event group is (filter events)");
    const Arg& kind = group.list[0];
    if (kind.is_atom("SELECTED") || kind.is_atom("SELECTED-DELAYED")) {
      if (group.list.size() != 2) return bad("(selected events) takes no mailbox names");
      if (std::exchange(selected_seen, true)) return bad("Only one selected or selected-delayed filter");
      spec.selected_delayed = kind.is_atom("SELECTED-DELAYED");
      if (auto refusal = parse_events(group.list[1], spec.selected_events, &spec.new_message_fetch)) return *refusal;
      continue;
    }
    NotifyFilter filter;
    std::size_t events_at = 1;
    if (kind.is_atom("INBOXES")) {
      filter.kind = NotifyFilter::Kind::Inboxes;
    } else if (kind.is_atom("PERSONAL")) {
      filter.kind = NotifyFilter::Kind::Personal;
    } else if (kind.is_atom("SUBSCRIBED")) {
      filter.kind = NotifyFilter::Kind::Subscribed;
    } else if (kind.is_atom("SUBTREE") || kind.is_atom("MAILBOXES")) {
      filter.kind = kind.is_atom("SUBTREE") ? NotifyFilter::Kind::Subtree : NotifyFilter::Kind::Mailboxes;
      if (group.list.size() != 3) return bad("(" + std::string(kind.text) + " mailboxes events)");
      if (auto refusal = parse_names(group.list[1], mailbox, filter.names)) return *refusal;
      events_at = 2;
    } else {
      return bad("Unknown mailbox filter " + std::string(kind.text));
    }
    if (group.list.size() != events_at + 1) return bad("An event group is (filter events)");
    if (auto refusal = parse_events(group.list[events_at], filter.events, nullptr)) return *refusal;
    if (filter.events != 0) spec.filters.push_back(std::move(filter));
  }
  return spec;
}

}  // namespace umstore::imap
