#pragma once
// ENUM (RFC 6116): the Internet addresses a telephone number's owner
// publishes in DNS, as NAPTR records (RFC 3403) under the number's digits
// reversed in an ENUM tree ("+15550100" -> 0.0.1.0.5.5.5.1.e164.arpa).
// umstore asks for E2U+vpim:mailto (RFC 4238: a VPIM v2 system takes voice
// for the number) and E2U+ifax:mailto (RFC 4143: an Internet fax address).
//
// Several trees may be configured (the public e164.arpa and private ones a
// carrier runs): they are asked in order and the first that answers for the
// service wins. NXDOMAIN or no record for the service is final; a timeout or
// SERVFAIL is temporary, so a message waits instead of failing on a DNS
// outage. Answers are cached for their TTL by the resolver.
//
// Blocks for up to the resolver's timeout per query: call off I/O threads.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.hpp"

namespace umstore::dns {

inline constexpr std::string_view kVpimService = "E2U+vpim:mailto";
inline constexpr std::string_view kIfaxService = "E2U+ifax:mailto";

// "+15550100" and "e164.arpa" -> "0.0.1.0.5.5.5.1.e164.arpa"; nullopt when
// `number` is not "+" and 1 to 15 digits (E.164).
std::optional<std::string> enum_domain(std::string_view number, std::string_view tree);

// The URI a NAPTR regexp field ("!^.*$!mailto:a@b!", RFC 3402 section 3.2:
// delimiter, POSIX extended regex, replacement with \1..\9, flag "i")
// makes of `subject`; nullopt when the field is malformed or does not match.
std::optional<std::string> apply_naptr_regexp(std::string_view field, std::string_view subject);

// Whether a NAPTR services field ("E2U+voice:sip+vpim:mailto") offers
// `service` ("E2U+vpim:mailto"), case-insensitively (RFC 6116 section 3.4.3).
bool offers_service(std::string_view services, std::string_view service);

// The address of a "mailto:" URI ("mailto:+15550100@vm.example.org"),
// %-escapes decoded; nullopt for another scheme or an unusable address.
std::optional<std::string> mailto_address(std::string_view uri);

enum class EnumStatus {
  found,              // `uri` is the number's address for the service
  no_route,           // no tree publishes the service for the number (final)
  temporary_failure,  // a tree could not be asked: retry later
};

std::string_view to_string(EnumStatus status);

struct EnumAnswer {
  EnumStatus status = EnumStatus::no_route;
  std::string uri;     // "mailto:+15550100@vm.example.org"
  std::string domain;  // the name whose record gave it
  std::uint32_t ttl = 0;
  std::string reason;  // why not found, for logs and DSNs
};

// One NAPTR record of a number, as an admin sees it.
struct EnumRecord {
  std::string domain;
  NaptrRecord naptr;
  std::optional<std::string> uri;  // what its regexp makes of the number (terminal rules)
};

class EnumLookup {
 public:
  // `trees`: ENUM suffixes in the order to ask them ("e164.arpa").
  EnumLookup(std::shared_ptr<Resolver> resolver, std::vector<std::string> trees);

  // The number's address for `service` (kVpimService, kIfaxService).
  EnumAnswer find(std::string_view number, std::string_view service) const;

  // Every record of the number in every tree (for `umstore enum lookup`),
  // and why a tree could not be asked.
  struct Listing {
    std::vector<EnumRecord> records;
    std::vector<std::string> errors;
  };
  Listing list(std::string_view number) const;

 private:
  std::shared_ptr<Resolver> resolver_;
  std::vector<std::string> trees_;
};

}  // namespace umstore::dns
