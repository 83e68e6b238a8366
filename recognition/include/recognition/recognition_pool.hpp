#pragma once
// The threads transcription and fax text recognition run on: CPU-heavy work
// kept away from protocol work. Its threads run at the lowest priority
// (SCHED_IDLE, else nice 19) so IMAP, SMTP and ingest composing come first,
// and its queue is bounded: when full, a message goes without text at once
// instead of waiting behind a backlog. A caller waits for a job's text up
// to a deadline of its own and may then give up on it; a job given up on
// before it starts is not run.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics_text.hpp"

namespace umstore::recognition {

// What a job recognised: the text, and for a fax the first lines of page 1.
struct RecognisedText {
  std::string text;
  std::string first_lines;
};

// One submitted job, shared by the pool and the caller waiting for it.
class PendingText {
 public:
  // The text once the job finished in time; nullopt when it failed (why())
  // or the deadline passed first (why() says so; the job is given up on).
  std::optional<RecognisedText> wait_until(std::chrono::steady_clock::time_point deadline);
  std::string why() const;

 private:
  friend class RecognitionPool;
  enum class State { queued, running, done, failed, abandoned };
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  State state_ = State::queued;
  RecognisedText result_;
  std::string why_;
};

struct RecognitionPoolConfig {
  unsigned threads = 1;
  std::size_t queue_limit = 32;  // jobs waiting; more are refused
};

class RecognitionPool {
 public:
  explicit RecognitionPool(RecognitionPoolConfig config);
  ~RecognitionPool();  // finishes the running jobs; queued ones fail ("shutting down")
  RecognitionPool(const RecognitionPool&) = delete;
  RecognitionPool& operator=(const RecognitionPool&) = delete;

  // Queues `job` (`kind` labels its metrics: "voice", "fax"); nullptr when
  // the queue is full. The job may throw: its message becomes why().
  std::shared_ptr<PendingText> submit(std::string kind, std::function<RecognisedText()> job);

  std::size_t depth() const;  // queued and running
  // umstore_recognition_* lines for /metrics.
  void append_metrics(std::string& out) const;

 private:
  struct Job {
    std::string kind;
    std::function<RecognisedText()> run;
    std::shared_ptr<PendingText> pending;
  };
  struct KindMetrics {
    LatencyHistogram seconds;
    Counter failures;
    Counter refused;
  };
  void work();
  void run(Job& job);
  KindMetrics& metrics_for(const std::string& kind);

  RecognitionPoolConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  KindMetrics voice_, fax_;
  std::vector<std::jthread> threads_;
};

}  // namespace umstore::recognition
