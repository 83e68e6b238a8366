#include "compose_workers.hpp"

#include <algorithm>


namespace umstore::ingest {
namespace {

// About one lane pass over a 60 s voicemail (bench/codecs).
constexpr auto kLeftToComposingWorker = std::chrono::milliseconds(30);

}  // namespace

ComposeWorkers::ComposeWorkers(const IngestQueueConfig& config, JobStore& db, Handlers handlers)
    : config_(config), db_(db), handlers_(std::move(handlers)), settings_(config.settings) {
  settings_.decode.interruption = interruption_;
}

IngestSettings ComposeWorkers::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void ComposeWorkers::set_codec_limits(const codecs::AudioLimits& voice, const codecs::FaxLimits& fax) {
  std::lock_guard lock(mutex_);
  settings_.voice_limits = voice;
  settings_.fax_limits = fax;
}

ComposeWorkers::~ComposeWorkers() { stop(); }

void ComposeWorkers::schedule(const std::string& id, QueueClock::time_point when, Run run) {
  {
    std::lock_guard lock(mutex_);
    if (waiting_.contains(id) || (run == Run::once && running_.contains(id))) return;
    waiting_.insert(id);
    due_.emplace(when, id);
  }
  changed_.notify_one();
}

void ComposeWorkers::unschedule(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (!waiting_.erase(id)) return;
  std::erase_if(due_, [&](const auto& entry) { return entry.second == id; });
}

void ComposeWorkers::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  interruption_->lower();
  for (unsigned i = 0; i < std::max(1u, config_.workers); ++i) threads_.emplace_back([this] { work(); });
}

// A decode in progress is killed rather than waited for (it may take
// decode_cpu_seconds); its job stays queued for the next start.
void ComposeWorkers::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  interruption_->raise();
  changed_.notify_all();
  threads_.clear();
}

void ComposeWorkers::job_finished(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    --in_progress_;
    running_.erase(id);
  }
  changed_.notify_all();
}

std::uint64_t ComposeWorkers::depth() const {
  std::lock_guard lock(mutex_);
  return due_.size() + in_progress_;
}

bool ComposeWorkers::wait_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] {
    return in_progress_ == 0 && (due_.empty() || due_.begin()->first > QueueClock::now());
  });
}

void ComposeWorkers::work() {
  for (;;) {
    std::vector<std::string> ids;
    {
      std::unique_lock lock(mutex_);
      if (!wait_for_due_jobs(lock)) return;
      ids = take_due_batch();
      in_progress_ += ids.size();
      ++busy_workers_;
    }
    const std::size_t handed_over = run_batch(ids);
    {
      std::lock_guard lock(mutex_);
      in_progress_ -= ids.size() - handed_over;
      --busy_workers_;
    }
    changed_.notify_all();
  }
}

// Under `lock`: true once this worker should take a batch, false when stopping.
bool ComposeWorkers::wait_for_due_jobs(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (stopping_) return false;
    if (!due_.empty() && due_.begin()->first <= QueueClock::now()) {
      // A lone due job is left for a while to the worker already composing,
      // which takes it with whatever else comes meanwhile into one lane
      // pass: at moderate rates that costs less CPU than two jobs composed
      // alone side by side, and so less queueing. Not for longer than a
      // pass takes, should that worker be busy with something long (a
      // large fax).
      const auto left_until = due_.begin()->first + kLeftToComposingWorker;
      if (busy_workers_ == 0 || ready_jobs(2) >= 2 || QueueClock::now() >= left_until) return true;
      changed_.wait_until(lock, left_until);
      continue;
    }
    if (due_.empty()) changed_.wait(lock);
    else changed_.wait_until(lock, due_.begin()->first);
  }
}

// Under `mutex_`: how many jobs are due now, counting up to at_most.
std::size_t ComposeWorkers::ready_jobs(std::size_t at_most) const {
  const auto now = QueueClock::now();
  std::size_t ready = 0;
  for (auto it = due_.begin(); it != due_.end() && it->first <= now && ready < at_most; ++it) ++ready;
  return ready;
}

