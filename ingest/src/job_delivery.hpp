#pragma once
// The ingest queue's job delivery: storer threads that put composed
// messages into their mailboxes (disk writes, fsyncs) while the workers
// compose the next ones, and record each job's outcome: delivered, failed,
// or queued again after a temporary failure. Also the recovery of jobs a
// crash interrupted while being stored.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "compose_workers.hpp"
#include "delivery/local_delivery.hpp"
#include "forwarding.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest_metrics.hpp"
#include "job_store.hpp"
#include "queued_job.hpp"
#include "webhook_sender.hpp"

namespace umstore::mailstore {
class MailStore;
}

namespace umstore::ingest {

// What the store step puts into a mailbox.
struct StoreRequest {
  std::string ingest_id;            // marks the attempt; recovery looks for it
  std::string sender;               // the envelope sender; empty: the null sender
  std::string recipient_number;     // E.164
  std::string source;               // who handed the recording over, for Received
  std::string message;              // as composed, CRLF
};

class JobDelivery {
 public:
  // The parts of the queue this one uses; all must outlive it.
  struct Parts {
    const IngestQueueConfig& config;
    mailstore::MailStore& store;
    JobStore& db;
    ComposeWorkers& workers;
    Forwarding& forwarding;
    WebhookSender& webhooks;
    IngestMetrics& metrics;
  };
  explicit JobDelivery(Parts parts);
  ~JobDelivery();  // stop()
  JobDelivery(const JobDelivery&) = delete;
  JobDelivery& operator=(const JobDelivery&) = delete;

  // Called with each final status; set before start().
  void on_final(IngestQueue::FinalListener listener);

  // Before start(): jobs marked delivering when the process died are either
  // found in their mailbox (and finished) or queued again.
  void recover_interrupted();
  void start();
  // Stores what was handed over, then stops.
  void stop();

  // From a compose worker; waits while the storers are far behind, which
  // bounds the composed messages held in memory.
  void hand_over(ComposedJob&& composed);
  void fail(const std::string& id, const std::string& reason);

 private:
  void store_handed_over();
  void deliver_and_finish(const std::string& id, const QueuedJob& job, ComposedMessage& message);
  std::string enum_address(const std::string& number) const;
  void queue_for_enum(const std::string& id, const QueuedJob& job, const ComposedMessage& message,
                      const std::string& address);
  delivery::RecipientResult store_message(const StoreRequest& request);
  std::string trace_headers(const std::string& id, const QueuedJob& job) const;
  void finish_delivered(const std::string& id, const QueuedJob& job, const std::string& composed, std::uint32_t uid,
                        const std::string& forward_to);
  void retry_or_fail(const std::string& id, const QueuedJob& job, const std::string& reason);
  void finish(const std::string& id, IngestState state, const std::string& reason, std::uint32_t uid,
              const std::string& forwarded_to = {});

  void finish_recovered(const std::string& id, const std::string& number, std::uint32_t uid);
  std::uint32_t find_delivered_uid(const std::string& id, const std::string& number, std::uint32_t uid_next) const;
  std::vector<std::string> candidate_folders(const std::string& number) const;
  delivery::MailboxProfile profile_of(const std::string& number) const;

  Parts parts_;
  const delivery::LocalDelivery local_delivery_;
  IngestQueue::FinalListener listener_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ComposedJob> to_store_;
  bool stopping_ = false;
  std::vector<std::jthread> storers_;
};

}  // namespace umstore::ingest
