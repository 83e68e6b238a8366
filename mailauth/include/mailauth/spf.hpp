#pragma once
// SPF (RFC 7208) with libspf2, its DNS lookups through our Resolver (so
// they have its server, timeout and cache).
#include <string>
#include <string_view>

#include "dns/resolver.hpp"
#include "mailauth/result.hpp"

namespace umstore::mailauth {

struct SpfVerdict {
  AuthResult result = AuthResult::none;
  std::string domain;      // the domain checked: MAIL FROM's, or HELO's for a null sender
  bool from_helo = false;  // true: `domain` is the HELO name (smtp.helo)
  std::string reason;      // libspf2's explanation, for the header comment
};

// `client_ip` is IPv4 or IPv6 text; `mail_from` may be empty (a bounce).
SpfVerdict check_spf(dns::Resolver& resolver, std::string_view client_ip, std::string_view helo, std::string_view mail_from);

}  // namespace umstore::mailauth