// Under `mutex_`: the due jobs this worker runs now, at most batch_size,
// sharing them with the idle workers so a few jobs still run in parallel.
// A lane pass (8 or 16 lanes) costs about the same however full it is,
// less than two voicemails encoded one at a time, so two or more due jobs
// share one.
std::vector<std::string> ComposeWorkers::take_due_batch() {
  const std::size_t limit = std::max(1u, config_.batch_size);
  const std::size_t smallest_batch = std::min<std::size_t>(2, limit);
  const std::size_t all = std::max(1u, config_.workers);
  const std::size_t idle = std::max<std::size_t>(1, all - std::min(all, busy_workers_));
  const std::size_t ready = ready_jobs(limit * idle);
  const auto now = QueueClock::now();
  std::size_t share = std::min(limit, std::max<std::size_t>(1, (ready + idle - 1) / idle));
  if (share < smallest_batch) share = 1;
  std::vector<std::string> ids;
  while (ids.size() < share && !due_.empty() && due_.begin()->first <= now) {
    ids.push_back(std::move(due_.begin()->second));
    due_.erase(due_.begin());
    waiting_.erase(ids.back());
    running_.insert(ids.back());
  }
  return ids;
}

// Every job keeps its own outcome: one that cannot be read or composed
// fails alone, the others are stored as if run alone. Returns how many
// jobs were handed over (the others are finished here).
std::size_t ComposeWorkers::run_batch(const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, QueuedJob>> jobs;
  for (const auto& id : ids) {
    with_outcome_errors_logged(id, [&] {
      std::optional<QueuedJob> job;
      try {
        job = db_.load(id);
        if (job) job->recording.file = db_.read_media(id);
      } catch (const JobStoreUnavailable& e) {
        // Not the job's fault: it stays queued, and the lease upkeep offers it again.
        return log(LogLevel::Warning, kQueueLog, "id={} waits for the job store: {}", id, e.what());
      } catch (const std::exception& e) {
        return handlers_.fail(id, std::string("the queued recording cannot be read: ") + e.what());
      }
      if (job && job->state == "queued") jobs.emplace_back(id, std::move(*job));
    });
  }
  {
    std::lock_guard lock(mutex_);
    for (const auto& id : ids)
      if (std::none_of(jobs.begin(), jobs.end(), [&](const auto& job) { return job.first == id; })) running_.erase(id);
  }
  std::vector<const Recording*> recordings;
  for (const auto& [id, job] : jobs) recordings.push_back(&job.recording);
  std::vector<ComposeOutcome> composed = compose_each(recordings);
  std::size_t handed_over = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto& [id, job] = jobs[i];
    if (composed[i].interrupted) {
      log(LogLevel::Info, kQueueLog, "id={} stays queued: the server stopped while it was decoded", id);
      std::lock_guard lock(mutex_);
      running_.erase(id);
      continue;
    }
    job.recording.file = {};  // no longer needed once composed
    handlers_.hand_over({std::move(id), std::move(job), std::move(composed[i])});
    ++handed_over;
  }
  return handed_over;
}

// Side by side; should the batch as a whole fail (memory), one at a time,
// so every job still gets its own outcome.
std::vector<ComposeOutcome> ComposeWorkers::compose_each(std::span<const Recording* const> recordings) const {
  const IngestSettings settings = this->settings();
  try {
    return compose_batch(recordings, settings);
  } catch (const std::exception& e) {
    log(LogLevel::Warning, kQueueLog, "composing {} recordings together failed ({}); composing them one by one",
        recordings.size(), e.what());
  }
  std::vector<ComposeOutcome> outcomes(recordings.size());
  for (std::size_t i = 0; i < recordings.size(); ++i) {
    try {
      outcomes[i].message = compose(*recordings[i], settings);
    } catch (const DecodeInterrupted&) {
      outcomes[i].interrupted = true;
    } catch (const std::exception& e) {
      outcomes[i].error = e.what();
    }
  }
  return outcomes;
}

}  // namespace umstore::ingest
