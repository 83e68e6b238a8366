#pragma once
// The webhooks of faxes the HTTP API took: when a job ends its status (the
// body of GET /v1/fax-out/{id}) is POSTed to the request's callback_url, on
// a thread of its own, retried on a schedule until a 2xx. The webhook owed
// is kept with the job's record (fax_jobs.hpp), so neither a restart nor,
// on a shared queue, a node's death loses it.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "faxout/fax_jobs.hpp"
#include "http/post_json.hpp"

namespace umstore::faxout {

struct WebhookConfig {
  http::RetrySchedule retry;
  http::PostOptions post;
  // How often the queue is asked when nothing woke the sender: webhooks
  // another node's jobs owe, and retries of a node gone.
  std::chrono::milliseconds poll_interval = std::chrono::seconds(5);
};

class FaxWebhooks {
 public:
  FaxWebhooks(WebhookConfig config, FaxJobs& jobs);  // `jobs` outlives the sender
  ~FaxWebhooks();  // stop()
  FaxWebhooks(const FaxWebhooks&) = delete;
  FaxWebhooks& operator=(const FaxWebhooks&) = delete;

  void start();
  void stop();  // after the webhook being sent, if any
  void wake();  // a job ended just now

 private:
  void run(std::stop_token stop);
  // false: nothing was due.
  bool send_next();
  void pause(std::stop_token stop, std::chrono::milliseconds most);

  const WebhookConfig config_;
  FaxJobs& jobs_;
  std::mutex mutex_;
  std::condition_variable_any wakeup_;
  bool woken_ = false;
  std::jthread thread_;
};

}  // namespace umstore::faxout
