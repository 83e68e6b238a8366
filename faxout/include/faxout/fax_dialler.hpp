#pragma once
// Works off the fax jobs (fax_jobs.hpp) on its own thread: each due job is
// dialled through the SIP endpoint (sip/fax_dialer.hpp), at most
// `max_calls` at once; busy, no answer, an unreachable gateway and failed
// T.30 sessions are tried again on `retry_after` until `max_attempts`. The
// sender hears how it ended by an RFC 3464 DSN with the fax's details,
// queued in the SMTP queue like every other report.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "faxout/fax_jobs.hpp"
#include "dns/enum_lookup.hpp"
#include "sip/fax_dialer.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::faxout {

// RFC 4143: a number whose owner publishes an E2U+ifax:mailto address in
// ENUM gets its fax by mail, as a simple-mode Internet fax, instead of a call.
struct EnumRouting {
  std::shared_ptr<const dns::EnumLookup> lookup;  // null: every fax is dialled
  std::string domain;                             // ours, for the Message-ID
  // Queues the Internet fax in the SMTP queue and wakes its runner; throws
  // when it cannot.
  std::function<void(const smtp::QueuedEnvelope&, std::string_view message)> relay;
};

struct DiallerConfig {
  sip::FaxGateway gateway;
  std::string hostname = "localhost";  // Reporting-MTA of the DSNs
  std::string station_id;              // T.30 TSI when the sender's number is not one (20 characters)
  std::string page_header;             // T.30 page header text, e.g. the company's name
  unsigned max_calls = 4;              // at once, to the gateway
  unsigned max_attempts = 4;
  // The wait before attempt 2, 3, ...; the last one repeats.
  std::vector<std::chrono::seconds> retry_after{std::chrono::seconds(60), std::chrono::seconds(300),
                                                std::chrono::seconds(900)};
  // Most people sending a fax want to know it went through: a success DSN
  // unless NOTIFY said otherwise. false: only with NOTIFY=SUCCESS (RFC 3461).
  bool confirm_success = true;
  std::chrono::seconds poll_interval{5};
  // How long an ended job's record answers GET /v1/fax-out/{id}.
  std::chrono::seconds keep_records{7 * 24 * 3600};
  EnumRouting enum_routing;
  // For a gateway URI naming a domain without a port: its SRV records (RFC
  // 3263 §4.2) and their targets' addresses. Null, or no SRV records: the
  // URI's host on port 5060, as the system resolves it.
  std::shared_ptr<dns::Resolver> resolver;
  // Called once a job ended and its record is kept (its webhook may be owed).
  std::function<void()> ended;
};

// Places one call: the SIP endpoint's send_fax, or anything that dials the same way.
using PlaceCall = std::function<void(sip::OutboundFax, sip::FaxGateway, std::function<void(sip::FaxCallResult)>)>;
// Queues a report with the null sender to `to` (the SMTP queue runner's
// queue_report); throws when it cannot.
using SendReport = std::function<void(const std::string& to, std::string_view message)>;

class FaxDialler {
 public:
  FaxDialler(DiallerConfig config, FaxJobs& jobs, SendReport send_report, PlaceCall place_call);
  ~FaxDialler();  // stop()
  FaxDialler(const FaxDialler&) = delete;
  FaxDialler& operator=(const FaxDialler&) = delete;

  void start();
  // Waits for the calls in progress to end (their results are kept).
  void stop();
  void wake();

 private:
  // Where a job goes, found before its call.
  struct Route {
    std::optional<dns::EnumAnswer> enum_answer;           // with ENUM routing
    std::optional<sip::FaxGateway::NextHop> next_hop;     // the gateway's SRV target
    std::string unreachable;                              // why the gateway could not be found: try again later
  };
  struct Finished {
    std::string id;
    sip::FaxCallResult result;
    std::optional<Route> route;  // set when a route lookup finished, not a call
  };
  // What calls hand back: shared with their callbacks, which may outlive us.
  struct Inbox {
    std::mutex mutex;
    std::condition_variable_any wakeup;
    bool woken = false;
    std::vector<Finished> finished;
  };
  void loop(std::stop_token stop);
  // Dials what is due (up to max_calls); returns when the next job falls due.
  Clock::time_point dial_due_jobs();
  // Before a call, on a thread of its own (a slow DNS server holds up
  // nobody else): ENUM asked for the number's Internet fax address, and
  // DNS for the gateway's SRV target.
  void look_up(const FaxJob& job);
  bool needs_route() const { return config_.enum_routing.lookup || (config_.resolver && gateway_srv_); }
  void settle_route(const std::string& id, const Route& route);
  // After it: the job handed to the SMTP queue when ENUM names an Internet
  // fax address (true), or put off when ENUM cannot be asked (true); false:
  // the number is dialled.
  bool routed_by_enum(FaxJob& job, const dns::EnumAnswer& answer);
  void settle_finished();  // what the calls handed back so far
  void settle(const Finished& finished);
  // After an attempt that did not send: again later, or failed for good.
  void retry_or_fail(FaxJob& job, bool retry_may_help);
  void finish(const FaxJob& job);         // reported (when wanted) and archived
  void archive(const FaxJob& job);        // kept as a record, and `ended` told
  void finish_logged(const FaxJob& job);  // the same, errors logged for the next pass
  void report(const FaxJob& job);

  DiallerConfig config_;
  FaxJobs& jobs_;
  SendReport send_report_;
  PlaceCall place_call_;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::set<std::string> in_flight_;  // calls and lookups; the dialler's thread's own
  std::map<std::string, std::optional<sip::FaxGateway::NextHop>> routed_;  // jobs to dial next, and where
  const std::optional<std::string> gateway_srv_;  // "_sip._udp.gw.example.net", when the URI names a domain
  std::map<std::string, std::jthread> lookups_;  // by job id
  Clock::time_point next_expiry_{};  // of the ended jobs' records
  std::jthread thread_;
};

// The DSN for a job that ended (sent or failed), RFC 3464 with the fax's
// details as extension fields; `message` the fax's email as it was queued.
std::string fax_dsn(const FaxJob& job, std::string_view message, const std::string& hostname,
                    const std::string& message_id);

}  // namespace umstore::faxout
