#pragma once
// The durable ingest queue: the single point of durability between a
// gateway and the mailstore (Postfix's idea). submit() returns only after
// the recording and its metadata are durable (fsync'ed file and SQLite
// commit, or a PostgreSQL commit),
// so whoever answers the gateway may do so right after it. Worker threads
// transcode, compose and deliver; every job ends delivered or failed with a
// reason, and queued jobs resume after a restart.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery/local_delivery_policy.hpp"
#include "ingest/pipeline.hpp"

namespace umstore::mailstore {
class MailStore;
}

namespace umstore::ingest {

enum class IngestState { Queued, Delivered, Failed };
std::string_view state_name(IngestState state) noexcept;

struct SubmitOptions {
  std::string source = "api";       // who handed it over: "http:<gateway>", "spool", "import", "sip"
  std::string idempotency_key;      // empty: none; unique per source
  std::string callback_url;         // webhook for the final status; may be empty
  std::string origin;               // opaque to the queue (the spool keeps the file name here)
};

// A DSN's per-recipient fields (RFC 3464 §2.3) for a forwarded copy.
struct DeliveryReport {
  std::string action;               // failed, delayed, delivered, relayed, expanded
  std::string status;               // "5.1.1"
  std::string diagnostic_code;      // "smtp; 550 5.1.1 user unknown"
  std::string final_recipient;      // "rfc822; someone@example.com"
  std::string remote_mta;
  bool empty() const noexcept { return action.empty(); }
};

// The Original-Envelope-Id and the first recipient's fields of a DSN
// (RFC 3464 message/delivery-status); nullopt when the message has none.
std::optional<std::pair<std::string, DeliveryReport>> parse_delivery_report(std::string_view message);

struct IngestStatus {
  std::string id;
  IngestState state = IngestState::Queued;
  Kind kind = Kind::Voice;
  std::string mailbox;              // E.164
  std::string reason;               // failed: why; queued: the last temporary error, if any
  std::uint32_t uid = 0;            // IMAP UID in INBOX once delivered
  std::string source;
  std::string origin;
  std::string callback_url;
  std::int64_t accepted_ms = 0;     // Unix time in milliseconds
  std::int64_t finished_ms = 0;     // 0 while queued
  // Forwarding to the mailbox's email address, and what the last DSN for
  // that copy said (RFC 3464 per-recipient fields); empty when none came.
  std::string forwarded_to;
  DeliveryReport dsn;
};

struct SubmitResult {
  std::string id;
  bool duplicate = false;           // the idempotency key was seen before: nothing new was queued
};

// A copy of a delivered message for the mailbox's email address, or the
// message itself for a number routed by ENUM. The ingest id travels as the
// ENVID, so DSNs find their way back (apply_report).
struct ForwardRequest {
  std::string id;                   // the ingest id (ENVID)
  std::string to;                   // the email address (number@domain for ENUM)
  std::string rfc822;               // CRLF line ends
};

struct IngestQueueConfig {
  std::filesystem::path dir;        // <data>/ingest: the jobs when there is no database
  // The PostgreSQL backend's connection string: jobs, recordings and
  // webhooks owed are kept in its database and shared by every node (a node
  // runs a job while it holds its lease; the jobs of a node gone are taken
  // over once their leases run out). Empty: kept in `dir`, for this node.
  std::string postgresql_dsn;
  std::size_t postgresql_pool_size = 4;  // its connections, per process
  std::string node_id;              // this node's name in leases ([cluster] node_id)
  std::chrono::milliseconds lease = std::chrono::seconds(30);
  IngestSettings settings;
  // The mailbox's stored forms and folders (`umstore mailbox set`, delivery/);
  // unset: the composed form (WAV) in INBOX.
  std::function<delivery::MailboxProfile(std::string_view number)> mailbox_profiles;
  unsigned workers = 2;
  // A worker takes up to this many due jobs at once and encodes their voice
  // side by side (compose_batch); a lone due job still runs alone at once.
  unsigned batch_size = 8;
  // Temporary failures (mailbox over quota, I/O errors) are retried after
  // these delays in turn (the last repeats) until max_age.
  std::chrono::seconds max_age = std::chrono::hours(24);
  std::vector<std::chrono::milliseconds> retry_intervals = {std::chrono::seconds(60)};
  // Webhooks (the job's callback_url) for final statuses: retried with
  // exponential backoff from webhook_retry_base up to webhook_retry_max, at
  // most webhook_attempts times; sent by one thread, never blocking ingest.
  unsigned webhook_attempts = 10;
  std::chrono::milliseconds webhook_retry_base = std::chrono::seconds(5);
  std::chrono::milliseconds webhook_retry_max = std::chrono::minutes(10);
  std::chrono::milliseconds webhook_timeout = std::chrono::seconds(10);
  // CA certificates (PEM) trusted for https:// webhooks besides the system CAs; empty: none.
  std::filesystem::path webhook_ca_file;
  // The mailbox's email address for a copy of each delivered message; empty
  // or unset: no forwarding.
  std::function<std::string(std::string_view number)> forward_address;
  // Queues the copy for relaying (durably, before it returns). Throws on failure.
  std::function<void(const ForwardRequest&)> forward;
  // For a number with no mailbox here (Route::by_enum), the address whose
  // queue entry follows the number's ENUM route (number@domain: the SMTP
  // queue asks ENUM for its E2U+vpim:mailto or, for a fax, E2U+ifax:mailto
  // record); empty or unset: none, and such a job fails. Asked at delivery,
  // so a mailbox made since wins.
  std::function<std::string(std::string_view number)> enum_address;
};

// Counters for /metrics; monotonic since the process started, except depth.
struct IngestCounters {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t depth = 0;                       // jobs waiting or in progress
  std::uint64_t webhooks_sent = 0;
  std::uint64_t webhooks_failed = 0;             // attempts that failed (each retry counts)
  std::uint64_t webhooks_pending = 0;
  std::vector<double> latency_bounds;            // seconds, ascending (histogram "le")
  std::vector<std::uint64_t> latency_buckets;    // cumulative counts per bound
  std::uint64_t latency_count = 0;
  double latency_sum = 0;                        // seconds from accept to delivered
};

// A job removed for a data-protection request (umstore privacy erase).
struct ErasedJob {
  std::string id;
  std::string state;  // queued, delivered, failed
  std::string kind;   // voice, fax
  std::int64_t accepted_ms = 0;
};

class IngestQueueError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class IngestQueue {
 public:
  IngestQueue(IngestQueueConfig config, mailstore::MailStore& store);
  ~IngestQueue();  // stop()
  IngestQueue(const IngestQueue&) = delete;
  IngestQueue& operator=(const IngestQueue&) = delete;

