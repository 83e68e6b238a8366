#include "smtp/relay_client.hpp"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <stdexcept>

#include "client_connection.hpp"
#include "common/log.hpp"

namespace umstore::smtp {
namespace {

using namespace detail;

SmtpReply synthetic(int code, std::string enhanced, std::string text) { return {code, std::move(enhanced), std::move(text)}; }

constexpr std::string_view kLog = "relay";

struct TlsHandshakeFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

struct RelayConnection::Impl {
  Impl(const std::string& host, std::span<const std::string> addresses, unsigned short port,
       std::chrono::seconds timeout)
      : connection(addresses, host, port, timeout) {}
  ClientConnection connection;
  ServerExtensions extensions;
  bool broken = false;
  bool used = false;
};

RelayConnection::RelayConnection(const std::string& host, unsigned short port, const std::string& helo_name,
                                 std::chrono::seconds timeout, const RelayTlsPolicy& tls,
                                 std::vector<std::string> addresses)
    : host_(host), addresses_(std::move(addresses)) {
  try {
    open(port, helo_name, timeout, tls);
  } catch (const TlsHandshakeFailed& e) {
    if (tls.level != RelayTls::Opportunistic && tls.level != RelayTls::Audited) throw SmtpError(e.what(), {});
    log(LogLevel::Warning, kLog, "{}; trying again without TLS", e.what());
    open(port, helo_name, timeout, {RelayTls::Off, {}, {}});
  }
}

void RelayConnection::open(unsigned short port, const std::string& helo_name, std::chrono::seconds timeout,
                           const RelayTlsPolicy& tls) {
  impl_ = std::make_unique<Impl>(host_, addresses_, port, timeout);
  auto& connection = impl_->connection;
  const bool required =
      tls.level == RelayTls::Required || tls.level == RelayTls::Verified || tls.level == RelayTls::Dane;
  SmtpReply greeting = connection.read_reply();
  if (greeting.code / 100 != 2) throw SmtpError(host_ + " refused the connection: " + describe(greeting), greeting);
  SmtpReply ehlo = connection.command("EHLO " + helo_name);
  if (ehlo.code / 100 != 2) {
    if (required) throw SmtpError(host_ + " refused EHLO, so no STARTTLS, which is required", {});
    SmtpReply helo = connection.command("HELO " + helo_name);
    if (helo.code / 100 != 2) throw SmtpError(host_ + " refused HELO: " + describe(helo), helo);
    return;
  }
  impl_->extensions = parse_ehlo(ehlo);
  if (tls.level == RelayTls::Off) return;
  if (!impl_->extensions.starttls) {
    if (required) throw SmtpError(host_ + " does not offer STARTTLS, which is required", {});
    return;
  }
  SmtpReply ready = connection.command("STARTTLS");
  if (ready.code != 220) {
    if (required) throw SmtpError(host_ + " refused STARTTLS: " + describe(ready), {});
    return;  // still in plain text and in the same state (RFC 3207 §4)
  }
  try {
    if (tls.level == RelayTls::Verified) connection.start_verified_tls(host_, tls.ca_file);
    else if (tls.level == RelayTls::Dane) connection.start_dane_tls(host_, tls.tlsa);
    else if (tls.level != RelayTls::Audited) connection.start_tls(host_);
    else if (const auto why = connection.start_audited_tls(host_, tls.ca_file))
      log(LogLevel::Warning, kLog, "MTA-STS testing: the certificate of {} would fail verification ({}); sent anyway",
          host_, *why);
  } catch (const SmtpError& e) {
    throw TlsHandshakeFailed(e.what());
  }
  // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
  SmtpReply again = connection.command("EHLO " + helo_name);
  if (again.code / 100 != 2) throw SmtpError(host_ + " refused EHLO after STARTTLS: " + describe(again), again);
  impl_->extensions = parse_ehlo(again);
}

RelayConnection::~RelayConnection() = default;

bool RelayConnection::supports_dsn() const noexcept { return impl_->extensions.dsn; }
bool RelayConnection::encrypted() const noexcept { return impl_->connection.encrypted(); }

RelayOutcome RelayConnection::send(const RelayTransaction& t) {
  auto& connection = impl_->connection;
  const auto& ext = impl_->extensions;
  RelayOutcome outcome;
  outcome.dsn_passed_on = ext.dsn;
  if (impl_->broken) throw SmtpError("connection to " + host_ + " is no longer usable", {});
  if (std::exchange(impl_->used, true)) {
    SmtpReply rset = connection.command("RSET");
    if (rset.code / 100 != 2) throw SmtpError(host_ + " refused RSET: " + describe(rset), {});
  }
  if (t.smtputf8 && !ext.smtputf8) {
    // RFC 6531 §3.2: no downgrade here; the sender hears why.
    outcome.replies.assign(t.recipients.size(),
                           synthetic(553, "5.6.7", host_ + " does not support SMTPUTF8, which this message needs"));
    return outcome;
  }
  const std::string stuffed = dot_stuff(t.message);
  std::string mail = "MAIL FROM:<" + t.sender + ">";
  if (ext.size) mail += " SIZE=" + std::to_string(stuffed.size());
  if (t.body_8bit && ext.eight_bit_mime) mail += " BODY=8BITMIME";
  if (t.smtputf8) mail += " SMTPUTF8";
  if (ext.dsn && !t.ret.empty()) mail += " RET=" + t.ret;
  if (ext.dsn && !t.envid.empty()) mail += " ENVID=" + t.envid;

  std::vector<std::string> rcpts;
  for (const auto& r : t.recipients) {
    std::string line = "RCPT TO:<" + r.address + ">";
    if (ext.dsn) {
      if (r.notify.given) line += " NOTIFY=" + format_notify(r.notify);
      // RFC 3461 §4.2: we may add ORCPT when we received none.
      line += " ORCPT=" + (r.orcpt.empty() ? "rfc822;" + xtext_encode(r.address) : r.orcpt);
    }
    rcpts.push_back(std::move(line));
  }

  try {
    std::vector<SmtpReply> rcpt_replies;
    SmtpReply mail_reply;
    if (ext.pipelining) {
      std::string group = mail + "\r\n";
      for (const auto& line : rcpts) group += line + "\r\n";
      connection.send(group);
      mail_reply = connection.read_reply();
      for (std::size_t i = 0; i < rcpts.size(); ++i) rcpt_replies.push_back(connection.read_reply());
    } else {
      mail_reply = connection.command(mail);
      if (mail_reply.code / 100 == 2)
        for (const auto& line : rcpts) rcpt_replies.push_back(connection.command(line));
    }
    if (mail_reply.code / 100 != 2) {
      outcome.replies.assign(t.recipients.size(), mail_reply);
      return outcome;
    }
    const bool any_accepted =
        std::any_of(rcpt_replies.begin(), rcpt_replies.end(), [](const auto& r) { return r.code / 100 == 2; });
    SmtpReply data_reply;
    if (any_accepted) {
      data_reply = connection.command("DATA");
      if (data_reply.code == 354) {
        connection.send(stuffed);
        data_reply = connection.read_reply();
      }
    }
    for (const auto& rcpt : rcpt_replies) outcome.replies.push_back(rcpt.code / 100 == 2 ? data_reply : rcpt);
    return outcome;
  } catch (const SmtpError&) {
    impl_->broken = true;
    throw;
  }
}

void RelayConnection::quit() noexcept {
  if (impl_->broken) return;
  try {
    impl_->connection.command("QUIT");
  } catch (const std::exception&) {
    // Everything we cared about is done.
  }
  impl_->broken = true;
}

std::vector<std::string> mail_exchangers(const std::string& domain) {
  std::array<unsigned char, 4096> answer{};
  const int length = ::res_query(domain.c_str(), ns_c_in, ns_t_mx, answer.data(), static_cast<int>(answer.size()));
  std::vector<std::pair<unsigned, std::string>> found;
  ns_msg message;
  if (length > 0 && ::ns_initparse(answer.data(), length, &message) == 0) {
    const int count = ns_msg_count(message, ns_s_an);
    for (int i = 0; i < count; ++i) {
      ns_rr record;
      if (::ns_parserr(&message, ns_s_an, i, &record) != 0 || ns_rr_type(record) != ns_t_mx) continue;
      if (ns_rr_rdlen(record) < 3) continue;
      const unsigned preference = ns_get16(ns_rr_rdata(record));
      std::array<char, NS_MAXDNAME> name{};
      if (::dn_expand(ns_msg_base(message), ns_msg_end(message), ns_rr_rdata(record) + 2, name.data(),
                      static_cast<int>(name.size())) < 0)
        continue;
      found.emplace_back(preference, name.data());
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> hosts;
  for (auto& [preference, name] : found)
    if (!name.empty() && name != ".") hosts.push_back(std::move(name));
  if (hosts.empty()) hosts.push_back(domain);  // RFC 5321 §5.1: the implicit MX
  return hosts;
}

std::vector<MailExchanger> mail_exchangers(dns::Resolver& resolver, const std::string& domain) {
  const auto fail = [&domain](std::string_view what, const auto& answer) {
    return SmtpError("cannot look up the " + std::string(what) + " of " + domain + ": " +
                         (answer.error.empty() ? std::string(dns::to_string(answer.status)) : answer.error),
                     {});
  };
  auto mx = resolver.mx(domain);
  if (mx.status == dns::DnsStatus::temporary_failure) throw fail("mail exchangers", mx);
  std::stable_sort(mx.records.begin(), mx.records.end(),
                   [](const dns::MxRecord& a, const dns::MxRecord& b) { return a.preference < b.preference; });
  std::vector<std::string> hosts;
  for (const auto& record : mx.records)
    if (!record.exchange.empty() && record.exchange != ".") hosts.push_back(record.exchange);
  if (hosts.empty()) hosts.push_back(domain);  // RFC 5321 §5.1: the implicit MX
  std::vector<MailExchanger> out;
  for (const auto& host : hosts) {
    MailExchanger exchanger{host, {}, mx.secure};
    std::optional<SmtpError> failed;
    for (const auto type : {dns::RrType::a, dns::RrType::aaaa}) {
      auto found = resolver.addresses(host, type);
      if (found.status == dns::DnsStatus::temporary_failure) failed = fail("addresses", found);
      if (found.found() && !found.secure) exchanger.secure = false;
      exchanger.addresses.insert(exchanger.addresses.end(), found.records.begin(), found.records.end());
    }
    // Without any address because DNS failed: try again later rather than skip the host.
    if (exchanger.addresses.empty() && failed) throw *failed;
    if (!exchanger.addresses.empty()) out.push_back(std::move(exchanger));
  }
  return out;
}

}  // namespace umstore::smtp
