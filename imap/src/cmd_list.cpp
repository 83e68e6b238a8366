// LIST and LSUB: RFC 3501 §6.3.8-9, LIST-EXTENDED (RFC 5258: selection and
// return options, several patterns, RECURSIVEMATCH with CHILDINFO),
// SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
#include <algorithm>
#include <set>

#include "mailbox_name.hpp"
#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxPatternWildcards = 8;
constexpr std::size_t kMaxPatterns = 32;

std::string_view special_use_attribute(mailstore::SpecialUse use) {
  switch (use) {
    case mailstore::SpecialUse::Sent: return "\\Sent";
    case mailstore::SpecialUse::Trash: return "\\Trash";
    case mailstore::SpecialUse::Drafts: return "\\Drafts";
    case mailstore::SpecialUse::Junk: return "\\Junk";
    case mailstore::SpecialUse::Archive: return "\\Archive";
    case mailstore::SpecialUse::None: break;
  }
  return {};
}

struct ListRequest {
  bool only_subscribed = false;   // selection SUBSCRIBED
  bool only_special_use = false;  // selection SPECIAL-USE
  bool recursive_match = false;   // RECURSIVEMATCH: parents of selected mailboxes get CHILDINFO
  bool return_subscribed = false;
  const Arg* status_items = nullptr;  // RETURN (STATUS (...))
  std::vector<std::string> patterns;  // reference + pattern, decoded
  bool empty_pattern = false;         // LIST "" "": the delimiter query
};

// The error text for a tagged BAD, or "" when `request` is filled.
std::string parse_list(const std::vector<Arg>& args, bool lsub, bool utf8, ListRequest& request) {
  std::size_t at = 0;
  if (!lsub && !args.empty() && args[0].is_list()) {
    for (const Arg& o : args[0].list) {
      if (o.is_atom("SUBSCRIBED")) request.only_subscribed = request.return_subscribed = true;
      else if (o.is_atom("SPECIAL-USE")) request.only_special_use = true;
      else if (o.is_atom("RECURSIVEMATCH")) request.recursive_match = true;
      else if (!o.is_atom("REMOTE")) return "unknown LIST selection option";
    }
    // RFC 5258 §3: RECURSIVEMATCH alone is an error.
    if (request.recursive_match && !request.only_subscribed && !request.only_special_use)
      return "RECURSIVEMATCH needs another selection option";
    at = 1;
  }
  if (args.size() < at + 2 || !args[at].is_astring()) return "needs a reference and a mailbox pattern";
  const std::string reference(args[at].text);
  std::vector<std::string_view> wire;
  if (args[at + 1].is_list() && !lsub) {
    for (const Arg& p : args[at + 1].list) {
      if (!p.is_astring()) return "patterns are strings";
      wire.push_back(p.text);
    }
    if (wire.empty() || wire.size() > kMaxPatterns) return "needs 1 to 32 patterns";
  } else if (args[at + 1].is_astring()) {
    wire.push_back(args[at + 1].text);
    request.empty_pattern = wire.front().empty();
  } else {
    return "needs a reference and a mailbox pattern";
  }
  for (const auto w : wire) {
    auto pattern = pattern_from_wire(reference + std::string(w), utf8);
    if (!pattern || std::count_if(pattern->begin(), pattern->end(), [](char c) { return c == '*' || c == '%'; }) >
                        static_cast<long>(kMaxPatternWildcards))
      return "invalid mailbox pattern";
    request.patterns.push_back(std::move(*pattern));
  }
  at += 2;
  if (at == args.size()) return {};
  if (lsub || at + 2 != args.size() || !args[at].is_atom("RETURN") || !args[at + 1].is_list())
    return "unexpected arguments after the pattern";
  const auto& options = args[at + 1].list;
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (options[i].is_atom("SUBSCRIBED")) {
      request.return_subscribed = true;
    } else if (options[i].is_atom("STATUS") && i + 1 < options.size() && options[i + 1].is_list() &&
               !options[i + 1].list.empty()) {
      request.status_items = &options[++i];
    } else if (!options[i].is_atom("CHILDREN") && !options[i].is_atom("SPECIAL-USE")) {
      return "unknown LIST return option";
    }
  }
  return {};
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return matches_list_pattern(p, name); });
}

bool is_descendant(std::string_view name, std::string_view ancestor) {
  return name.size() > ancestor.size() + 1 && name.starts_with(ancestor) &&
         name[ancestor.size()] == kHierarchyDelimiter;
}

