#pragma once
// Who a forwarded call is for and who placed it, from the INVITE's headers.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/e164.hpp"  // user parts become mailbox numbers by normalise_e164(user, PlusSign::optional)
#include "mime/voice_message.hpp"
#include "sip_message.hpp"

namespace umstore::sip {

// Mailbox numbers to try, best first: the diverting party (Diversion, RFC
// 5806, or History-Info, RFC 7044), then the Request-URI user, then To.
std::vector<std::string> mailbox_candidates(const SipMessage& invite);

// The caller from P-Asserted-Identity, else From; "anonymous" becomes empty.
mime::Caller caller_of(const SipMessage& invite);

}  // namespace umstore::sip
