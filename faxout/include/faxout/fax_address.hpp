#pragma once
// Which mail addresses are faxes: RFC 3192's minimal fax address
// "FAX=+12025550123/T33S=6789@example.net" in the domains we serve, and
// "+12025550123@fax.example.net" (a configurable subdomain). The number is
// brought to E.164 by the site's dialling rules ([routing]), so people may
// write it as they dial it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/routing.hpp"

namespace umstore::faxout {

struct FaxAddressing {
  std::vector<std::string> domains;        // our mail domains (lower case)
  std::string subdomain = "fax";           // "+number@fax.<domain>"; empty: only FAX=
  ingest::RoutingRules routing;            // country code, prefixes
};

struct FaxAddress {
  std::string written;      // the number as the address had it
  std::string sub_address;  // T.33 sub-address (digits), may be empty
  std::optional<std::string> number;  // E.164 after the dialling rules; nullopt: not a number we can dial
};

// nullopt when `address` is not a fax address of ours at all.
std::optional<FaxAddress> parse_fax_address(std::string_view address, const FaxAddressing& addressing);

}  // namespace umstore::faxout
