#pragma once
// The ESMTP server (RFC 5321) that takes mail from gateways, other mail
// systems and umstore's own ingest pipeline. Local recipients are E.164
// mailboxes of the AccountStore; mail is on disk (fsync'ed) before 250.
#include <asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/login_throttle.hpp"
#include "auth/password_pool.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "dns/resolver.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "net/memory_budget.hpp"
#include "net/task.hpp"
#include "dns/enum_lookup.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/fax_outbox.hpp"
#include "smtp/smtp_metrics.hpp"

namespace umstore::smtp {

// Inbound sender authentication (SPF, DKIM, DMARC: mailauth/) of mail from
// clients that neither authenticated nor are in trusted_networks. Every
// message stored or queued then carries our Authentication-Results; DMARC
// fail with p=reject is refused (550 5.7.1), with p=quarantine filed into
// the mailbox's \Junk folder, a DNS failure deferred (451 4.7.0).
struct SenderChecks {
  std::shared_ptr<dns::Resolver> resolver;
  std::string authserv_id;  // our name in Authentication-Results (RFC 8601 §2.5)
  // The checks wait on DNS: here, so a slow domain holds up neither the
  // I/O threads nor the delivery pool's fsyncs.
  std::size_t threads = 8;
};

struct SmtpServerConfig {
  std::string hostname = "localhost";            // our name in the greeting and Received:
  std::vector<std::string> local_domains;        // domains whose E.164 local parts are our mailboxes
  std::size_t max_message_bytes = 50u << 20;     // SIZE
  std::size_t max_recipients = 100;
  std::size_t max_connections = 1000;
  // From one IP address, so one client cannot lock the others out; over
  // either limit a client hears 421 4.7.0 and is closed.
  std::size_t max_connections_per_address = 50;
  std::shared_ptr<asio::ssl::context> tls;       // STARTTLS when set
  // Submission over implicit TLS (RFC 8314, port 465): the handshake comes
  // before the greeting, within the line budget; needs `tls`.
  bool implicit_tls = false;
  // Where postmaster@<local domain> goes (RFC 5321 §4.5.1 requires it to
  // exist). Empty: the account with the lowest number; with no accounts at
  // all postmaster is refused with 550 5.1.1.
  std::string postmaster_number;
  std::chrono::seconds idle_timeout{300};        // RFC 5321 §4.5.3.2: at least 5 minutes
  // A command line, once begun, must be complete within this; DATA and BDAT
  // as a whole must then average 4 KiB/s (net::Connection's literal rate).
  std::chrono::seconds line_timeout{60};
  // Mailstore and queue fsyncs run here, off the I/O threads. Many, because
  // they wait on the disk, not the CPU: concurrent fsyncs share journal
  // commits (the file system's group commit), two threads would serialise them.
  std::size_t delivery_threads = 16;
  // Messages are held in memory from DATA to delivery; past this total over
  // all connections a message gets 452 4.3.1 (RFC 1870 §6) instead. The
  // budget may be shared with the other listeners; unset: one of
  // max_buffered_bytes for this server.
  std::size_t max_buffered_bytes = 512u << 20;
  std::shared_ptr<net::MemoryBudget> buffer_budget;

  // Relaying. Mail for other domains is accepted only from authenticated
  // clients and from these networks (gateways), and only with a queue.
  std::vector<std::string> trusted_networks;     // "127.0.0.0/8", "::1/128", "192.0.2.7"
  DeliveryQueue* queue = nullptr;                // not owned; nullptr: no relaying, no DSNs
  std::function<void()> queued;                  // called after a message was queued (wake the runner)
  // Local parts (lower case) that name mailboxes: "voicemail" -> {"+15550100"},
  // a list: "sales" -> {"+15550100", "+15550101"}. Unknown members are skipped.
  std::map<std::string, std::vector<std::string>> aliases;
  // Where DSNs for umstore's own forwarded copies come back (the ingest
  // queue's return path); accepted from anyone and queued for the runner's
  // report_sink. Empty: none.
  std::string report_address;
  // A number in our domains without a mailbox here, from a client that may
  // relay, is accepted and queued when ENUM trees are configured: the queue
  // runner looks up its E2U+vpim:mailto address (RFC 4238). Unset: 5.1.1.
  std::shared_ptr<const dns::EnumLookup> enum_routes;
  // Faxes from email ([fax_out]): fax addresses are the outbox's to accept
  // or refuse, and their messages go to it. Unset: they are ordinary addresses.
  std::shared_ptr<FaxOutbox> fax_outbox;

  // AUTH PLAIN and LOGIN (RFC 4954) against the AccountStore.
  bool auth = false;                             // offer AUTH (the submission listener)
  bool auth_requires_tls = true;                 // only after STARTTLS
  bool require_auth = false;                     // MAIL needs AUTH first (RFC 6409 submission)
  // Failed AUTH handling and the password checks, shared with the other
  // listeners; unset: the server's own (default limits; 2 threads, 8 waiting).
  std::shared_ptr<auth::LoginThrottle> login_throttle;
  std::shared_ptr<auth::PasswordPool> password_pool;

  // Content processing for local mailboxes (delivery/): playable forms for
  // inbound VPIM, gateway voicemail emails, refusals. Unset: stored as received.
  std::optional<delivery::DeliverySettings> delivery_policy;
  std::optional<SenderChecks> sender_checks;     // unset: no sender authentication

  // Counted into by every session; servers given the same one count together.
  std::shared_ptr<SmtpMetrics> metrics = std::make_shared<SmtpMetrics>();
};

// The limits SIGHUP may change under a running server: the next command
// that checks one sees the new value (a message being received keeps the
// size limit it started with).
struct SmtpLimits {
  std::size_t max_message_bytes;
  std::size_t max_recipients;
  std::chrono::seconds idle_timeout;
};

// Sessions run on the io_context's threads. Destroy the server only after
// that io_context has stopped running (or call stop() and let it drain).
class SmtpServer {
 public:
  SmtpServer(asio::io_context& io, const net::tcp::endpoint& where, SmtpServerConfig config,
             mailstore::MailStore& store, const mailstore::AccountStore& accounts);
  ~SmtpServer();
  void start();
  void stop();  // stops accepting and closes the open connections
  void set_limits(const SmtpLimits& limits);
  SmtpLimits limits() const;
  net::tcp::endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::smtp