  // Called from a storer thread with each job's final status (after it is
  // recorded), until stop() returns: what it uses must outlive that. Must be
  // set before start().
  using FinalListener = std::function<void(const IngestStatus&)>;
  void on_final(FinalListener listener);

  // Resumes queued jobs (also those interrupted during delivery, without
  // delivering any twice) and starts the workers.
  void start();
  // Stores what is already composed, then stops; queued jobs stay on disk.
  void stop();

  // Durable when it returns. Thread-safe. Throws IngestQueueError (disk).
  SubmitResult submit(const Recording& recording, const SubmitOptions& options);
  // The same for a recording in a file (recording.file is not used), which
  // must not change any more: the queue hard-links it (copies it across file
  // systems) instead of writing its bytes again. For the spool.
  SubmitResult submit_file(const Recording& recording, const std::filesystem::path& file,
                           const SubmitOptions& options);
  std::optional<IngestStatus> status(std::string_view id) const;
  // Why `mailbox` cannot take a recording of `kind` now (a quota limit is
  // reached already), or nullopt: refused at submission instead of accepted
  // and failed later. Blocking (reads the store).
  std::optional<std::string> quota_refusal(std::string_view mailbox, Kind kind) const;
  // The job of (source, idempotency key), if any.
  std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key) const;

  // For the administrator (the console): the jobs waiting and failed, with
  // their reasons, newest first. Blocking (reads the job store).
  std::vector<IngestStatus> open_jobs(std::size_t limit) const;
  // A failed job queued again with its kept recording and run now, by a
  // running queue. False when no failed job has this id. Blocking.
  bool retry_failed(std::string_view id);
  // A queued or failed job and its recording (the original the gateway
  // sent) removed for good; a queued one is never delivered. False when no
  // queued or failed job has this id (one being stored this moment is
  // finished: erase its message in the mailbox). Blocking.
  bool remove(std::string_view id);

  // A DSN (multipart/report) for a forwarded copy: its Original-Envelope-Id
  // names the job, whose status takes the report's fields; a failure makes
  // the job failed. False when the message is no DSN of ours.
  bool apply_report(std::string_view message);

  // Every job whose caller is `caller_number` removed, with its recording
  // (queued, or kept because it failed) and the webhooks it owes; a job
  // removed while queued is never delivered. One being delivered at this
  // moment is left (its message is in the mailbox: erase there, then again
  // here). dry_run: lists them only. Works without start().
  std::vector<ErasedJob> erase_caller(std::string_view caller_number, bool dry_run);

  // SIGHUP: recordings composed from now on are held to these ([codecs]).
  void set_codec_limits(const codecs::AudioLimits& voice, const codecs::FaxLimits& fax);

  IngestCounters counters() const;
  // Blocks until no job is waiting or in progress (or the timeout passes); for the CLI and tests.
  bool wait_idle(std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::ingest