// RFC 3501 §6.3.9: when "%" stops LSUB above a subscribed mailbox, its
// unsubscribed ancestor the pattern matches is listed with \Noselect.
std::vector<std::string> unsubscribed_parents(const std::vector<mailstore::FolderEntry>& entries,
                                              const std::vector<std::string>& patterns) {
  std::set<std::string, std::less<>> subscribed;
  for (const auto& entry : entries)
    if (entry.subscribed) subscribed.insert(entry.name);
  std::set<std::string> parents;
  for (const auto& name : subscribed) {
    if (matches_any(patterns, name)) continue;
    for (auto slash = name.find(kHierarchyDelimiter); slash != std::string::npos;
         slash = name.find(kHierarchyDelimiter, slash + 1)) {
      std::string parent = name.substr(0, slash);
      if (!subscribed.contains(parent) && matches_any(patterns, parent)) parents.insert(std::move(parent));
    }
  }
  return {parents.begin(), parents.end()};
}

// The folders, then the subscribed names no folder has (`nonexistent`):
// RFC 5258 §3 lists those \NonExistent for LIST (SUBSCRIBED), \Noselect for LSUB.
std::vector<mailstore::FolderEntry> folders_and_subscriptions(const mailstore::UserMailbox& user,
                                                              std::set<std::string, std::less<>>& nonexistent) {
  auto entries = user.list();
  std::set<std::string, std::less<>> names;
  for (const auto& entry : entries) names.insert(entry.name);
  for (auto& name : user.subscriptions()) {
    if (names.contains(name)) continue;
    nonexistent.insert(name);
    entries.push_back({std::move(name), mailstore::SpecialUse::None, true, false});
  }
  return entries;
}

}  // namespace

std::string list_attributes(const mailstore::FolderEntry& entry, bool with_subscribed) {
  std::string attrs = entry.has_children ? "\\HasChildren" : "\\HasNoChildren";
  if (with_subscribed && entry.subscribed) attrs += " \\Subscribed";
  if (const auto use = special_use_attribute(entry.special_use); !use.empty()) attrs += " " + std::string(use);
  return attrs;
}

net::Task<void> Session::cmd_list(const Command& cmd) {
  const bool lsub = cmd.name == "LSUB";
  ListRequest request;
  if (const auto error = parse_list(cmd.args, lsub, utf8_, request); !error.empty()) {
    reply(cmd, "BAD", cmd.name + " " + error);
    co_return;
  }
  if (request.status_items && !status_items({}, {}, request.status_items->list)) {
    reply(cmd, "BAD", "Unknown STATUS item");
    co_return;
  }
  if (request.empty_pattern) {
    untagged(cmd.name + " (\\Noselect) \"/\" \"\"");
    reply(cmd, "OK", cmd.name + " completed");
    co_return;
  }
  std::set<std::string, std::less<>> nonexistent;
  const auto entries = folders_and_subscriptions(*user_, nonexistent);
  const bool by_subscription = lsub || request.only_subscribed;
  for (const auto& entry : entries) {
    if (!matches_any(request.patterns, entry.name)) continue;
    if (nonexistent.contains(entry.name)) {
      if (by_subscription && !request.only_special_use)
        untagged(cmd.name + (lsub ? " (\\Noselect) \"/\" " : " (\\NonExistent \\Subscribed) \"/\" ") +
                 mailbox_to_wire(entry.name));
      continue;
    }
    // RFC 5258 §3.5: a parent of selected mailboxes, selected itself or not
    const bool child_info = request.recursive_match && request.only_subscribed &&
                            std::any_of(entries.begin(), entries.end(), [&](const mailstore::FolderEntry& other) {
                              return other.subscribed && is_descendant(other.name, entry.name);
                            });
    const bool selected = (!by_subscription || entry.subscribed) &&
                          (!request.only_special_use || entry.special_use != mailstore::SpecialUse::None);
    if (!selected && !child_info) continue;
    std::string line = cmd.name + " (" + list_attributes(entry, request.return_subscribed) + ") \"/\" " +
                       mailbox_to_wire(entry.name);
    if (child_info) line += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    untagged(line);
    if (request.status_items) {
      mailstore::FolderPtr opened;
      try {
        opened = user_->open(entry.name);
      } catch (const mailstore::FolderNotFound&) {
        continue;  // removed meanwhile
      }
      const auto items = status_items(opened->status(), opened->id(), request.status_items->list);
      untagged("STATUS " + mailbox_to_wire(entry.name) + " (" + items.value_or("") + ")");
    }
  }
  if (lsub)
    for (const auto& parent : unsubscribed_parents(entries, request.patterns))
      untagged("LSUB (\\Noselect) \"/\" " + mailbox_to_wire(parent));
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
