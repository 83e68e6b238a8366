#pragma once
// Works off the DeliveryQueue on its own thread: local recipients go into
// the mailstore, others through RelayConnection to the smarthost or the
// domain's MX hosts. Temporary failures are retried with exponential
// backoff until max_age; the envelope sender hears of failures, delays and
// (when asked with NOTIFY=SUCCESS) successes through RFC 3464 DSNs, which
// are themselves queued with the null sender.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "delivery/local_delivery.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "dns/enum_lookup.hpp"
#include "mailauth/dkim.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/mta_sts.hpp"
#include "smtp/smtp_metrics.hpp"
#include "smtp/relay_client.hpp"
#include "smtp/smtp_protocol.hpp"

namespace umstore::smtp {

// When a deferred message is tried again, warned about and given up on.
struct RetrySchedule {
  std::chrono::seconds retry_base{60};         // first retry after this, doubling each time
  std::chrono::seconds retry_max{3600};        // backoff cap
  std::chrono::seconds max_age{5 * 24 * 3600}; // then temporary failures become final
  std::chrono::seconds delay_warning{4 * 3600};// delayed DSN once a message is this old
  bool operator==(const RetrySchedule&) const = default;
};

struct QueueRunnerConfig {
  std::string hostname = "localhost";          // EHLO name, Reporting-MTA
  std::vector<std::string> local_domains;      // where DSN recipients may be local mailboxes
  std::string smarthost;                       // "host:port"; empty: MX hosts of each domain, port 25
  RelayTlsPolicy smarthost_tls;                // STARTTLS to the smarthost (MX hosts: opportunistic, or as MTA-STS says)
  RetrySchedule schedule;                      // SIGHUP may change it (set_schedule)
  std::chrono::seconds poll_interval{5};       // rescan the queue (CLI retry/delete) this often
  std::chrono::seconds timeout{60};            // per SMTP command to a next hop
  std::optional<delivery::DeliverySettings> delivery_policy;  // as SmtpServerConfig's, for local copies
  // What leaves for another system (relayed, forwarded, DSNs) is DKIM-signed
  // with the key of its From: domain (or a parent domain) when one is here.
  std::vector<mailauth::DkimSigningKey> dkim_keys;
  // Mail to report_address (DSNs for the ingest queue's forwarded copies)
  // goes to report_sink instead of a mailbox; false from the sink: not ours (5.1.1).
  std::string report_address;
  std::function<bool(std::string_view message)> report_sink;
  // Numbers in local_domains without a mailbox here leave for the address
  // ENUM publishes for them as VPIM v2 (E2U+vpim:mailto); no record: a
  // failure DSN (5.1.1), a DNS failure: retried. Unset: 5.1.1 at once.
  std::shared_ptr<const dns::EnumLookup> enum_routes;
  // MX delivery: MX and address lookups through this resolver (the [dns]
  // server, timeouts, a temporary failure on DNS trouble); unset: the
  // system resolver. With mta_sts too, domains' MTA-STS policies are kept.
  std::shared_ptr<dns::Resolver> resolver;
  std::shared_ptr<MtaStsPolicies> mta_sts;
  // Attempts and DSNs are counted here (shared with the SMTP servers').
  std::shared_ptr<SmtpMetrics> metrics = std::make_shared<SmtpMetrics>();
};

class QueueRunner {
 public:
  QueueRunner(QueueRunnerConfig config, DeliveryQueue& queue, mailstore::MailStore& store,
              const mailstore::AccountStore& accounts);
  ~QueueRunner();  // stops the thread after the attempt in progress
  QueueRunner(const QueueRunner&) = delete;
  QueueRunner& operator=(const QueueRunner&) = delete;

  void start();
  void stop();
  void wake();  // something was enqueued or changed: look now
  // SIGHUP: the next pass (and the next retry time it sets) uses it.
  void set_schedule(const RetrySchedule& schedule);

  // One pass over every message that is due; returns how many were
  // attempted. Used by the thread, and by tests without it.
  std::size_t run_once();

  // The E.164 mailbox a DSN (or other queued mail) to `address` goes to,
  // or empty when it is not ours.
  std::string local_mailbox(const std::string& address) const;

  // Queues `message` (a report: DSNs, the fax dialler's) with the null
  // sender and NOTIFY=NEVER to `to`, a mailbox here when it is one of ours,
  // under queue id `id`; then wakes the runner. Throws QueueError/IoError.
  void queue_report(const std::string& id, const std::string& to, std::string_view message);

 private:
  struct Pass;
  void loop(std::stop_token stop);
  void attempt(Pass& pass, QueuedEnvelope envelope);
  std::optional<RecipientRoute> local_route(const std::string& address) const;
  // A connection to the smarthost, or to the first MX host of `domain` that
  // takes one (as its MTA-STS policy allows: next_hop.cpp); nullptr with
  // what went wrong in `errors`.
  std::unique_ptr<RelayConnection> connect_next_hop(const std::string& domain, std::string& errors) const;
  // Points `r` at the address ENUM publishes for `number`, or the reply
  // that settles it (no route: 5.1.1; DNS trouble: 4.4.3, and for the rest
  // of the pass without asking again). An Internet fax (`fax`) follows the
  // number's E2U+ifax:mailto record (RFC 4143), anything else its
  // E2U+vpim:mailto record (RFC 4238).
  std::optional<SmtpReply> follow_enum(Pass& pass, const std::string& id, QueuedRecipient& r,
                                       const std::string& number, bool fax) const;
  // A PBX's voicemail email ([gateway_email.*]) for an ENUM-routed number
  // made VPIM, as it would be for a mailbox here; anything else as it is.
  std::string as_voice_message(const std::string& message, const QueuedEnvelope& envelope,
                               const QueuedRecipient& r) const;

  QueueRunnerConfig config_;
  DeliveryQueue& queue_;
  const mailstore::AccountStore& accounts_;
  const delivery::LocalDelivery local_delivery_;  // after config_: built from its delivery_policy
  std::mutex mutex_;
  std::condition_variable_any wakeup_;
  bool woken_ = false;
  std::jthread thread_;
};

// Backoff after `attempts` failed tries: base * 2^(attempts-1), at most `cap`.
std::chrono::seconds retry_delay(unsigned attempts, std::chrono::seconds base, std::chrono::seconds cap);

}  // namespace umstore::smtp
