#pragma once
// The ingest queue's webhook sender: one thread that POSTs the status JSON
// of each webhook owed (rows the job database writes with the status they
// report) in due order, retrying with exponential backoff. A slow or dead
// receiver delays only other webhooks (bounded by webhook_timeout), never
// ingest.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "ingest/ingest_queue.hpp"
#include "ingest_metrics.hpp"
#include "job_store.hpp"

namespace umstore::ingest {

class WebhookSender {
 public:
  // All three must outlive the sender.
  WebhookSender(const IngestQueueConfig& config, JobStore& db, IngestMetrics& metrics);
  ~WebhookSender();  // stop()
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void start();
  // The thread ends after the webhook it is sending, if any; stop() waits for that.
  void request_stop();
  void stop();
  // A webhook was owed just now.
  void wake();

 private:
  void run(std::stop_token stop);
  void send(const OwedWebhook& owed);
  std::chrono::milliseconds backoff(unsigned attempts) const;

  const IngestQueueConfig& config_;
  JobStore& db_;
  IngestMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable_any wakeup_;  // a stop request wakes it too
  bool woken_ = false;
  std::jthread thread_;
};

}  // namespace umstore::ingest
