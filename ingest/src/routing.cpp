#include "ingest/routing.hpp"

#include "common/e164.hpp"
#include "common/parse_number.hpp"
#include "mailstore/account_store.hpp"

namespace umstore::ingest {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<std::string> as_extension(std::string_view digits, const RoutingRules& rules) {
  const auto n = parse_number<std::uint64_t>(digits);
  if (!n) return std::nullopt;
  for (const auto& range : rules.extensions)
    if (digits.size() == range.digits && *n >= range.first && *n <= range.last) {
      const std::string e164 = range.e164_prefix + std::string(digits);
      if (is_e164(e164)) return e164;
    }
  return std::nullopt;
}

}  // namespace

ExtensionRange parse_extension_range(std::string_view text) {
  const auto eq = text.find('=');
  const auto dash = text.find('-');
  if (eq == std::string_view::npos || dash == std::string_view::npos || dash > eq)
    throw std::invalid_argument("extension range '" + std::string(text) +
                                "' should look like FIRST-LAST=+PREFIX, e.g. 100-199=+4930123");
  const auto first = text.substr(0, dash), last = text.substr(dash + 1, eq - dash - 1), prefix = text.substr(eq + 1);
  if (!all_digits(first) || !all_digits(last) || first.size() != last.size() || first.size() > 9)
    throw std::invalid_argument("extension range '" + std::string(text) +
                                "': FIRST and LAST must be digits of the same length (at most 9)");
  if (!prefix.starts_with('+') || !all_digits(prefix.substr(1)))
    throw std::invalid_argument("extension range '" + std::string(text) + "': the prefix must be + and digits");
  ExtensionRange r{*parse_number<std::uint64_t>(first), *parse_number<std::uint64_t>(last), first.size(), std::string(prefix)};
  if (r.first > r.last) throw std::invalid_argument("extension range '" + std::string(text) + "': FIRST > LAST");
  return r;
}

std::optional<std::string> normalise_called_number(std::string_view called, const RoutingRules& rules) {
  const std::string digits = dialled_digits(called);
  if (digits.empty()) return std::nullopt;
  if (digits.front() == '+') return normalise_e164(digits);
  if (auto ext = as_extension(digits, rules)) return ext;
  if (!rules.international_prefix.empty() && digits.starts_with(rules.international_prefix))
    return normalise_e164("+" + digits.substr(rules.international_prefix.size()));
  if (!rules.country_code.empty() && !rules.national_prefix.empty() && digits.starts_with(rules.national_prefix))
    return normalise_e164("+" + rules.country_code + digits.substr(rules.national_prefix.size()));
  return std::nullopt;
}

Router::Router(RoutingRules rules, const mailstore::AccountStore& accounts)
    : rules_(std::move(rules)), accounts_(accounts) {}

Route Router::route(std::string_view called) const {
  const auto number = normalise_called_number(called, rules_);
  if (number) {
    if (auto account = accounts_.find(*number)) return {account->number, account->name, false};
  }
  if (!rules_.catch_all.empty()) {
    if (auto account = accounts_.find(rules_.catch_all)) return {account->number, account->name, true};
  }
  if (!number)
    throw UnroutableNumber("called number '" + std::string(called) +
                           "' is neither E.164 (+ and digits) nor a national number or extension the routing rules know");
  if (rules_.enum_for_unknown) return {*number, "", false, true};
  throw UnroutableNumber("no mailbox for " + *number + " (called number '" + std::string(called) +
                         "') and no catch-all mailbox is configured");
}

}  // namespace umstore::ingest
