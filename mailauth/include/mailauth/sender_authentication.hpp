#pragma once
// The one entry point for inbound mail: SPF, DKIM and DMARC for a message
// and its SMTP envelope, and the Authentication-Results header (RFC 8601)
// that records them. DNS failures give `temperror` (answer 451 4.7.x, do not
// refuse); the DMARC policy says what the domain asks for a failing message.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/dkim.hpp"
#include "mailauth/dmarc.hpp"
#include "dns/resolver.hpp"
#include "mailauth/spf.hpp"

namespace umstore::mailauth {

struct SmtpEnvelope {
  std::string client_ip;  // the connecting client's address, IPv4 or IPv6 text (::ffff:a.b.c.d taken as IPv4)
  std::string helo;       // the EHLO/HELO name
  std::string mail_from;  // MAIL FROM's address without <>, empty for a null sender
};

struct SenderAuthentication {
  SpfVerdict spf;
  std::vector<DkimVerdict> dkim;  // one per signature; empty: unsigned
  DmarcVerdict dmarc;
  std::string header;  // "Authentication-Results: ...\r\n", to put above the message

  // True when a DNS failure left a result undecided that could change what
  // happens to the message: answer 451 4.7.x and let the sender retry.
  bool temporary_failure() const;
};

// `authserv_id` names this server in the header (RFC 8601 §2.5), normally
// its host name. `message` is header and body as received.
SenderAuthentication authenticate_sender(dns::Resolver& resolver, std::string_view authserv_id,
                                         const SmtpEnvelope& envelope, std::string_view message);

// The Authentication-Results header field, ending in CRLF.
std::string authentication_results_field(std::string_view authserv_id, const SpfVerdict& spf,
                                         std::span<const DkimVerdict> dkim, const DmarcVerdict& dmarc);

// The field for a sender we do not check (RFC 8601 §2.2 "none"): a gateway in
// trusted_networks, or with `smtp_auth` set, a client that authenticated
// (§2.7.4 "auth=pass smtp.auth=USER").
std::string exempt_authentication_results_field(std::string_view authserv_id, std::string_view smtp_auth);

// `message` without the Authentication-Results fields that claim to be ours
// (their authserv-id is `authserv_id`): a sender could forge one that
// readers would trust (RFC 8601 §5).
std::string without_our_authentication_results(std::string_view message, std::string_view authserv_id);

// The domain of the message's single From: address; empty when there is no
// From:, more than one, or a From: with several addresses (RFC 7489 §6.6.1).
std::string from_domain(std::string_view message);

}  // namespace umstore::mailauth
