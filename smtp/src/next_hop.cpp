// Where relayed mail goes next: the smarthost, or the domain's MX hosts in
// preference order. With a resolver, MX and address lookups go through it;
// with MTA-STS policies too, an "enforce" policy of the domain (RFC 8461
// §5.1) leaves out MX hosts it does not name and requires TLS whose
// certificate verifies for the MX host's name; "testing" only logs the MX
// hosts it does not name and certificates that would not verify. An MX host with DNSSEC-validated TLSA records is
// held to them instead (DANE, RFC 7672), whatever the MTA-STS policy.
#include "common/log.hpp"
#include "smtp/queue_runner.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "queue";
constexpr unsigned short kSmtpPort = 25;

std::pair<std::string, unsigned short> split_host_port(const std::string& text, unsigned short default_port) {
  auto colon = text.rfind(':');
  const auto bracket = text.find(']');
  if (colon == std::string::npos || (bracket != std::string::npos && bracket > colon)) return {text, default_port};
  return {text.substr(0, colon), static_cast<unsigned short>(std::stoul(text.substr(colon + 1)))};
}

void add_error(std::string& errors, std::string_view error) {
  errors += (errors.empty() ? "" : "; ") + std::string(error);
}

// RFC 7672 §2.2: the TLSA records of an MX host whose name and addresses
// DNSSEC validated. Usable ones: TLS held to them (DANE-TA(2), DANE-EE(3);
// PKIX-TA(0) and PKIX-EE(1) are not used for SMTP, §3.1.3); only unusable
// ones: TLS without authentication, but TLS; none (validated): no DANE.
// A lookup that fails or does not validate: the host must not be used.
std::optional<RelayTlsPolicy> dane_policy(dns::Resolver& resolver, const std::string& host) {
  const auto found = resolver.tlsa("_25._tcp." + host);
  if (found.status == dns::DnsStatus::temporary_failure)
    throw SmtpError("DANE: cannot look up the TLSA records of " + host + ": " + found.error, {});
  if (!found.found() || !found.secure) return std::nullopt;
  RelayTlsPolicy policy{RelayTls::Dane, {}, {}};
  for (const auto& r : found.records)
    if ((r.usage == 2 || r.usage == 3) && r.selector <= 1 && r.matching_type <= 2) policy.tlsa.push_back(r);
  if (policy.tlsa.empty()) policy.level = RelayTls::Required;
  return policy;
}

}  // namespace

std::unique_ptr<RelayConnection> QueueRunner::connect_next_hop(const std::string& domain, std::string& errors) const {
  const auto connect = [&](const std::string& host, unsigned short port, const RelayTlsPolicy& tls,
                           std::vector<std::string> addresses) -> std::unique_ptr<RelayConnection> {
    try {
      auto connection =
          std::make_unique<RelayConnection>(host, port, config_.hostname, config_.timeout, tls, std::move(addresses));
      log(LogLevel::Debug, kLog, "connected to {}:{}{}", host, port, connection->encrypted() ? " with TLS" : "");
      return connection;
    } catch (const SmtpError& e) {
      add_error(errors, e.what());
      return nullptr;
    }
  };
  if (!config_.smarthost.empty()) {
    const auto [host, port] = split_host_port(config_.smarthost, kSmtpPort);
    return connect(host, port, config_.smarthost_tls, {});
  }
  if (!config_.resolver) {
    for (const auto& host : mail_exchangers(domain))
      if (auto connection = connect(host, kSmtpPort, {}, {})) return connection;
    return nullptr;
  }
  std::optional<MtaStsPolicy> policy;
  std::vector<MailExchanger> exchangers;
  try {
    if (config_.mta_sts) policy = config_.mta_sts->policy_for(domain);
    exchangers = mail_exchangers(*config_.resolver, domain);
  } catch (const std::exception& e) {
    add_error(errors, e.what());
    return nullptr;
  }
  if (exchangers.empty()) add_error(errors, "no mail exchanger of " + domain + " has an address");
  const bool enforce = policy && policy->mode == MtaStsPolicy::Mode::Enforce;
  for (auto& mx : exchangers) {
    // DANE first (RFC 8461 §2): a host with DNSSEC-validated TLSA records is held to them alone.
    std::optional<RelayTlsPolicy> dane;
    if (mx.secure) {
      try {
        dane = dane_policy(*config_.resolver, mx.host);
      } catch (const SmtpError& e) {
        add_error(errors, e.what());
        continue;
      }
    }
    if (dane) {
      if (auto connection = connect(mx.host, kSmtpPort, *dane, std::move(mx.addresses))) return connection;
      continue;
    }
    if (policy && policy->mode != MtaStsPolicy::Mode::None && !policy->allows(mx.host)) {
      const std::string why = mx.host + " is not an MX host the MTA-STS policy of " + domain + " names";
      if (enforce) {
        add_error(errors, why);
        continue;
      }
      log(LogLevel::Info, kLog, "MTA-STS testing: {}", why);
    }
    RelayTlsPolicy tls;
    if (policy && policy->mode != MtaStsPolicy::Mode::None)
      tls = RelayTlsPolicy{enforce ? RelayTls::Verified : RelayTls::Audited, config_.mta_sts->ca_file(), {}};
    const auto before = errors.size();
    if (auto connection = connect(mx.host, kSmtpPort, tls, std::move(mx.addresses))) return connection;
    if (enforce) errors.insert(before + (before ? 2 : 0), "MTA-STS policy of " + domain + " (enforce): ");
  }
  return nullptr;
}

}  // namespace umstore::smtp
