// umstore enum lookup: what ENUM (RFC 6116) publishes for a number in the
// configured trees, and where umstore would send voice and fax for it.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "dns/enum_lookup.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kEnumUsage = R"(usage:
  umstore [--config FILE] enum lookup NUMBER [--tree DOMAIN[,DOMAIN...]]

Asks the ENUM trees of [enum] domains (or those given with --tree) for
NUMBER's NAPTR records (NUMBER in E.164 form: +15550100), through the
resolver of [dns], and prints each record, then the addresses umstore
would use: E2U+vpim:mailto for voice (VPIM v2) and E2U+ifax:mailto for
fax. Exits 0 when every tree answered (even with no record), 1 when one
could not be asked (a temporary DNS failure).
)";

void print_route(const dns::EnumLookup& lookup, std::string_view number, std::string_view label,
                 std::string_view service) {
  const auto answer = lookup.find(number, service);
  if (answer.status != dns::EnumStatus::found) {
    std::cout << fmt::format("{:<13} none ({})\n", label, answer.reason);
    return;
  }
  const auto address = dns::mailto_address(answer.uri);
  std::cout << fmt::format("{:<13} {} (from {}, TTL {} s)\n", label,
                           address ? *address : answer.uri + " (not a usable mailto: address)", answer.domain,
                           answer.ttl);
}

}  // namespace

int run_enum(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--tree"}, {}}));
  if (cmd.printed_help(kEnumUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.size() != 2 || words[0] != "lookup") throw UsageError("expected: enum lookup NUMBER");
  const std::string& number = words[1];
  if (!dns::enum_domain(number, "e164.arpa"))
    throw UsageError(number + " is not an E.164 number (+ and up to 15 digits, e.g. +15550100)");
  const Settings s = load_settings(cmd);
  const std::vector<std::string> trees = cmd.value("--tree") ? comma_list(*cmd.value("--tree")) : s.enum_trees;
  if (trees.empty()) throw UsageError("no ENUM trees: set [enum] domains in the config or give --tree e164.arpa");

  const dns::EnumLookup lookup(std::make_shared<dns::Resolver>(s.dns), trees);
  const auto listing = lookup.list(number);
  for (const auto& r : listing.records) {
    const auto& n = r.naptr;
    std::cout << fmt::format("{}  NAPTR {} {} \"{}\" \"{}\" \"{}\" {}{}\n", r.domain, n.order, n.preference, n.flags,
                             n.services, n.regexp, n.replacement.empty() ? "." : n.replacement,
                             r.uri ? "  -> " + *r.uri : "");
  }
  if (listing.records.empty()) std::cout << "no NAPTR records for " << number << "\n";
  for (const auto& error : listing.errors) std::cerr << "umstore: " << error << "\n";
  print_route(lookup, number, "voice (VPIM)", dns::kVpimService);
  print_route(lookup, number, "fax (IFAX)", dns::kIfaxService);
  return listing.errors.empty() ? 0 : 1;
}

}  // namespace umstore::app
