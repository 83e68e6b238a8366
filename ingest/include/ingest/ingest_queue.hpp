#pragma once
// The durable ingest queue: the single point of durability between a
// gateway and the mailstore (Postfix's idea). submit() returns only after
// the recording and its metadata are on disk (fsync'ed file, SQLite commit),
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
#include <vector>

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
};

struct SubmitResult {
  std::string id;
  bool duplicate = false;           // the idempotency key was seen before: nothing new was queued
};

struct IngestQueueConfig {
  std::filesystem::path dir;        // <data>/ingest
  IngestSettings settings;
  unsigned workers = 2;
  // Temporary failures (mailbox over quota, I/O errors) are retried this long.
  std::chrono::seconds retry_for = std::chrono::hours(24);
  std::chrono::milliseconds retry_delay = std::chrono::seconds(60);
};

// Counters for /metrics; monotonic since the process started, except depth.
struct IngestCounters {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t depth = 0;                       // jobs waiting or in progress
  std::vector<double> latency_bounds;            // seconds, ascending (histogram "le")
  std::vector<std::uint64_t> latency_buckets;    // cumulative counts per bound
  std::uint64_t latency_count = 0;
  double latency_sum = 0;                        // seconds from accept to delivered
};

class IngestQueueError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class IngestQueue {
 public:
  IngestQueue(IngestQueueConfig config, mailstore::MailStore& store);
  ~IngestQueue();  // stops the workers; queued jobs stay on disk
  IngestQueue(const IngestQueue&) = delete;
  IngestQueue& operator=(const IngestQueue&) = delete;

  // Called from a worker thread with each job's final status (after it is
  // recorded). Must be set before start().
  using FinalListener = std::function<void(const IngestStatus&)>;
  void on_final(FinalListener listener);

  // Resumes queued jobs (also those interrupted during delivery, without
  // delivering any twice) and starts the workers.
  void start();
  void stop();

  // Durable when it returns. Thread-safe. Throws IngestQueueError (disk).
  SubmitResult submit(const Recording& recording, const SubmitOptions& options);
  std::optional<IngestStatus> status(std::string_view id) const;
  // The job of (source, idempotency key), if any.
  std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key) const;

  IngestCounters counters() const;
  // Blocks until no job is waiting or in progress (or the timeout passes); for the CLI and tests.
  bool wait_idle(std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::ingest
