// The recognition worker pool: see recognition_pool.hpp.
#include "recognition/recognition_pool.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <exception>

#include "common/log.hpp"

namespace umstore::recognition {
namespace {

// This thread only (Linux schedules threads, not processes): SCHED_IDLE runs
// it only when no other thread wants the core; where that is refused, the
// lowest nice value still yields to everything else.
void lower_this_thread_priority() {
  sched_param param{};
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) return;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, 19) != 0)
    log(LogLevel::Warning, "recognition", "cannot lower the priority of a recognition thread: {}", std::strerror(errno));
}

}  // namespace

std::optional<RecognisedText> PendingText::wait_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  finished_.wait_until(lock, deadline, [this] { return state_ == State::done || state_ == State::failed; });
  if (state_ == State::done) return result_;
  if (state_ == State::failed) return std::nullopt;
  why_ = state_ == State::queued ? "no recognition thread was free in time" : "recognition took longer than the wait";
  state_ = state_ == State::queued ? State::abandoned : state_;
  return std::nullopt;
}

std::string PendingText::why() const {
  std::lock_guard lock(mutex_);
  return why_;
}

RecognitionPool::RecognitionPool(RecognitionPoolConfig config) : config_(config) {
  for (unsigned i = 0; i < std::max(1u, config_.threads); ++i) threads_.emplace_back([this] { work(); });
}

RecognitionPool::~RecognitionPool() {
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    left.swap(queue_);
  }
  changed_.notify_all();
  for (Job& job : left) {
    std::lock_guard lock(job.pending->mutex_);
    job.pending->state_ = PendingText::State::failed;
    job.pending->why_ = "the server is shutting down";
    job.pending->finished_.notify_all();
  }
  threads_.clear();
}

RecognitionPool::KindMetrics& RecognitionPool::metrics_for(const std::string& kind) {
  return kind == "fax" ? fax_ : voice_;
}

std::shared_ptr<PendingText> RecognitionPool::submit(std::string kind, std::function<RecognisedText()> job) {
  auto pending = std::make_shared<PendingText>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= config_.queue_limit) {
      metrics_for(kind).refused.add();
      return nullptr;
    }
    queue_.push_back({std::move(kind), std::move(job), pending});
  }
  changed_.notify_one();
  return pending;
}

std::size_t RecognitionPool::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + running_;
}

void RecognitionPool::work() {
  lower_this_thread_priority();
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    run(job);
    std::lock_guard lock(mutex_);
    --running_;
  }
}

void RecognitionPool::run(Job& job) {
  PendingText& pending = *job.pending;
  {
    std::lock_guard lock(pending.mutex_);
    if (pending.state_ == PendingText::State::abandoned) return;  // its message has gone without text
    pending.state_ = PendingText::State::running;
  }
  KindMetrics& metrics = metrics_for(job.kind);
  RecognisedText result;
  std::string error;
  {
    ScopedLatency timed(metrics.seconds);
    try {
      result = job.run();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!error.empty()) metrics.failures.add();
  std::lock_guard lock(pending.mutex_);
  pending.state_ = error.empty() ? PendingText::State::done : PendingText::State::failed;
  pending.result_ = std::move(result);
  if (!error.empty()) pending.why_ = std::move(error);
  pending.finished_.notify_all();
}

void RecognitionPool::append_metrics(std::string& out) const {
  append_metric(out, "umstore_recognition_queue_depth", MetricType::Gauge,
                "Transcription and fax text jobs queued or running", static_cast<std::uint64_t>(depth()));
  const std::pair<std::string_view, const KindMetrics*> kinds[] = {{"voice", &voice_}, {"fax", &fax_}};
  append_metric_header(out, "umstore_recognition_job_seconds", MetricType::Histogram,
                       "Time per transcription (voice) or fax text recognition (fax) job");
  for (const auto& [kind, metrics] : kinds) metrics->seconds.append_samples(out, "umstore_recognition_job_seconds", label("kind", kind));
  append_metric_header(out, "umstore_recognition_failures_total", MetricType::Counter,
                       "Jobs whose engine failed (the message went without text)");
  for (const auto& [kind, metrics] : kinds)
    append_sample(out, "umstore_recognition_failures_total", label("kind", kind), metrics->failures.value());
  append_metric_header(out, "umstore_recognition_refused_total", MetricType::Counter,
                       "Jobs refused because the queue was full (the message went without text)");
  for (const auto& [kind, metrics] : kinds)
    append_sample(out, "umstore_recognition_refused_total", label("kind", kind), metrics->refused.value());
}

}  // namespace umstore::recognition
