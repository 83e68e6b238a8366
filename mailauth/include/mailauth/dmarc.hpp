#pragma once
// DMARC (RFC 7489): the policy record is looked up here with our Resolver
// (libopendmarc's own lookup uses the system resolver, without our server or
// timeout) and handed to libopendmarc, which parses it and decides alignment
// and the disposition, with the Public Suffix List for organisational
// domains. pct= sampling is left to the caller.
#include <span>
#include <string>
#include <string_view>

#include "mailauth/dkim.hpp"
#include "dns/resolver.hpp"
#include "mailauth/result.hpp"
#include "mailauth/spf.hpp"

namespace umstore::mailauth {

enum class DmarcPolicy { absent, none, quarantine, reject };

std::string_view to_string(DmarcPolicy policy);

struct DmarcVerdict {
  AuthResult result = AuthResult::none;  // pass, fail, none, temperror, permerror
  DmarcPolicy policy = DmarcPolicy::absent;  // what the domain asks for a failing message (p= or sp=)
  std::string from_domain;                   // header.from
  std::string reason;
};

DmarcVerdict check_dmarc(dns::Resolver& resolver, std::string_view client_ip, std::string_view from_domain,
                         const SpfVerdict& spf, std::span<const DkimVerdict> dkim);

}  // namespace umstore::mailauth
