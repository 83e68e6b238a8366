#include "webhook_sender.hpp"

#include "common/log.hpp"
#include "queued_job.hpp"
#include "status_json.hpp"
#include "http/post_json.hpp"

namespace umstore::ingest {

WebhookSender::WebhookSender(const IngestQueueConfig& config, JobStore& db, IngestMetrics& metrics)
    : config_(config), db_(db), metrics_(metrics) {}

WebhookSender::~WebhookSender() { stop(); }

void WebhookSender::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void WebhookSender::request_stop() { thread_.request_stop(); }

void WebhookSender::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void WebhookSender::run(std::stop_token stop) {
  for (;;) {
    std::optional<OwedWebhook> owed;
    try {
      owed = db_.next_webhook();
    } catch (const std::exception& e) {
      log(LogLevel::Error, kQueueLog, "webhooks: {}", e.what());
    }
    {
      std::unique_lock lock(mutex_);
      if (stop.stop_requested()) return;
      const auto now = now_ms();
      if (!owed || owed->next_ms > now) {
        const auto wait = owed ? std::chrono::milliseconds(owed->next_ms - now) : std::chrono::milliseconds(60000);
        wakeup_.wait_for(lock, stop, wait, [this] { return woken_; });
        woken_ = false;
        continue;
      }
    }
    try {
      send(*owed);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kQueueLog, "webhook for id={}: {}", owed->job_id, e.what());
      // The attempt may not be recorded (the job store is away): not again at once.
      std::unique_lock lock(mutex_);
      wakeup_.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
    }
  }
}

std::chrono::milliseconds WebhookSender::backoff(unsigned attempts) const {
  return http::RetrySchedule{config_.webhook_attempts, config_.webhook_retry_base, config_.webhook_retry_max}.wait_after(
      attempts);
}

void WebhookSender::send(const OwedWebhook& owed) {
  const auto current = db_.status(owed.job_id);
  const std::string body = current ? status_json(*current).dump() : nlohmann::json{{"id", owed.job_id}}.dump();
  const auto error = http::post_json(owed.url, body, {config_.webhook_timeout, config_.webhook_ca_file});
  const unsigned attempts = owed.attempts + 1;
  std::string_view state = "sent";
  std::int64_t next = 0;
  if (error) {
    ++metrics_.webhooks_failed;
    if (attempts >= config_.webhook_attempts) {
      state = "gave_up";
      log(LogLevel::Warning, kQueueLog, "webhook for id={} to {} given up after {} attempts: {}", owed.job_id,
          owed.url, attempts, *error);
    } else {
      state = "pending";
      next = now_ms() + backoff(attempts).count();
      log(LogLevel::Info, kQueueLog, "webhook for id={} to {} failed (attempt {}), retrying: {}", owed.job_id,
          owed.url, attempts, *error);
    }
  } else {
    ++metrics_.webhooks_sent;
    log(LogLevel::Info, kQueueLog, "webhook for id={} sent to {}", owed.job_id, owed.url);
  }
  db_.record_webhook_attempt(owed.seq, attempts, state, next, error.value_or(""));
}

}  // namespace umstore::ingest
