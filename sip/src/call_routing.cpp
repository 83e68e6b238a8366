#include "call_routing.hpp"
#include "common/ascii.hpp"
#include "common/e164.hpp"

#include <algorithm>

namespace umstore::sip {
namespace {

void add_candidate(std::vector<std::string>& out, std::string_view user) {
  auto number = normalise_e164(user, PlusSign::optional);
  if (number && std::find(out.begin(), out.end(), *number) == out.end()) out.push_back(*number);
}

std::string user_of(const std::string& header_value) {
  const auto addr = parse_name_addr(header_value);
  return addr ? addr->user : std::string();
}

}  // namespace

std::vector<std::string> mailbox_candidates(const SipMessage& invite) {
  std::vector<std::string> out;
  // Diversion: the topmost entry is the latest diversion, i.e. the party
  // whose unanswered call reached us.
  if (const auto diversion = invite.header_values("diversion"); !diversion.empty())
    add_candidate(out, user_of(diversion.front()));
  // History-Info: the last entry is us; the one before it forwarded the call.
  if (const auto history = invite.header_values("history-info"); history.size() >= 2)
    add_candidate(out, user_of(history[history.size() - 2]));
  add_candidate(out, invite.request_uri_user());
  add_candidate(out, invite.to().user);
  return out;
}

mime::Caller caller_of(const SipMessage& invite) {
  NameAddr who = invite.from();
  if (const auto pai = invite.header_values("p-asserted-identity"); !pai.empty())
    if (auto asserted = parse_name_addr(pai.front())) who = *asserted;
  mime::Caller caller;
  caller.name = who.display_name;
  std::string number = who.user.substr(0, who.user.find(';'));
  std::string lower = number;
  lower = ascii_lower(lower);
  if (lower == "anonymous" || lower == "restricted" || lower == "unknown") number.clear();
  caller.number = number;
  if (caller.name == "Anonymous" && number.empty()) caller.name.clear();
  return caller;
}

}  // namespace umstore::sip
