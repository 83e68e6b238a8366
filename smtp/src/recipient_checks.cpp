// Who may send to whom (Postfix's smtpd_check): trusted networks, relay
// permission, and the mailboxes a recipient maps to (numbers, aliases,
// gateway drop addresses, postmaster, non-mail-user, the ingest
// report address).
#include "smtp_session.hpp"

#include <algorithm>

#include "common/ascii.hpp"
#include "common/log.hpp"

namespace umstore::smtp {
namespace {

// "a.b.c.d/len" or an address alone; true when `peer` is inside.
bool in_network(const asio::ip::address& peer, std::string_view network) {
  auto slash = network.find('/');
  std::error_code ec;
  auto base = asio::ip::make_address(std::string(network.substr(0, slash)), ec);
  if (ec) return false;
  auto bytes_of = [](const asio::ip::address& a) {
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      return std::vector<unsigned char>(b.begin(), b.end());
    }
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
      return std::vector<unsigned char>(b.begin(), b.end());
    }
    auto b = v6.to_bytes();
    return std::vector<unsigned char>(b.begin(), b.end());
  };
  const auto want = bytes_of(base), have = bytes_of(peer);
  if (want.size() != have.size()) return false;
  unsigned prefix = static_cast<unsigned>(want.size() * 8);
  if (slash != std::string_view::npos) {
    const std::string digits(network.substr(slash + 1));
    if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    prefix = std::min(prefix, static_cast<unsigned>(std::stoul(digits)));
  }
  for (unsigned bit = 0; bit < prefix; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((want[bit / 8] & mask) != (have[bit / 8] & mask)) return false;
  }
  return true;
}


}  // namespace

bool SmtpSession::peer_in_trusted_networks() const {
  std::error_code ec;
  const auto peer = asio::ip::make_address(connection_.peer_address(), ec);
  if (ec) return false;
  const auto& networks = server_.config.trusted_networks;
  return std::any_of(networks.begin(), networks.end(),
                     [&](const std::string& network) { return in_network(peer, network); });
}

bool SmtpSession::may_relay() const {
  return server_.config.queue && (trusted_peer_ || !authenticated_.empty());
}

// The E.164 mailboxes a recipient maps to (one empty string: relayed
// elsewhere; several: an alias naming a list), or nullopt after refusing it.
std::optional<std::vector<std::string>> SmtpSession::mailboxes_for(const Mailbox& recipient) {
  auto route = route_recipient(recipient, server_.config.local_domains);
  using Numbers = std::vector<std::string>;
  switch (route.kind) {
    case RecipientKind::Foreign:
      if (may_relay()) return Numbers{std::string()};
      refuse(554, "5.7.1", "relaying denied: " + recipient.address() + " is not in a domain this server serves");
      return std::nullopt;
    case RecipientKind::NonMailUser:
      refuse(550, "5.1.1", recipient.address() + " does not accept mail (RFC 3801)");
      return std::nullopt;
    case RecipientKind::NotANumber: {
      std::string alias = recipient.local_part;
      alias = ascii_lower(alias);
      if (const auto found = server_.config.aliases.find(alias); found != server_.config.aliases.end()) {
        Numbers members;
        for (const auto& number : found->second) {
          if (server_.accounts.find(number)) members.push_back(number);
          else log_(LogLevel::Warning, "alias {} names {}, which has no mailbox", alias, number);
        }
        if (!members.empty()) return members;
      }
      const auto& policy = server_.config.delivery_policy;
      if (policy && delivery::is_gateway_drop_address(*policy, recipient.address()))
        return Numbers{std::string(delivery::kMailboxFromSubject)};
      // DSNs for copies the ingest queue forwarded: queued, and the runner hands them back.
      const auto& reports = server_.config.report_address;
      if (server_.config.queue && !reports.empty() && ascii_iequals(recipient.address(), reports))
        return Numbers{std::string()};
      refuse(550, "5.1.1", "no mailbox " + recipient.local_part +
                               " here: local parts are E.164 numbers such as +15550100");
      return std::nullopt;
    }
    case RecipientKind::Postmaster:
      if (auto number = postmaster_mailbox()) return Numbers{*number};
      refuse(550, "5.1.1", "postmaster has no mailbox here yet; contact the administrator another way");
      return std::nullopt;
    case RecipientKind::Number:
      if (server_.accounts.find(route.number)) return Numbers{route.number};
      if (server_.config.enum_routes && may_relay()) {
        log_(LogLevel::Info, "{} has no mailbox here: queued for an ENUM route", route.number);
        return Numbers{std::string()};
      }
      refuse(550, "5.1.1", "mailbox " + route.number + " does not exist here");
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> SmtpSession::postmaster_mailbox() const {
  const auto& configured = server_.config.postmaster_number;
  if (!configured.empty()) return server_.accounts.find(configured) ? std::optional(configured) : std::nullopt;
  auto accounts = server_.accounts.list();
  auto lowest = std::min_element(accounts.begin(), accounts.end(),
                                 [](const auto& a, const auto& b) { return a.number < b.number; });
  return lowest == accounts.end() ? std::nullopt : std::optional(lowest->number);
}

}  // namespace umstore::smtp
