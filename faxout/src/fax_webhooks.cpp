#include "faxout/fax_webhooks.hpp"

#include "common/log.hpp"
#include "faxout/fax_status.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

}  // namespace

FaxWebhooks::FaxWebhooks(WebhookConfig config, FaxJobs& jobs) : config_(std::move(config)), jobs_(jobs) {}

FaxWebhooks::~FaxWebhooks() { stop(); }

void FaxWebhooks::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void FaxWebhooks::stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void FaxWebhooks::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void FaxWebhooks::pause(std::stop_token stop, std::chrono::milliseconds most) {
  std::unique_lock lock(mutex_);
  wakeup_.wait_for(lock, stop, most, [this] { return woken_; });
  woken_ = false;
}

void FaxWebhooks::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    bool sent = false;
    try {
      sent = send_next();
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "webhooks: {}", e.what());
    }
    if (!sent) pause(stop, config_.poll_interval);
  }
}

bool FaxWebhooks::send_next() {
  // Claimed for longer than one attempt can take, so no other node sends it meanwhile.
  const auto claim = 2 * config_.post.timeout + std::chrono::seconds(5);
  const auto owed = jobs_.next_webhook(claim);
  if (!owed) return false;
  const auto job = jobs_.find(owed->id);
  if (job && job->state == JobState::pending) {
    // Its end is not recorded yet (a crash between the two): it will be.
    jobs_.webhook_attempted(owed->id, owed->attempts, Clock::now() + config_.poll_interval);
    return true;
  }
  const std::string body = job ? status_json(*job).dump() : nlohmann::json{{"id", owed->id}}.dump();
  const auto error = http::post_json(owed->url, body, config_.post);
  const unsigned attempts = owed->attempts + 1;
  if (!error) {
    log(LogLevel::Info, kLog, "webhook for fax id={} sent to {}", owed->id, owed->url);
    jobs_.webhook_attempted(owed->id, attempts, std::nullopt);
  } else if (attempts >= config_.retry.attempts) {
    log(LogLevel::Warning, kLog, "webhook for fax id={} to {} given up after {} attempts: {}", owed->id, owed->url,
        attempts, *error);
    jobs_.webhook_attempted(owed->id, attempts, std::nullopt);
  } else {
    log(LogLevel::Info, kLog, "webhook for fax id={} to {} failed (attempt {}), retrying: {}", owed->id, owed->url,
        attempts, *error);
    jobs_.webhook_attempted(owed->id, attempts, Clock::now() + config_.retry.wait_after(attempts));
  }
  return true;
}

}  // namespace umstore::faxout
