#pragma once
// The outbound fax queue: one job per number, kept in a directory as
// ID.tif (the pages to send), ID.eml (the message, for the DSN's returned
// content) and ID.json (the job), each fsync'ed and the job renamed into
// place last, so a job on disk always has its pages. Thread-safe.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/delivery_queue.hpp"

namespace umstore::faxout {

using Clock = std::chrono::system_clock;

// relayed: ENUM named an Internet fax address, and the SMTP queue took it.
enum class JobState { pending, sent, failed, relayed };
std::string_view to_string(JobState state) noexcept;

// The last call's outcome, as the DSN and the HTTP status report it.
struct CallReport {
  std::string outcome;         // "sent", "busy", "no_answer", "refused", "t30_failed", "unreachable"
  int sip_status = 0;
  std::string sip_reason;
  std::string t30_result;      // T.30's completion text
  unsigned pages_sent = 0;
  std::string remote_station;  // the receiver's CSI
  std::chrono::milliseconds duration{0};
  bool t38 = false;
  Clock::time_point at{};
};

struct FaxJob {
  std::string id;
  std::string source = "smtp";  // or "http:GATEWAY" for the HTTP API's
  std::string idempotency_key;  // the HTTP API's Idempotency-Key, may be empty
  std::string smtp_id;          // the message's SMTP queue id
  std::string sender;           // envelope sender, empty for <>
  std::string user;             // the submitting mailbox, empty for a trusted network
  std::string address;          // the recipient as accepted
  std::string orcpt;
  smtp::NotifyRequest notify;
  std::string ret, envid, received_from;
  std::string number;           // E.164 dialled
  std::string sub_address;
  unsigned pages = 0;
  JobState state = JobState::pending;
  unsigned attempts = 0;
  Clock::time_point arrival{};
  Clock::time_point next_attempt{};
  std::optional<CallReport> last_call;
  std::string relayed_to;       // the Internet fax address ENUM named
  std::string callback_url;     // the HTTP API's webhook for the end, may be empty
};

// A webhook an ended job owes: its status, POSTed to `url`.
struct OwedWebhook {
  std::string id;
  std::string url;
  unsigned attempts = 0;  // made so far
};

std::string serialise_job(const FaxJob& job);
FaxJob parse_job(std::string_view json);  // throws on damage

// Where fax jobs are kept: files in a directory (one node), or the
// PostgreSQL backend's database, shared by the nodes (a node dials a job
// while it holds its lease; those of a node gone are taken over once their
// leases run out). Every method is thread-safe; errors are IoError or
// FaxQueueError with a message naming where.
class FaxJobs {
 public:
  virtual ~FaxJobs() = default;

  // The pages and message, then the job: durable before it returns (the
  // SMTP server then answers 250).
  virtual void add(const FaxJob& job, std::string_view tiff, std::string_view message) = 0;
  virtual void update(const FaxJob& job) = 0;  // durably
  virtual void remove(std::string_view id) = 0;
  // An ended job (sent, failed, relayed) kept as a record for its status
  // while its pages and message go; with a callback_url, the webhook it
  // owes is kept with it.
  virtual void archive(const FaxJob& job) = 0;
  // A webhook due now, claimed for `claim` (no other node sends it
  // meanwhile), or nullopt.
  virtual std::optional<OwedWebhook> next_webhook(std::chrono::milliseconds claim) = 0;
  // After an attempt: due again at `retry_at`, or done with (nullopt: sent or given up).
  virtual void webhook_attempted(std::string_view id, unsigned attempts, std::optional<Clock::time_point> retry_at) = 0;
  virtual void expire_archive(std::chrono::seconds age) = 0;  // records older than `age` go
  // The job or record a source's Idempotency-Key made, if any.
  virtual std::optional<FaxJob> find_by_key(std::string_view source, std::string_view key) const = 0;
  // The jobs this node should work on, by id (arrival order): every one on
  // one node; on a shared queue those it holds or takes over, leased to it.
  virtual std::vector<FaxJob> take() = 0;
  virtual std::optional<FaxJob> find(std::string_view id) const = 0;  // a job, or a record
  // The jobs not ended yet, whoever holds them, by id (at most `limit`): for admins.
  virtual std::vector<FaxJob> list(std::size_t limit) const = 0;
  // The pages as a file the SIP endpoint reads, until release_pages(id).
  virtual std::filesystem::path pages(std::string_view id) = 0;
  virtual void release_pages(std::string_view id) { (void)id; }
  virtual std::string message(std::string_view id) const = 0;
  // What a crash left half-written; at start, before anything adds.
  virtual void remove_orphans() {}
  virtual std::string location() const = 0;  // for logs: "fax queue directory ..."
};

class FaxQueueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// add() of a job whose source and Idempotency-Key another job has (made on
// another node meanwhile): nothing was added.
class DuplicateRequest : public FaxQueueError {
 public:
  using FaxQueueError::FaxQueueError;
};

// ID.tif, ID.eml and ID.json in `directory`, each fsync'ed, the job renamed
// into place last; ended jobs' records in done/ID.json, the webhooks they
// owe in webhooks/ID.json.
class FileFaxJobs final : public FaxJobs {
 public:
  explicit FileFaxJobs(std::filesystem::path directory);

  void add(const FaxJob& job, std::string_view tiff, std::string_view message) override;
  void update(const FaxJob& job) override;
  void remove(std::string_view id) override;
  void archive(const FaxJob& job) override;
  std::optional<OwedWebhook> next_webhook(std::chrono::milliseconds claim) override;
  void webhook_attempted(std::string_view id, unsigned attempts, std::optional<Clock::time_point> retry_at) override;
  void expire_archive(std::chrono::seconds age) override;
  std::optional<FaxJob> find_by_key(std::string_view source, std::string_view key) const override;
  std::vector<FaxJob> take() override;  // damaged jobs logged and left
  std::optional<FaxJob> find(std::string_view id) const override;
  std::vector<FaxJob> list(std::size_t limit) const override;
  std::filesystem::path pages(std::string_view id) override { return path(id, ".tif"); }
  std::string message(std::string_view id) const override;
  void remove_orphans() override;
  std::string location() const override { return "fax queue directory " + directory_.string(); }

 private:
  std::filesystem::path path(std::string_view id, std::string_view extension) const;
  std::filesystem::path record(std::string_view id) const;
  std::filesystem::path webhook(std::string_view id) const;
  std::filesystem::path directory_;
};

// The jobs in the PostgreSQL backend's database (tables fax_jobs,
// fax_records, fax_request_keys and fax_webhooks, made at start);
// `work_dir` holds the pages of the calls in
// progress on this node. Throws FaxQueueError naming the database.
std::unique_ptr<FaxJobs> open_postgresql_fax_jobs(const std::string& conninfo, const std::string& node_id,
                                                  std::chrono::milliseconds lease, std::filesystem::path work_dir);

}  // namespace umstore::faxout
