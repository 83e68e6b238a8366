#pragma once
// The client side of relaying: one connection to a next hop (an MX host or
// the smarthost) that can carry several transactions (connection reuse),
// with per-recipient replies and RFC 3461 DSN parameters passed on when the
// next hop offers DSN. Blocking; the queue runner calls it on its thread.
#include <chrono>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::smtp {

struct RelayTransaction {
  std::string sender;            // without <>, empty for the null sender
  std::string ret;               // RET, passed on only to DSN servers
  std::string envid;             // ENVID (xtext)
  bool body_8bit = false;
  bool smtputf8 = false;
  std::span<const QueuedRecipient> recipients;
  std::string_view message;      // CRLF, not dot-stuffed
};

struct RelayOutcome {
  std::vector<SmtpReply> replies;  // one per recipient: the RCPT refusal or the DATA reply
  bool dsn_passed_on = false;      // the next hop took our NOTIFY/ORCPT/ENVID/RET
};

// STARTTLS to the next hop (RFC 3207), the levels of Postfix's
// smtp_tls_security_level. A failure at Required or Verified is a temporary
// failure (the message stays queued) naming the reason.
enum class RelayTls {
  Off,            // none: never
  Opportunistic,  // may: when offered; a failed handshake is retried once in plain text
  Audited,        // may, and a certificate that would fail Verified is logged (MTA-STS "testing")
  Required,       // encrypt: STARTTLS must be offered and complete; the certificate is not verified
  Verified,       // verify: as encrypt, and the certificate chains to a trusted CA and names the host we dialled
  Dane,           // dane: as encrypt, and the certificate matches the host's DNSSEC-validated TLSA records (RFC 7672)
};

struct RelayTlsPolicy {
  RelayTls level = RelayTls::Opportunistic;
  std::filesystem::path ca_file;  // PEM CAs trusted besides the system's (Verified, Audited); empty: the system's only
  std::vector<dns::TlsaRecord> tlsa;  // Dane: the usable records (DANE-TA(2), DANE-EE(3))
};

class RelayConnection {
 public:
  // Connects, reads the greeting, says EHLO (HELO if EHLO is refused) and
  // starts TLS as `tls` says. Throws SmtpError (code 0: network trouble;
  // else the refusal).
  // `addresses`: where `host` is, as our resolver found it; empty: the
  // system resolver's.
  RelayConnection(const std::string& host, unsigned short port, const std::string& helo_name,
                  std::chrono::seconds timeout, const RelayTlsPolicy& tls = {},
                  std::vector<std::string> addresses = {});
  ~RelayConnection();
  RelayConnection(const RelayConnection&) = delete;
  RelayConnection& operator=(const RelayConnection&) = delete;

  const std::string& host() const noexcept { return host_; }
  bool supports_dsn() const noexcept;
  bool encrypted() const noexcept;

  // One transaction. Refusals come back as replies; throws SmtpError only
  // when the connection broke (then the connection is unusable).
  RelayOutcome send(const RelayTransaction& transaction);

  void quit() noexcept;

 private:
  struct Impl;
  void open(unsigned short port, const std::string& helo_name, std::chrono::seconds timeout, const RelayTlsPolicy& tls);
  std::unique_ptr<Impl> impl_;
  std::string host_;
  std::vector<std::string> addresses_;
};

// The mail exchangers of a domain in preference order, from the system
// resolver (res_query); the domain itself when it has no MX record.
std::vector<std::string> mail_exchangers(const std::string& domain);

struct MailExchanger {
  std::string host;
  std::vector<std::string> addresses;  // A then AAAA, as text
  bool secure = false;  // the MX and address answers were DNSSEC-validated: DANE may apply (RFC 7672 §2.2)
};
// The same from `resolver` (the [dns] server, its timeout and cache), with
// each host's addresses. A DNS failure throws SmtpError (a temporary one);
// a host without addresses is left out.
std::vector<MailExchanger> mail_exchangers(dns::Resolver& resolver, const std::string& domain);

}  // namespace umstore::smtp
