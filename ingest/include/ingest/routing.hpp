#pragma once
// From the number a gateway says was called to a mailbox: normalisation to
// E.164 with the site's dialling rules, then the account lookup, with a
// catch-all mailbox for numbers nobody owns, or else ENUM.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mailstore {
class AccountStore;
}

namespace umstore::ingest {

// Extensions first..last (same number of digits) map to e164_prefix + the
// extension: "100-199=+4930123" sends 150 to +4930123150.
struct ExtensionRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::size_t digits = 0;
  std::string e164_prefix;
};

// Throws std::invalid_argument naming what is wrong.
ExtensionRange parse_extension_range(std::string_view text);

struct RoutingRules {
  std::string country_code;                // digits, e.g. "49"; empty: national numbers are refused
  std::string national_prefix = "0";       // trunk prefix before national numbers
  std::string international_prefix = "00"; // "011" in North America
  std::vector<ExtensionRange> extensions;
  std::string catch_all;                   // E.164 mailbox for unknown numbers; empty: refuse them
  // [enum] domains are set: without a catch-all, voicemail and fax for an
  // E.164 number with no mailbox here are accepted and sent where ENUM says
  // (its E2U+vpim:mailto or E2U+ifax:mailto record).
  bool enum_for_unknown = false;
};

// "+49 30 123-456", "tel:+4930123456", "0049...", "030 123456" (national),
// "150" (extension) -> "+4930123456"...; nullopt when no rule applies.
std::optional<std::string> normalise_called_number(std::string_view called, const RoutingRules& rules);

// The called number has no mailbox and neither a catch-all nor ENUM is
// configured, or it cannot be read as a number: what() says which and why.
class UnroutableNumber : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Route {
  std::string mailbox;     // E.164 of an existing account; with by_enum, the number called
  std::string owner_name;  // its display name
  bool catch_all = false;
  bool by_enum = false;    // no mailbox here: the message goes where ENUM says
};

class Router {
 public:
  Router(RoutingRules rules, const mailstore::AccountStore& accounts);
  Route route(std::string_view called) const;  // throws UnroutableNumber
  const RoutingRules& rules() const noexcept { return rules_; }

 private:
  RoutingRules rules_;
  const mailstore::AccountStore& accounts_;
};

}  // namespace umstore::ingest
