#pragma once
// Copies of delivered messages for the mailbox's email address, and the
// DSNs that come back for them. The ingest id travels as the copy's ENVID,
// so a DSN names the job whose status takes its fields.
#include <string>
#include <string_view>

#include "ingest/ingest_queue.hpp"
#include "job_store.hpp"
#include "webhook_sender.hpp"

namespace umstore::ingest {

class Forwarding {
 public:
  // All three must outlive this.
  Forwarding(const IngestQueueConfig& config, JobStore& db, WebhookSender& webhooks);

  // The mailbox's email address; empty: no copy (none set, no forwarder, or
  // the lookup failed).
  std::string address_for(const std::string& number) const;
  // Queues the copy (message with its trace headers). One that cannot be
  // queued is recorded as the job's reason, not retried: the message is in
  // the mailbox.
  void forward(const std::string& id, const std::string& to, std::string message);
  // IngestQueue::apply_report.
  bool apply_report(std::string_view message);

 private:
  const IngestQueueConfig& config_;
  JobStore& db_;
  WebhookSender& webhooks_;
};

}  // namespace umstore::ingest
